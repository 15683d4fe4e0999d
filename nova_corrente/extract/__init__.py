"""Extract/load into the warehouse's ``raw`` schema, with every load registered as a batch.

* ``erp.load_interval`` — incremental, watermarked extract of the ERP tables (COPY both ways).
* ``feeds.load_landing_files`` — landing files of the external feeds (weather, economic, ANATEL 5G).
* ``warehouse_setup`` — the warehouse schemas and ``audit.load_batches`` helpers used by the gates.

Heavy imports (pyarrow) happen inside the functions that need them.
"""

from nova_corrente.extract.erp import (
    ERP_TABLES,
    BatchResult,
    ExtractError,
    SchemaDriftError,
    batch_id_for,
    load_interval,
)
from nova_corrente.extract.feeds import (
    FileBatch,
    FileLoadReport,
    FileUnreadable,
    HeldBackFile,
    load_landing_files,
)
from nova_corrente.extract.warehouse_setup import (
    batch_statuses,
    batches_for_interval,
    ensure_warehouse_schemas,
    set_batch_status,
)

__all__ = [
    "ERP_TABLES",
    "BatchResult",
    "ExtractError",
    "FileBatch",
    "FileLoadReport",
    "FileUnreadable",
    "HeldBackFile",
    "SchemaDriftError",
    "batch_id_for",
    "batch_statuses",
    "batches_for_interval",
    "ensure_warehouse_schemas",
    "load_interval",
    "load_landing_files",
    "set_batch_status",
]
