"""The data-quality page of the Airflow UI (served by ``plugins/nova_operations_plugin.py``).

One self-contained HTML page (inline CSS, no script, nothing fetched from anywhere) built from
``quality_history``: rejected batches with their failing expectations and sample bad values, the
latest validation of every suite, quarantined rows and reconciliation checks (when those tables
exist), and the batch history. Why not Great Expectations' Data Docs: their templates load
Bootstrap, jQuery, DataTables, Vega and Font Awesome from CDNs; this page needs none of that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from nova_corrente.operations import quality_history
from nova_corrente.settings import PostgresSettings

STATUSES = ("loaded", "passed", "rejected")


@dataclass(frozen=True)
class Rejection:
    """One verdict of the raw gate that rejected a run's batches: those that failed, and those held back with them."""

    validated_at: datetime | None
    interval_start: datetime | None
    interval_end: datetime | None
    failing: list[quality_history.Batch]
    held_back: list[quality_history.Batch]


def rejections(rejected: list[quality_history.Batch]) -> list[Rejection]:
    """Group rejected batches by the gate verdict that rejected them (same validation time and interval)."""
    groups: dict[tuple, list[quality_history.Batch]] = {}
    for batch in rejected:
        groups.setdefault((batch.validated_at, batch.interval_end), []).append(batch)
    out = []
    for (validated_at, interval_end), batches in groups.items():
        failing = [b for b in batches if b.failures]
        out.append(Rejection(validated_at, batches[0].interval_start, interval_end, failing,
                             [b for b in batches if b not in failing]))
    return sorted(out, key=lambda r: r.validated_at or datetime.min.replace(tzinfo=UTC), reverse=True)


@dataclass(frozen=True)
class PageData:
    batches: list[quality_history.Batch]
    rejections: list[Rejection]
    validations: list[quality_history.Validation]
    quarantined: list[quality_history.QuarantineGroup]
    reconciliations: list[quality_history.Reconciliation]
    status_filter: str | None
    limit: int
    generated_at: datetime


