"""Which nodes a selection builds, in what order, and which tests report on which node."""

import pytest
from transform_testdata import MANIFEST

from nova_corrente.transform.graph import SelectionError, edges, select_nodes


def test_nodes_in_build_order_with_their_selected_parents():
    selection = select_nodes(MANIFEST, exclude=["tag:forecast"])
    assert [n.name for n in selection.nodes] == ["holidays", "stg_items", "stg_moves", "fct_stock"]
    assert edges(selection) == {"holidays": [], "stg_items": [], "stg_moves": [],
                                "fct_stock": ["holidays", "stg_items", "stg_moves"]}
    assert selection.dbt_args() == ["--exclude", "tag:forecast"]


def test_each_test_reports_on_one_selected_node():
    selection = select_nodes(MANIFEST, exclude=["tag:forecast"])
    # (the forecast test's other parent is outside the selection: it reports on stg_items)
    assert selection.tests_of("model.p.stg_items") == ["test.p.assert_forecast_active", "test.p.unique_stg_items_id"]
    # attached node first; a singular test on the parent built last; a unit test on its model;
    # a test of a parent outside the selection on the selected parent
    assert selection.tests_of("model.p.fct_stock") == [
        "test.p.assert_stock_matches", "test.p.relationships_fct_stock_item", "unit_test.p.fct_stock_adds_up"]
    assert selection.reported_on["test.p.assert_forecast_active"] == ("model.p.stg_items",)
    # a source test reports on the models that read the source
    assert selection.tests_of("model.p.stg_moves") == ["test.p.source_not_null_erp_moves_id"]


def test_selecting_by_tag_and_name():
    forecasts = select_nodes(MANIFEST, select=["tag:forecast"])
    assert [n.name for n in forecasts.nodes] == ["fct_forecasts"]
    assert forecasts.nodes[0].upstream == ()  # its parent is built by another selection
    assert forecasts.reported_on["test.p.assert_forecast_active"] == ("model.p.fct_forecasts",)
    assert [n.name for n in select_nodes(MANIFEST, select=["stg_items"]).nodes] == ["stg_items"]


def test_unsupported_or_empty_selections_are_refused():
    with pytest.raises(SelectionError, match="not supported"):
        select_nodes(MANIFEST, select=["path:models/marts"])
    with pytest.raises(SelectionError, match="selects no model"):
        select_nodes(MANIFEST, select=["tag:nothing"])
