"""A hand-written dbt manifest: five models/seeds, data tests of every kind, a unit test."""


def node(name: str, kind: str = "model", parents: tuple[str, ...] = (), tags: tuple[str, ...] = (), **extra) -> tuple:
    uid = f"{kind}.p.{name}"
    return uid, {"name": name, "resource_type": kind, "tags": list(tags),
                 "depends_on": {"nodes": [p if "." in p else f"model.p.{p}" for p in parents]}, **extra}


MANIFEST = {
    "nodes": dict([
        node("holidays", kind="seed"),
        node("stg_items", parents=("source.p.erp.items",)),
        node("stg_moves", parents=("source.p.erp.moves",)),
        node("fct_stock", parents=("stg_items", "stg_moves", "seed.p.holidays")),
        node("fct_forecasts", parents=("fct_stock",), tags=("forecast",)),
        node("unique_stg_items_id", kind="test", parents=("stg_items",), attached_node="model.p.stg_items"),
        node("relationships_fct_stock_item", kind="test", parents=("stg_items", "fct_stock"),
             attached_node="model.p.fct_stock"),
        node("assert_stock_matches", kind="test", parents=("stg_moves", "fct_stock")),  # singular, two parents
        node("assert_forecast_active", kind="test", parents=("fct_forecasts", "stg_items")),
        node("source_not_null_erp_moves_id", kind="test", parents=("source.p.erp.moves",)),
    ]),
    "unit_tests": dict([node("fct_stock_adds_up", kind="unit_test", parents=("fct_stock",))]),
}
