"""Long-format demand data in and out: validation, the series panel, files, fingerprints.

Every frame the package accepts or returns is in long format, one row per series and period:
``unique_id`` (text), ``ds`` (a date on the frequency's grid) and ``y`` (a non-negative quantity).
Inside the engine the series become a :class:`Panel`: one row per series, right-aligned on each
series' own last date, ``NaN`` before a series starts. Aligning on the end makes every backtest
fold "drop the last k columns", the same for all series, whatever their start dates.

A period missing inside a series means no demand was recorded: it is filled with 0 and reported
as a warning. Everything else that is wrong in the input raises :class:`InputError` with a
message naming the rows or series (rows are numbered from 1, header excluded).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("unique_id", "ds", "y")
FREQUENCIES = ("D", "W", "MS", "QS")
DEFAULT_SEASON_LENGTH = {"D": 7, "W": 52, "MS": 12, "QS": 4}
#: the longest period of each frequency in days: ``(n - 1) * days + 1`` days always hold n periods
LONGEST_PERIOD_DAYS = {"D": 1, "W": 7, "MS": 31, "QS": 92}
MIN_OBSERVATIONS = 2
_MAX_LISTED = 5


class InputError(ValueError):
    """The input data cannot be forecast as given; the message names the rows or series."""


def _listing(items: list[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" (and {total - _MAX_LISTED} more)" if total > _MAX_LISTED else "")


def _rows(mask: np.ndarray | pd.Series) -> list[int]:
    return [int(i) + 1 for i in np.flatnonzero(np.asarray(mask))]


def season_length_for(freq: str) -> int:
    """Default season length of a frequency: 7 for daily, 52 weekly, 12 monthly, 4 quarterly."""
    check_freq(freq)
    return DEFAULT_SEASON_LENGTH[freq]


def check_freq(freq: str) -> str:
    if freq not in FREQUENCIES:
        raise InputError(f"unsupported frequency {freq!r}: use one of {', '.join(FREQUENCIES)}")
    return freq


# --- dates on a frequency grid ------------------------------------------------------------------

def _period_numbers(ds: np.ndarray, freq: str) -> np.ndarray:
    """Integer period number of each date (days for D and W, months for MS and QS)."""
    if freq in ("D", "W"):
        return ds.astype("datetime64[D]").astype(np.int64)
    return ds.astype("datetime64[M]").astype(np.int64)


def _step(freq: str) -> int:
    return {"D": 1, "W": 7, "MS": 1, "QS": 3}[freq]


def _from_period_numbers(numbers: np.ndarray, freq: str) -> np.ndarray:
    if freq in ("D", "W"):
        return numbers.astype("datetime64[D]").astype("datetime64[ns]")
    return numbers.astype("datetime64[M]").astype("datetime64[D]").astype("datetime64[ns]")


def shift_dates(dates: np.ndarray, periods: np.ndarray | int, freq: str) -> np.ndarray:
    """Dates moved by ``periods`` steps of ``freq`` (broadcasting: dates[:, None] + range works)."""
    numbers = _period_numbers(np.asarray(dates, dtype="datetime64[ns]"), freq)
    return _from_period_numbers(numbers + np.asarray(periods) * _step(freq), freq)


# --- validation ---------------------------------------------------------------------------------

def validate_long(df: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Check a long frame and return it clean: unique_id as text, ds as dates, y as floats, sorted.

    Raises :class:`InputError` for missing columns, empty input, missing or unparsable values,
    negative quantities, duplicated (unique_id, ds) pairs, dates off the frequency's grid and
    series with fewer than two observations.
    """
    check_freq(freq)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}: the input must be long format with columns "
            f"unique_id, ds, y (found: {', '.join(map(str, df.columns)) or 'none'})"
        )
    if df.empty:
        raise InputError("the input has no rows")
    frame = df.reset_index(drop=True)

    null_id = frame["unique_id"].isna()
    if null_id.any():
        raise InputError(f"empty unique_id in row(s) {_listing([str(r) for r in _rows(null_id)], int(null_id.sum()))}")
    ids = frame["unique_id"].astype(str)

    ds = _parse_dates(frame["ds"], ids)
    y = _parse_quantities(frame["y"], ids)

    negative = y < 0
    if negative.any():
        bad = [f"{ids[i]} on {ds[i].date()} (y={y[i]:g}, row {i + 1})" for i in np.flatnonzero(negative)]
        raise InputError(f"negative values in y for {int(negative.sum())} row(s): {_listing(bad)}")

    clean = pd.DataFrame({"unique_id": ids, "ds": ds, "y": y})
    duplicated = clean.duplicated(["unique_id", "ds"], keep=False)
    if duplicated.any():
        pairs = clean.loc[duplicated].drop_duplicates(["unique_id", "ds"])
        listed = [f"{u} on {d.date()}" for u, d in zip(pairs["unique_id"], pairs["ds"], strict=True)]
        raise InputError(
            f"duplicate (unique_id, ds) pairs in {int(duplicated.sum())} rows: {_listing(listed)}; "
            "aggregate them to one row per series and period"
        )
    _check_grid(clean, freq)

    counts = clean.groupby("unique_id", sort=True)["y"].size()
    short = counts[counts < MIN_OBSERVATIONS]
    if len(short):
        listed = [f"{u} ({n} observation)" for u, n in short.items()]
        raise InputError(
            f"{len(short)} series too short to forecast (need at least {MIN_OBSERVATIONS} observations): "
            f"{_listing(listed)}"
        )
    return clean.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def _parse_dates(column: pd.Series, ids: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = column.dt.tz_localize(None) if getattr(column.dt, "tz", None) is not None else column
    else:
        parsed = pd.to_datetime(column.astype("string"), errors="coerce", format="ISO8601")
    bad = parsed.isna()
    if bad.any():
        listed = [f"{column.iloc[i]!r} (unique_id {ids.iloc[i]}, row {i + 1})" for i in np.flatnonzero(bad)]
        raise InputError(
            f"unparsable dates in column ds for {int(bad.sum())} row(s): {_listing(listed)}; "
            "write dates as YYYY-MM-DD"
        )
    parsed = parsed.astype("datetime64[ns]")
    with_time = parsed != parsed.dt.normalize()
    if with_time.any():
        listed = [f"{parsed.iloc[i]} (row {i + 1})" for i in np.flatnonzero(with_time)]
        raise InputError(f"ds must be dates without a time of day: {_listing(listed, int(with_time.sum()))}")
    return parsed


def _parse_quantities(column: pd.Series, ids: pd.Series) -> np.ndarray:
    numeric = pd.to_numeric(column, errors="coerce")
    bad = numeric.isna() | ~np.isfinite(numeric.astype("float64"))
    if bad.any():
        listed = [f"{column.iloc[i]!r} (unique_id {ids.iloc[i]}, row {i + 1})" for i in np.flatnonzero(bad)]
        raise InputError(f"missing or non-numeric values in y for {int(bad.sum())} row(s): {_listing(listed)}")
    return numeric.to_numpy(dtype="float64")


def _check_grid(frame: pd.DataFrame, freq: str) -> None:
    values = frame["ds"].to_numpy(dtype="datetime64[ns]")
    if freq in ("MS", "QS"):
        off = values.astype("datetime64[D]") != values.astype("datetime64[M]").astype("datetime64[D]")
        if freq == "QS":
            off |= values.astype("datetime64[M]").astype(np.int64) % 3 != 0
        what = "the first day of a month" if freq == "MS" else "the first day of a quarter (Jan, Apr, Jul, Oct)"
    elif freq == "W":
        days = values.astype("datetime64[D]").astype(np.int64)
        first = pd.Series(days).groupby(frame["unique_id"].to_numpy()).transform("min").to_numpy()
        off = (days - first) % 7 != 0
        what = "the same weekday as the series' first date (one row per week)"
    else:
        return
    if off.any():
        listed = [f"{frame['unique_id'].iloc[i]} on {frame['ds'].iloc[i].date()} (row {i + 1})" for i in np.flatnonzero(off)]
        raise InputError(f"dates off the {freq} grid, expected {what}: {_listing(listed, int(off.sum()))}")


# --- the panel ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Panel:
    """Series as a matrix: row i is series ``ids[i]``, right-aligned on its date ``last_ds[i]``.

    ``values[i, j]`` is the quantity ``T - 1 - j`` periods before ``last_ds[i]``; ``NaN`` before the
    series starts. Periods missing inside a series were filled with 0 (``gap_counts``).
    """

    ids: np.ndarray
    values: np.ndarray
    last_ds: np.ndarray
    freq: str
    gap_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_series(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.values.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        return np.sum(~np.isnan(self.values), axis=1)

    @classmethod
    def from_long(cls, df: pd.DataFrame, freq: str = "D") -> Panel:
        """Build a panel from a frame already checked by :func:`validate_long`."""
        check_freq(freq)
        codes, ids = pd.factorize(df["unique_id"].astype(str), sort=True)
        periods = _period_numbers(df["ds"].to_numpy(dtype="datetime64[ns]"), freq) // _step(freq)
        n = len(ids)
        first = np.full(n, np.iinfo(np.int64).max)
        last = np.full(n, np.iinfo(np.int64).min)
        np.minimum.at(first, codes, periods)
        np.maximum.at(last, codes, periods)
        lengths = last - first + 1
        width = int(lengths.max())
        values = np.full((n, width), np.nan)
        starts = width - lengths
        filled = np.arange(width)[None, :] >= starts[:, None]
        values[filled] = 0.0
        values[codes, starts[codes] + (periods - first[codes])] = df["y"].to_numpy(dtype="float64")
        counts = np.bincount(codes, minlength=n)
        stamps = df["ds"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        latest = np.full(n, np.iinfo(np.int64).min)
        np.maximum.at(latest, codes, stamps)
        last_ds = latest.astype("datetime64[ns]")
        return cls(np.asarray(ids, dtype=object), values, last_ds, freq, lengths - counts)

    def head(self, drop_last: int) -> Panel:
        """The panel without its last ``drop_last`` periods (a backtest training window)."""
        if drop_last <= 0:
            return self
        return Panel(self.ids, self.values[:, :-drop_last], shift_dates(self.last_ds, -drop_last, self.freq), self.freq,
                     self.gap_counts)

    def last_days(self, days: int) -> Panel:
        """Each series cut to its periods dated after ``last_ds - days`` (a window in days whatever
        the frequency: the last ``days`` of a daily series, the weeks or months starting in them);
        columns trimmed. The panel itself when no observed period is that old. ``gap_counts`` stay."""
        cutoff = self.last_ds - np.timedelta64(days, "D")
        first_ds = shift_dates(self.last_ds, 1 - self.lengths, self.freq)
        if len(first_ds) == 0 or (first_ds > cutoff).all():
            return self
        width = self.n_periods
        ages = np.arange(width)  # column width - 1 - k is k periods before each series' last date
        kept = (shift_dates(self.last_ds[:, None], -ages[None, :], self.freq) > cutoff[:, None]).sum(axis=1)
        values = np.where(np.arange(width)[None, :] >= width - kept[:, None], self.values, np.nan)
        new_width = int(np.minimum(kept, self.lengths).max())
        return Panel(self.ids, values[:, width - new_width:], self.last_ds, self.freq, self.gap_counts)

    def subset(self, rows: np.ndarray) -> Panel:
        """Only the series selected by a boolean mask or an index array (columns trimmed)."""
        values = self.values[rows]
        lengths = np.sum(~np.isnan(values), axis=1)
        width = int(lengths.max()) if len(lengths) else 0
        gaps = self.gap_counts[rows] if len(self.gap_counts) else self.gap_counts
        return Panel(self.ids[rows], values[:, values.shape[1] - width:], self.last_ds[rows], self.freq, gaps)

    @classmethod
    def concat(cls, panels: list[Panel]) -> Panel:
        """The series of several panels (same frequency) in one, right-aligned as always."""
        if len({p.freq for p in panels}) > 1:
            raise InputError(f"panels of different frequencies: {sorted({p.freq for p in panels})}")
        width = max(p.n_periods for p in panels)
        values = np.concatenate([np.pad(p.values, ((0, 0), (width - p.n_periods, 0)), constant_values=np.nan)
                                 for p in panels])
        gaps = [p.gap_counts if len(p.gap_counts) else np.zeros(p.n_series, dtype=np.int64) for p in panels]
        return cls(np.concatenate([p.ids for p in panels]), values, np.concatenate([p.last_ds for p in panels]),
                   panels[0].freq, np.concatenate(gaps))

    def series(self, i: int) -> np.ndarray:
        """Observed values of series ``i`` (no padding)."""
        row = self.values[i]
        return row[~np.isnan(row)]

    def dates(self, i: int) -> pd.DatetimeIndex:
        """Dates of the observed values of series ``i``."""
        n = int(self.lengths[i])
        return pd.DatetimeIndex(shift_dates(np.array([self.last_ds[i]] * n), np.arange(-n + 1, 1), self.freq))

    def future_dates(self, h: int) -> np.ndarray:
        """(n_series, h) dates of the next ``h`` periods of every series."""
        return shift_dates(self.last_ds[:, None], np.arange(1, h + 1)[None, :], self.freq)

    def to_long(self) -> pd.DataFrame:
        """The panel back in long format (gaps appear as the zeros they were filled with)."""
        width = self.n_periods
        dates = shift_dates(self.last_ds[:, None], np.arange(-width + 1, 1)[None, :], self.freq)
        keep = ~np.isnan(self.values)
        rows = np.broadcast_to(self.ids[:, None], keep.shape)[keep]
        return pd.DataFrame({"unique_id": rows.astype(str), "ds": dates[keep], "y": self.values[keep]})


def load_panel(df: pd.DataFrame, freq: str = "D") -> tuple[Panel, list[str]]:
    """Validate a long frame and build its panel; warnings name the series whose gaps were filled."""
    panel = Panel.from_long(validate_long(df, freq), freq)
    warnings: list[str] = []
    gappy = np.flatnonzero(panel.gap_counts > 0)
    if len(gappy):
        listed = [f"{panel.ids[i]} ({int(panel.gap_counts[i])})" for i in gappy]
        warnings.append(
            f"{len(gappy)} series have missing periods, filled with 0 (no demand recorded): {_listing(listed)}"
        )
    for message in warnings:
        log.warning(message)
    return panel, warnings


# --- files and fingerprints ---------------------------------------------------------------------

def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a long-format CSV or Parquet file (by extension)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(path, dtype={"unique_id": str})
    except (ValueError, OSError) as exc:  # pyarrow / parser errors carry the reason
        raise InputError(f"cannot read {path}: {exc}") from exc
    raise InputError(f"unsupported input format {suffix or '(none)'} for {path}: use .csv or .parquet")


def write_frame(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as CSV or Parquet (by extension); dates are written as YYYY-MM-DD."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(f"unsupported output format {suffix or '(none)'} for {path}: use .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        df.to_csv(path, index=False, date_format="%Y-%m-%d", float_format="%.6g")
    else:
        df.to_parquet(path, index=False)
    return path


def fingerprint(df: pd.DataFrame) -> str:
    """sha256 of the series content (ids, dates, values), independent of row order and dtypes."""
    frame = df[list(REQUIRED_COLUMNS)].copy()
    frame["unique_id"] = frame["unique_id"].astype(str)
    frame["ds"] = pd.to_datetime(frame["ds"]).astype("datetime64[ns]")
    frame = frame.sort_values(["unique_id", "ds"], kind="stable")
    digest = hashlib.sha256()
    digest.update("\x1f".join(frame["unique_id"]).encode())
    digest.update(frame["ds"].to_numpy(dtype="datetime64[D]").astype("<i8").tobytes())
    digest.update(frame["y"].to_numpy(dtype="float64").astype("<f8").tobytes())
    return digest.hexdigest()
