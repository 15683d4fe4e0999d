"""The raw gate's rules, derived from the source contracts (pure: no GX, no database).

Every row-local rule is one SQL query over one batch: it returns the batch rows (their ``_row_id``,
key and the offending value) that break the rule. The GX suites run these queries as
``UnexpectedRowsExpectation``s (``{batch}`` is the batch's rows, ``b`` their alias), and the gate
runs the same query again to fetch every bad row id for ``audit.quarantined_rows``. One structural
rule per table (its columns) holds a batch back whole.

Tombstones (``_change = 'delete'``: a key the source deleted) carry only their key and are exempt
from the value rules.

"Known to the warehouse" (references, history) means: a row of a *passed* batch that is not in
quarantine. The gate validates a run's batches parents first and records each verdict before the
next batch, so today's new materials make today's movements valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from nova_corrente.contracts.model import Column, TableContract

#: alias of the batch's rows in every rule query
B = "b"


@dataclass(frozen=True)
class RowRule:
    """One row-local rule: ``where`` (on ``b`` after ``joins``) selects the bad rows of a batch."""

    name: str  # what a failure message and a quarantine record call it
    column: str  # the column the rule is about (or the key columns, comma-separated)
    where: str
    joins: str = ""

    def query(self, contract: TableContract) -> str:
        """The rule as a query over ``{batch}`` returning ``_row_id``, the key and the value."""
        key = ", ".join(f"{B}.{name}" for name in contract.key)
        value = _value_expression(self.column)
        return _squash(
            f"""
            select {B}._row_id, {key}, {value} as bad_value
            from {{batch}} as {B}
            join audit.load_batches as load_batch on load_batch.batch_id = {B}._batch_id
            {self.joins}
            where {B}._change <> 'delete' and ({self.where})
            """
        )


def _value_expression(column: str) -> str:
    names = [name.strip() for name in column.split(",")]
    if len(names) == 1:
        return f"{B}.{names[0]}::text"
    return "concat_ws(', ', " + ", ".join(f"{B}.{name}::text" for name in names) + ")"


def _squash(query: str) -> str:
    """One line per SQL clause, no indentation noise in the committed JSON."""
    return " ".join(line.strip() for line in query.strip().splitlines() if line.strip())


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _known_row(table: str, alias: str) -> str:
    """Condition: ``alias`` (a row of ``raw.<table>``) is in a passed batch and not in quarantine."""
    return (
        f"{alias}._change <> 'delete'"
        f" and exists (select 1 from audit.load_batches as {alias}_batch"
        f" where {alias}_batch.batch_id = {alias}._batch_id and {alias}_batch.status = 'passed')"
        f" and not exists (select 1 from audit.quarantined_rows as {alias}_quarantine"
        f" where {alias}_quarantine.raw_table = 'raw.{table}' and {alias}_quarantine.raw_row_id = {alias}._row_id)"
    )


def column_rules(contract: TableContract, column: Column) -> list[RowRule]:
    """NULL, allowed values, bounds, the ERP's life and the interval end for one column."""
    name, rules = column.name, []
    if not column.nullable:
        rules.append(RowRule(f"{name} is not null", name, f"{B}.{name} is null"))
    if column.allowed:
        values = ", ".join(_literal(value) for value in column.allowed)
        rules.append(RowRule(f"{name} in ({', '.join(column.allowed)})", name, f"{B}.{name}::text not in ({values})"))
    if column.bound is not None:
        bound, conditions = column.bound, []
        if bound.low is not None:
            conditions.append(f"{B}.{name} {'<=' if bound.strict_low else '<'} {bound.low}")
        if bound.high is not None:
            conditions.append(f"{B}.{name} {'>=' if bound.strict_high else '>'} {bound.high}")
        rules.append(RowRule(f"{name} {bound.describe()}", name, " or ".join(conditions)))
    if column.since is not None:
        rules.append(RowRule(f"{name} on or after {column.since} (the source's life)", name,
                             f"{B}.{name} < date {_literal(column.since)}"))
    if column.not_after_interval_end:
        moment = f"({B}.{name}::timestamp at time zone 'UTC')" if column.kind == "date" else f"{B}.{name}"
        rules.append(RowRule(f"{name} before the batch's interval end", name,
                             f"{moment} >= load_batch.interval_end"))
    return rules


