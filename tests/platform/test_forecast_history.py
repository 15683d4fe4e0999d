"""One history window for the platform: dbt's var demand_history_days, read by the daily forecast."""

import re

import yaml

from nova_corrente.pipeline import demand_history_days, forecast_config
from nova_corrente.settings import DBT_PROJECT_DIR


def test_the_daily_forecast_fits_the_history_the_reorder_point_rules_read():
    declared = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["demand_history_days"]
    assert demand_history_days() == declared >= 730  # the annual growth needs two years
    assert forecast_config().history_days == declared
    assert forecast_config().to_dict()["history_days"] == declared  # recorded in the run's parameters


def test_the_window_is_written_nowhere_else():
    """The number itself appears once: in dbt_project.yml (models and the engine read the var)."""
    literal = re.compile(rf"\b{demand_history_days()}\b")
    sources = [*DBT_PROJECT_DIR.joinpath("models").rglob("*.sql"), *DBT_PROJECT_DIR.joinpath("macros").rglob("*.sql"),
               *DBT_PROJECT_DIR.parent.joinpath("ml").rglob("*.py"),
               *DBT_PROJECT_DIR.parent.joinpath("nova_corrente").rglob("*.py")]
    assert [str(path) for path in sources if literal.search(path.read_text())] == []