def collect(
    pg: PostgresSettings,
    *,
    status: str | None = None,
    limit: int = 200,
    validations_dir: Path = quality_history.VALIDATIONS_DIR,
) -> PageData:
    """Everything the page shows; ``status`` filters the history (loaded, passed, rejected)."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown batch status {status!r}; expected one of {', '.join(STATUSES)}")
    return PageData(
        batches=quality_history.batch_history(pg, limit=limit, status=status),
        rejections=rejections(quality_history.batch_history(pg, limit=100, status="rejected"))[:10],
        validations=quality_history.latest_validations(validations_dir),
        quarantined=quality_history.quarantined(pg, limit=50),
        reconciliations=quality_history.latest_reconciliations(pg),
        status_filter=status,
        limit=limit,
        generated_at=datetime.now(UTC),
    )


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "–"


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_ENV.filters["when"] = _when

PAGE = _ENV.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data quality · Nova Corrente</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2rem;color:#1f2933;background:#fff}
 h1{font-size:1.4rem;margin:0 0 .3rem} h2{font-size:1.1rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #e4e7eb;padding-bottom:.2rem}
 table{border-collapse:collapse;width:100%;font-size:.85rem} th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eef0f2;vertical-align:top}
 th{background:#f5f7fa;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
 .badge{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;font-size:.75rem;font-weight:600}
 .passed,.success{background:#e3f9e5;color:#1f7a35} .rejected,.failed,.fail{background:#ffe3e3;color:#ab091e}
 .loaded,.warn{background:#fff3c4;color:#8d6708} code{font-size:.8rem;background:#f5f7fa;padding:0 .2rem;border-radius:3px}
 .muted{color:#7b8794;font-size:.8rem} .card{border:1px solid #ffbdbd;border-radius:6px;padding:.6rem .8rem;margin:.5rem 0;background:#fffafa}
 nav a{margin-right:.8rem;font-size:.85rem}
</style></head><body>
<h1>Data quality</h1>
<p class="muted">Quality gates (Great Expectations) on every batch loaded into <code>raw</code>, and on the marts.
Generated {{ data.generated_at | when }}.</p>
<nav><a href="?">all batches</a>{% for s in statuses %}<a href="?status={{ s }}">{{ s }}</a>{% endfor %}</nav>

<h2 id="rejected">Batches held back</h2>
{% if not data.rejections %}<p>No batch has been held back.</p>{% endif %}
{% for r in data.rejections %}
<div class="card rejection">
 <b>Raw gate held back {{ r.failing | length + r.held_back | length }} batch{{ "es" if (r.failing | length + r.held_back | length) != 1 else "" }}</b>
 <span class="muted">interval {{ r.interval_start | when }} → {{ r.interval_end | when }}, validated {{ r.validated_at | when }}</span>
 <table><tr><th>suite</th><th>failing rule / expectation</th><th>what failed</th><th>sample bad values</th></tr>
 {% for b in r.failing %}<tr class="batch-head"><td colspan="4"><span class="badge rejected">rejected</span> <b>{{ b.source }}</b>
  <code>{{ b.batch_id }}</code> · {{ "{:,}".format(b.row_count) }} rows{% if b.verdict %} · {{ b.verdict }}{% endif %}</td></tr>
 {% for f in b.failures %}<tr class="failure" data-batch="{{ b.batch_id }}"><td>{{ f.suite or "–" }}</td><td><code>{{ f.expectation or "–" }}</code></td>
  <td>{{ f.detail }}</td><td><code>{{ f.sample or "–" }}</code></td></tr>{% endfor %}
 {% else %}<tr><td colspan="4">{{ r.held_back[0].failure_reason if r.held_back else "no reason recorded" }}</td></tr>{% endfor %}
 </table>
 {% if r.held_back %}<p class="muted">Held back with them: {% for b in r.held_back %}<code>{{ b.source }}</code> ({{ "{:,}".format(b.row_count) }} rows){{ ", " if not loop.last else "" }}{% endfor %}</p>{% endif %}
</div>
{% endfor %}

<h2 id="validations">Latest validation of each suite</h2>
{% if not data.validations %}<p>No stored validation results yet.</p>{% else %}
<table><tr><th>suite</th><th>batch</th><th>validated</th><th>result</th><th class="num">expectations</th><th class="num">failed</th><th>failures</th></tr>
{% for v in data.validations %}<tr class="validation" data-suite="{{ v.suite }}"><td><code>{{ v.suite }}</code></td><td><code>{{ v.batch }}</code></td><td>{{ v.run_time | when }}</td>
<td><span class="badge {{ 'success' if v.success else 'failed' }}">{{ 'passed' if v.success else 'failed' }}</span></td>
<td class="num">{{ v.evaluated_expectations }}</td><td class="num">{{ v.failed_expectations }}</td>
<td>{% for f in v.failures %}<div>{{ f }}</div>{% endfor %}</td></tr>{% endfor %}
</table>{% endif %}

{% if data.quarantined %}<h2 id="quarantine">Quarantined rows</h2>
<table><tr><th>batch</th><th>source</th><th>rule</th><th>column</th><th class="num">rows</th><th>sample values</th><th>reason</th><th>when</th></tr>
{% for q in data.quarantined %}<tr><td><code>{{ q.batch_id }}</code></td><td>{{ q.source }}</td><td>{{ q.rule }}</td><td>{{ q.column_name or "–" }}</td>
<td class="num">{{ "{:,}".format(q.rows) }}</td><td><code>{{ q.sample_values | join(", ") }}</code></td><td>{{ q.reason }}</td><td>{{ q.last_quarantined_at | when }}</td></tr>{% endfor %}
</table>{% endif %}

{% if data.reconciliations %}<h2 id="reconciliation">Reconciliation with the ERP (latest check)</h2>
<table><tr><th>table</th><th>check</th><th class="num">ERP</th><th class="num">warehouse</th><th class="num">quarantined</th><th class="num">difference</th><th>status</th><th>checked</th><th>detail</th></tr>
{% for r in data.reconciliations %}<tr><td>{{ r.table_name }}</td><td>{{ r.check_name }}</td><td class="num">{{ r.erp_value }}</td><td class="num">{{ r.warehouse_value }}</td>
<td class="num">{{ r.quarantined_value }}</td><td class="num">{{ r.difference }}</td><td><span class="badge {{ {'ok': 'success', 'explained': 'warn'}.get(r.status, 'failed') }}">{{ r.status }}</span></td>
<td>{{ r.checked_at | when }}</td><td>{{ r.detail or "" }}</td></tr>{% endfor %}
</table>{% endif %}

<h2 id="history">Batch history{% if data.status_filter %} ({{ data.status_filter }}){% endif %}</h2>
<p class="muted">The newest {{ data.limit }} batches of <code>audit.load_batches</code>.</p>
{% if not data.batches %}<p>No batch loaded yet.</p>{% else %}
<table><tr><th>loaded</th><th>source</th><th>interval</th><th class="num">rows</th><th>status</th><th>batch</th><th>verdict</th></tr>
{% for b in data.batches %}<tr class="batch" data-status="{{ b.status }}"><td>{{ b.loaded_at | when }}</td><td>{{ b.source }}</td>
<td>{{ b.interval_start | when }} → {{ b.interval_end | when }}</td><td class="num">{{ "{:,}".format(b.row_count) }}</td>
<td><span class="badge {{ b.status }}">{{ b.status }}</span></td><td><code>{{ b.batch_id }}</code></td>
<td>{% if b.failure_reason %}<div>{{ b.verdict }}</div>{% endif %}{% for f in b.failures %}<div>{{ f.suite or "" }} <code>{{ f.expectation or "" }}</code>{{ f.detail }}{% if f.sample %} sample <code>{{ f.sample }}</code>{% endif %}</div>{% endfor %}</td></tr>{% endfor %}
</table>{% endif %}
</body></html>
"""
)


def render(data: PageData) -> str:
    """The page's HTML."""
    return PAGE.render(data=data, statuses=STATUSES)
