"""Nova Corrente demand forecasting: per-series model selection for spare parts.

Long-format data in and out (``unique_id``, ``ds``, ``y``); candidates behind one
``fit(panel, rows)`` / ``predict(h)`` shape; rolling-origin backtests scored by RMSSE; intervals
from backtest errors. Pure Python: no Airflow imports; the warehouse step lives in
:mod:`nova_forecast.warehouse`, the command line in :mod:`nova_forecast.cli`.

    from nova_forecast import EngineConfig, forecast
    result = forecast(df, EngineConfig(horizon=28))
    result.forecasts  # unique_id, ds, model, demand_class, yhat, yhat_lo_80, ..., yhat_q99
"""

from __future__ import annotations

from nova_forecast._version import __version__
from nova_forecast.classify import classify, classify_values
from nova_forecast.data import InputError, Panel, fingerprint, load_panel, read_frame, validate_long, write_frame
from nova_forecast.engine import (
    ALL_MODELS,
    DEFAULT_MODELS,
    Backtest,
    EngineConfig,
    ForecastResult,
    backtest,
    forecast,
    select_models,
)

__all__ = [
    "ALL_MODELS", "DEFAULT_MODELS", "Backtest", "EngineConfig", "ForecastResult", "InputError", "Panel",
    "__version__", "backtest", "classify", "classify_values", "fingerprint", "forecast", "load_panel",
    "read_frame", "select_models", "validate_long", "write_frame",
]
