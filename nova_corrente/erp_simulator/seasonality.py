"""Calendar effects on field maintenance: the April-July rainy season, Sundays and holidays.

Field crews do more corrective maintenance when it rains (water ingress, lightning, corrosion),
and little on Sundays and Bahia's public holidays (national + state, from the ``holidays``
package).
"""

from __future__ import annotations

import holidays
import numpy as np

# Salvador's monthly rainfall (mm), the reference shape: wet April-July, drier spring/summer.
MONTHLY_RAIN_MM = np.array([90, 110, 150, 330, 320, 230, 180, 120, 90, 100, 110, 100], dtype=float)
_MID_MONTH_DOY = np.array([15, 45, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349], dtype=float)

SUNDAY_FACTOR = 0.35
SATURDAY_FACTOR = 0.7
HOLIDAY_FACTOR = 0.3
RAINY_MONTHS = (4, 5, 6, 7)


def day_range(start: np.datetime64, end: np.datetime64) -> np.ndarray:
    """All days from start to end inclusive as ``datetime64[D]``."""
    return np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)


def day_of_year(days: np.ndarray) -> np.ndarray:
    """1-based day of year of ``datetime64[D]`` values."""
    years = days.astype("datetime64[Y]")
    return (days - years.astype("datetime64[D]")).astype(int) + 1


def months(days: np.ndarray) -> np.ndarray:
    """Month number 1..12 of ``datetime64[D]`` values."""
    return days.astype("datetime64[M]").astype(int) % 12 + 1


def rain_profile_mm(days: np.ndarray) -> np.ndarray:
    """Expected daily rainfall (mm) in Salvador, smooth over the year (periodic interpolation)."""
    doy = day_of_year(days).astype(float)
    xp = np.concatenate([_MID_MONTH_DOY - 365, _MID_MONTH_DOY, _MID_MONTH_DOY + 365])
    fp = np.tile(MONTHLY_RAIN_MM / 30.4, 3)
    return np.interp(doy, xp, fp)


def rainy_season_index(days: np.ndarray) -> np.ndarray:
    """Rain profile relative to its yearly mean minus one: about +0.9 in May, -0.4 in January."""
    return rain_profile_mm(days) / (MONTHLY_RAIN_MM.mean() / 30.4) - 1.0


def holiday_mask(days: np.ndarray) -> np.ndarray:
    """True on Brazilian national and Bahia state holidays."""
    if len(days) == 0:
        return np.zeros(0, dtype=bool)
    years = range(int(str(days.min())[:4]), int(str(days.max())[:4]) + 1)
    calendar = holidays.country_holidays("BR", subdiv="BA", years=years)
    dates = np.array(sorted(calendar.keys()), dtype="datetime64[D]")
    return np.isin(days, dates)


def workday_factor(days: np.ndarray) -> np.ndarray:
    """Crew activity per day: 1 on weekdays, less on Saturdays, Sundays and holidays."""
    weekday = (days.astype(int) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    factor = np.where(weekday == 6, SUNDAY_FACTOR, np.where(weekday == 5, SATURDAY_FACTOR, 1.0))
    return np.where(holiday_mask(days), np.minimum(factor, HOLIDAY_FACTOR), factor)