def duplicate_key_rule(contract: TableContract) -> RowRule:
    """Every row whose key appears more than once in the batch (which one is right is unknown)."""
    key = ", ".join(contract.key)
    key_b = ", ".join(f"{B}.{name}" for name in contract.key)
    return RowRule(
        f"({key}) unique within the batch",
        key,
        f"({key_b}) in (select {key} from {{batch}} as dup where dup._change <> 'delete'"
        f" group by {key} having count(*) > 1)",
    )


def reference_rules(contract: TableContract) -> list[RowRule]:
    """Codes must be known to the warehouse (a passed, not quarantined row of the parent)."""
    rules = []
    for ref in contract.references:
        parent = f"erp_{ref.table}"
        rules.append(RowRule(
            f"{ref.column} known to the warehouse (raw.{parent}.{ref.ref_column} of a passed batch)",
            ref.column,
            f"{B}.{ref.column} is not null and not exists (select 1 from raw.{parent} as parent"
            f" where parent.{ref.ref_column} = {B}.{ref.column} and {_known_row(parent, 'parent')})",
        ))
    return rules


def immutable_rules(contract: TableContract) -> list[RowRule]:
    """A key whose current version has another value of an immutable column: the key was reused."""
    rules = []
    match = " and ".join(f"previous.{name} = {B}.{name}" for name in contract.key)
    for column in contract.immutable:
        rules.append(RowRule(
            f"{column} unchanged for an existing key (a different {column} means the key was reused)",
            column,
            f"{B}.{column} is distinct from current_version.{column}",
            joins=(
                f"join lateral (select previous.{column} from raw.{contract.raw_table} as previous"
                f" where {match} and previous._batch_id <> {B}._batch_id and {_known_row(contract.raw_table, 'previous')}"
                f" order by previous._loaded_at desc, previous._row_id desc limit 1) as current_version on true"
            ),
        ))
    return rules


def non_decreasing_rules(contract: TableContract) -> list[RowRule]:
    """Cumulative columns: no value below an earlier one, nor above a later one already known."""
    if not contract.non_decreasing or contract.sequence is None:
        return []
    rules, seq = [], contract.sequence
    group = " and ".join(f"other.{name} = {B}.{name}" for name in contract.group_key)
    for column in contract.non_decreasing:
        known_other_files = (
            f"other._source <> {B}._source and {_known_row(contract.raw_table, 'other')}"
        )
        rules.append(RowRule(
            f"{column} does not decrease over {seq} per {', '.join(contract.group_key)}",
            column,
            f"""{B}.{column} is not null and (
                exists (select 1 from {{batch}} as other where {group} and other._change <> 'delete'
                        and other.{seq} < {B}.{seq} and other.{column} > {B}.{column})
                or exists (select 1 from raw.{contract.raw_table} as other where {group} and {known_other_files}
                        and ((other.{seq} < {B}.{seq} and other.{column} > {B}.{column})
                             or (other.{seq} > {B}.{seq} and other.{column} < {B}.{column}))))""",
        ))
    return rules


def contract_rules(contract: TableContract) -> list[RowRule]:
    """The contract's own SQL rules (plausibility beyond single values)."""
    return [RowRule(rule.name, rule.column, rule.where, rule.joins) for rule in contract.rules]


def row_rules(contract: TableContract) -> list[RowRule]:
    """Every row-local rule of a table, in a stable order."""
    rules: list[RowRule] = []
    for column in contract.columns:
        rules += column_rules(contract, column)
    rules.append(duplicate_key_rule(contract))
    rules += reference_rules(contract)
    rules += immutable_rules(contract)
    rules += non_decreasing_rules(contract)
    rules += contract_rules(contract)
    return rules
