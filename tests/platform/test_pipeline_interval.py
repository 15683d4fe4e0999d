"""Which data interval a run covers, including UI triggers without a logical date."""

from datetime import UTC, datetime, timedelta

from nova_corrente.pipeline import resolve_interval

RUN_AFTER = datetime(2026, 11, 21, 22, 47, tzinfo=UTC)


def test_scheduled_run_keeps_its_interval():
    start, end = datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 11, 21, 9, tzinfo=UTC)
    assert resolve_interval(start, end, RUN_AFTER) == (start, end)


def test_ui_trigger_without_logical_date_covers_the_data_as_of_the_trigger():
    assert resolve_interval(None, None, RUN_AFTER) == (RUN_AFTER - timedelta(days=1), RUN_AFTER)
