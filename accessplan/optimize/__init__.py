"""Location-allocation models: where to add clinics, robotic and digital units."""

from accessplan.optimize.plan import Plan

__all__ = ["Plan"]
