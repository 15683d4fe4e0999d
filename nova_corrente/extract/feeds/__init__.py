"""External feed files (landing folder) -> ``raw.feed_*``, split by concern.

* ``landing`` — which files are there, their checksums and batch ids;
* ``readers`` — streaming CSV/Parquet readers, structural checks (header, encoding);
* ``parse`` — one cell -> its typed COPY text;
* ``load`` — batches, quarantine of unparsable rows, COPY, tombstones.

The feeds' columns, keys and bounds are their contract (``nova_corrente.contracts.feeds``); value
rules are checked by the raw gate's GX suites, like the ERP's.
"""

from nova_corrente.extract.feeds.load import (
    FileBatch,
    FileLoadReport,
    HeldBackFile,
    ensure_feed_tables,
    load_landing_files,
)
from nova_corrente.extract.feeds.parse import parse_value
from nova_corrente.extract.feeds.readers import FileUnreadable

__all__ = [
    "FileBatch", "FileLoadReport", "FileUnreadable", "HeldBackFile", "ensure_feed_tables", "load_landing_files",
    "parse_value",
]
