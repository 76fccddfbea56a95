"""Short-term arrival forecasts per facility × department × hour, and their backtest.

The model is statsmodels' ETS (:class:`statsmodels.tsa.exponential_smoothing.ets.ETSModel`):
additive error, no trend, additive daily season (24 hours), heuristic initial states, so only
the two smoothing weights are estimated (maximum likelihood). Prediction intervals are the
model's analytic ones, cut at 0 (arrivals cannot be negative).

The backtest holds out the last ``holdout_h`` hours, fits on the rest and scores forecasts of
the held-out hours against the seasonal-naive forecast (the value 24 hours earlier, repeated)
with the mean absolute scaled error (Hyndman & Koehler 2006)::

    MASE = mean |y_t − ŷ_t| / mean_{t in training} |y_t − y_{t−24}|

below 1 beats the in-sample seasonal-naive forecast; the two MASEs share one scale, so their
ratio compares the methods directly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from accessplan.errors import InputError

__all__ = ["SEASON_H", "backtest", "forecast_arrivals", "mase", "seasonal_naive"]

#: Seasonal period of the hourly series (hours).
SEASON_H = 24


def _series(kpis: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """Hourly arrivals of each facility × department (a regular UTC hourly index)."""
    for col in ("facility_id", "department", "hour", "arrivals"):
        if col not in kpis.columns:
            raise InputError(f"KPI table lacks column {col!r}; pass hourly_kpis(db)")
    out = {}
    for key, part in kpis.groupby(["facility_id", "department"], sort=True):
        s = part.set_index("hour")["arrivals"].astype(float).sort_index()
        out[(str(key[0]), str(key[1]))] = s.asfreq("h", fill_value=0.0)
    return out


def _fit(y: pd.Series) -> object:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    if len(y) < 2 * SEASON_H + 1:
        raise InputError(
            f"forecasting needs at least {2 * SEASON_H + 1} hours of data, got {len(y)}; "
            "ingest more days"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on sparse series
        model = ETSModel(
            y,
            error="add",
            trend=None,
            seasonal="add",
            seasonal_periods=SEASON_H,
            initialization_method="heuristic",
        )
        return model.fit(disp=False, maxiter=200)


def _predict(fitted: object, steps: int, level: float) -> pd.DataFrame:
    res = fitted
    n = int(res.model.nobs)  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = res.get_prediction(start=n, end=n + steps - 1).summary_frame(  # type: ignore[attr-defined]
            alpha=1 - level
        )
    return pd.DataFrame(
        {
            "forecast": frame["mean"].clip(lower=0).to_numpy(),
            "lower": frame["pi_lower"].clip(lower=0).to_numpy(),
            "upper": frame["pi_upper"].clip(lower=0).to_numpy(),
        }
    )


def _active(series: dict[tuple[str, str], pd.Series], min_arrivals: float) -> dict:
    return {k: s for k, s in series.items() if s.sum() >= min_arrivals}


def forecast_arrivals(
    kpis: pd.DataFrame, *, horizon_h: int = 24, level: float = 0.9, min_arrivals: float = 30
) -> pd.DataFrame:
    """Forecast hourly arrivals for the ``horizon_h`` hours after the data, per unit.

    Parameters
    ----------
    kpis
        :func:`~accessplan.flows.kpis.hourly_kpis` output.
    horizon_h
        Hours ahead (hours).
    level
        Coverage of the prediction interval (0.9: 5 % to 95 %).
    min_arrivals
        Units with fewer arrivals (visits) over the data are not forecast.

    Returns
    -------
    pandas.DataFrame
        ``facility_id``, ``department``, ``hour`` (UTC), ``forecast``, ``lower``, ``upper``
        (arrivals/hour).
    """
    if horizon_h < 1 or not 0 < level < 1:
        raise InputError("horizon_h must be >= 1 and level in (0, 1)")
    rows = []
    for (fid, dep), y in _active(_series(kpis), min_arrivals).items():
        pred = _predict(_fit(y), horizon_h, level)
        pred.insert(0, "hour", pd.date_range(y.index[-1], periods=horizon_h + 1, freq="h")[1:])
        pred.insert(0, "department", dep)
        pred.insert(0, "facility_id", fid)
        rows.append(pred)
    if not rows:
        raise InputError(f"no unit has {min_arrivals} arrivals or more to forecast")
    return pd.concat(rows, ignore_index=True)


def seasonal_naive(train: np.ndarray, steps: int, season: int = SEASON_H) -> np.ndarray:
    """The last season of ``train`` repeated over ``steps`` hours."""
    last = np.asarray(train, dtype=float)[-season:]
    return np.resize(last, steps)


def mase(
    actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, season: int = SEASON_H
) -> float:
    """Mean absolute scaled error of ``predicted`` against ``actual`` (scale from ``train``)."""
    train = np.asarray(train, dtype=float)
    scale = np.mean(np.abs(train[season:] - train[:-season]))
    if not scale > 0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(predicted))) / scale)


def backtest(
    kpis: pd.DataFrame, *, holdout_h: int = 168, level: float = 0.9, min_arrivals: float = 30
) -> pd.DataFrame:
    """ETS against seasonal naive on the last ``holdout_h`` hours of each unit.

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``arrivals`` (visits in the holdout), ``mase_ets``,
        ``mase_seasonal_naive``, ``mae_ets``, ``mae_seasonal_naive`` (arrivals/hour) and
        ``interval_coverage`` (share of held-out hours inside the ETS interval).
    """
    rows = []
    for (fid, dep), y in _active(_series(kpis), min_arrivals).items():
        if len(y) <= holdout_h + 2 * SEASON_H:
            raise InputError(
                f"backtest needs more than {holdout_h + 2 * SEASON_H} hours, got {len(y)}; "
                "shorten holdout_h or ingest more days"
            )
        train, test = y.iloc[:-holdout_h], y.iloc[-holdout_h:].to_numpy()
        pred = _predict(_fit(train), holdout_h, level)
        naive = seasonal_naive(train.to_numpy(), holdout_h)
        inside = (test >= pred["lower"].to_numpy()) & (test <= pred["upper"].to_numpy())
        rows.append(
            {
                "facility_id": fid,
                "department": dep,
                "arrivals": float(test.sum()),
                "mase_ets": mase(test, pred["forecast"].to_numpy(), train.to_numpy()),
                "mase_seasonal_naive": mase(test, naive, train.to_numpy()),
                "mae_ets": float(np.mean(np.abs(test - pred["forecast"].to_numpy()))),
                "mae_seasonal_naive": float(np.mean(np.abs(test - naive))),
                "interval_coverage": float(inside.mean()),
            }
        )
    if not rows:
        raise InputError(f"no unit has {min_arrivals} arrivals or more to backtest")
    return pd.DataFrame(rows)
