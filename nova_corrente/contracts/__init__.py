"""One contract for every source table: the ERP's tables and the external feeds.

``nova_corrente.contracts.erp.TABLES`` and ``nova_corrente.contracts.feeds.FEEDS`` describe columns,
types, keys, allowed values, bounds, references and plausibility rules (``model``). The simulator,
the extract, the Great Expectations suites, the reconciliation gate and the tests read them; none
of them declares a column list of its own.
"""

from nova_corrente.contracts.model import Bound, Column, Reference, SqlRule, TableContract

__all__ = ["Bound", "Column", "Reference", "SqlRule", "TableContract", "all_contracts", "contract_for_source"]


def all_contracts() -> tuple[TableContract, ...]:
    """Every source contract: ERP tables (foreign-key order), then the feeds."""
    from nova_corrente.contracts.erp import TABLES
    from nova_corrente.contracts.feeds import FEEDS

    return (*TABLES, *FEEDS)


def contract_for_source(source: str) -> TableContract | None:
    """The contract of a batch source (``erp.<table>`` or ``file:<feed>/<name>``), None if unknown."""
    from nova_corrente.contracts.erp import TABLES_BY_NAME
    from nova_corrente.contracts.feeds import FEEDS_BY_NAME

    if source.startswith("erp."):
        return TABLES_BY_NAME.get(source.removeprefix("erp."))
    if source.startswith("file:"):
        return FEEDS_BY_NAME.get(source.removeprefix("file:").split("/", 1)[0])
    return None
