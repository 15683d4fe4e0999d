"""Syntetos-Boylan demand classes: smooth, erratic, intermittent, lumpy.

* ADI, the average demand interval: the mean number of periods between consecutive non-zero
  demands, the first interval counted from the start of the series (Croston's convention), so
  ``[0, 0, 3, 0, 0, 3]`` has intervals 3 and 3 and ADI 3.
* CV², the squared coefficient of variation of the non-zero demand sizes (population variance
  over squared mean), 0 with a single demand.

Cut-offs (Syntetos, Boylan and Croston 2005): ADI 1.32 and CV² 0.49.

===========  ============  ==========
             CV² < 0.49    CV² >= 0.49
===========  ============  ==========
ADI < 1.32   smooth        erratic
ADI >= 1.32  intermittent  lumpy
===========  ============  ==========

A series without any demand is ``no_demand``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nova_forecast.data import Panel

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "no_demand")
INTERMITTENT_CLASSES = frozenset({"intermittent", "lumpy", "no_demand"})


def adi_cv2(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ADI and CV² of each row of a (n, T) matrix (NaN = before the series starts).

    Rows without demand get ``inf`` ADI and ``nan`` CV².
    """
    matrix = np.atleast_2d(np.asarray(values, dtype="float64"))
    observed = ~np.isnan(matrix)
    demand = observed & (matrix > 0)
    count = demand.sum(axis=1)
    start = np.argmax(observed, axis=1)
    width = matrix.shape[1]
    last = width - 1 - np.argmax(demand[:, ::-1], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        adi = np.where(count > 0, (last - start + 1) / count, np.inf)
        sizes = np.where(demand, matrix, 0.0)
        mean = sizes.sum(axis=1) / count
        var = np.where(demand, (matrix - mean[:, None]) ** 2, 0.0).sum(axis=1) / count
        cv2 = np.where(count > 0, var / mean**2, np.nan)
    return adi, cv2


def label(adi: np.ndarray, cv2: np.ndarray) -> np.ndarray:
    """Class names for arrays of ADI and CV²."""
    adi = np.asarray(adi, dtype="float64")
    cv2 = np.asarray(cv2, dtype="float64")
    frequent = adi < ADI_CUTOFF
    stable = cv2 < CV2_CUTOFF
    names = np.where(frequent, np.where(stable, "smooth", "erratic"), np.where(stable, "intermittent", "lumpy"))
    return np.where(np.isfinite(adi), names, "no_demand").astype(object)


def classify_values(values: np.ndarray | list[float]) -> str:
    """Class of one series given as a sequence of quantities."""
    adi, cv2 = adi_cv2(np.asarray(values, dtype="float64")[None, :])
    return str(label(adi, cv2)[0])


def classify_panel(panel: Panel) -> pd.DataFrame:
    """One row per series: unique_id, adi, cv2, demand_class, nonzero_share, total."""
    adi, cv2 = adi_cv2(panel.values)
    observed = ~np.isnan(panel.values)
    nonzero = ((panel.values > 0) & observed).sum(axis=1)
    return pd.DataFrame(
        {
            "unique_id": panel.ids.astype(str),
            "adi": adi,
            "cv2": cv2,
            "demand_class": label(adi, cv2),
            "nonzero_share": nonzero / np.maximum(observed.sum(axis=1), 1),
            "total": np.nansum(panel.values, axis=1),
        }
    )


def classify(df: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Classes of the series of a long frame (unique_id, ds, y)."""
    from nova_forecast.data import load_panel

    panel, _ = load_panel(df, freq)
    return classify_panel(panel)
