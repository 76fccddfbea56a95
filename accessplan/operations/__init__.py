"""Operations: rolling-horizon allocation of staff, beds and mobile units across a network.

The multi-period model (:mod:`~accessplan.operations.model`) built as arrays for HiGHS and
solved by :func:`solve_operations` (blocks of types apart and in threads, each through its
compact form, :mod:`~accessplan.operations.compact`; honest status and gap, shadow
prices for LPs and fixed-integer MIPs, :mod:`~accessplan.operations.duals`); the loop that
re-plans as forecasts change (:func:`rolling_horizon`); robust plans
(:mod:`~accessplan.operations.robust`); demand streams with surges, from simulated patient
flows through the flows database (:func:`patient_flow_stream`) or Poisson
(:func:`simulate_stream`); policies side by side (:func:`evaluate_policies`); the offline
report (:func:`operations_report`) and the ``accessplan operate`` command
(:mod:`~accessplan.operations.scenario`).
"""

from accessplan.operations.duals import finite_difference_duals, pool_value_table
from accessplan.operations.evaluate import POLICIES, Evaluation, evaluate_policies, run_metrics
from accessplan.operations.flow_stream import patient_flow_stream, random_outbreaks
from accessplan.operations.model import Arcs, OperationsProblem, ResourceType, build_arrays
from accessplan.operations.report import operations_report
from accessplan.operations.robust import buffered_demand, quantile_scenarios, sample_scenarios
from accessplan.operations.rolling import (
    Forecast,
    Network,
    RollingConfig,
    RollingResult,
    State,
    proportional_allocation,
    rolling_horizon,
)
from accessplan.operations.solve import OperationsPlan, solve_operations
from accessplan.operations.streams import DemandStream, Surge, simulate_stream
from accessplan.operations.synthetic import (
    default_types,
    facility_minutes,
    network_from_minutes,
    region_network,
    synthetic_network,
)

__all__ = [
    "POLICIES",
    "Arcs",
    "DemandStream",
    "Evaluation",
    "Forecast",
    "Network",
    "OperationsPlan",
    "OperationsProblem",
    "ResourceType",
    "RollingConfig",
    "RollingResult",
    "State",
    "Surge",
    "buffered_demand",
    "build_arrays",
    "default_types",
    "evaluate_policies",
    "facility_minutes",
    "finite_difference_duals",
    "network_from_minutes",
    "operations_report",
    "patient_flow_stream",
    "pool_value_table",
    "proportional_allocation",
    "quantile_scenarios",
    "random_outbreaks",
    "region_network",
    "rolling_horizon",
    "run_metrics",
    "sample_scenarios",
    "simulate_stream",
    "solve_operations",
    "synthetic_network",
]
