"""The external feeds dropped as files in the landing folder: their contract.

Layout: ``<landing>/<feed name>/*.csv|*.parquet`` -> ``raw.<raw_table>``. CSV files are
comma-separated UTF-8 with a header row (a BOM is tolerated), dates ``YYYY-MM-DD``, decimals with a
dot; an empty cell is NULL. Read by the simulator (the files it writes), the file loader
(``nova_corrente.extract.feeds``: columns and types), the raw gate's GX suites (keys, bounds,
cumulative columns) and the tests.

Bounds are plausibility for Bahia: a day's rain of -5 mm or 900 mm, or a temperature of 1e400 °C,
is a broken sensor or a typing error, not weather.
"""

from __future__ import annotations

from decimal import Decimal

from nova_corrente.contracts.model import Bound, Column, TableContract

#: the earliest date a feed row can carry
FEED_LIFE_START = "2000-01-01"

FEEDS: tuple[TableContract, ...] = (
    TableContract(
        name="weather",
        raw_table="feed_weather_daily",
        staging_model="stg_feeds__weather_observations",
        description="Daily weather per site city (INMET-style observations).",
        columns=(
            Column("city", "text", nullable=False),
            Column("weather_date", "date", nullable=False, since=FEED_LIFE_START),
            Column("precipitation_mm", "numeric", bound=Bound(Decimal(0), Decimal(500))),
            Column("temperature_max_c", "numeric", bound=Bound(Decimal(-10), Decimal(50))),
            Column("temperature_min_c", "numeric", bound=Bound(Decimal(-10), Decimal(50))),
        ),
        key=("city", "weather_date"),
        version_column=None,
    ),
    TableContract(
        name="economic",
        raw_table="feed_economic_indicators",
        staging_model="stg_feeds__economic_indicators",
        description="Daily economic indicators: USD/BRL, SELIC rate, IPCA index.",
        columns=(
            Column("indicator_date", "date", nullable=False, since=FEED_LIFE_START),
            Column("usd_brl", "numeric", bound=Bound(Decimal(0), Decimal(100), strict_low=True)),
            Column("selic_rate_pct", "numeric", bound=Bound(Decimal(0), Decimal(100))),
            Column("ipca_index", "numeric", bound=Bound(Decimal(0), Decimal(1_000_000), strict_low=True)),
        ),
        key=("indicator_date",),
        version_column=None,
    ),
    TableContract(
        name="anatel_5g",
        raw_table="feed_anatel_5g_rollout",
        staging_model="stg_feeds__anatel_5g_rollouts",
        description="Monthly ANATEL licensed 5G stations per city and operator (cumulative).",
        columns=(
            Column("city", "text", nullable=False),
            Column("reference_month", "date", nullable=False, since=FEED_LIFE_START,
                   description="the first day of the month"),
            Column("operator", "text", nullable=False),
            Column("stations_5g", "integer", nullable=False, bound=Bound(Decimal(0), Decimal(100_000)),
                   description="the row's measure: a month without its station count says nothing"),
            Column("population_covered_pct", "numeric", bound=Bound(Decimal(0), Decimal(100))),
        ),
        key=("city", "reference_month", "operator"),
        version_column=None,
        sequence="reference_month",
        non_decreasing=("stations_5g",),
    ),
)

FEEDS_BY_NAME: dict[str, TableContract] = {feed.name: feed for feed in FEEDS}
#: columns that must hold the first day of a month
MONTH_COLUMNS: frozenset[tuple[str, str]] = frozenset({("anatel_5g", "reference_month")})


def file_source(feed: TableContract, file_name: str) -> str:
    """``file:<feed>/<name>``: the batch source of a landing file."""
    return f"file:{feed.name}/{file_name}"
