"""The landing folder: which feed files are there (``<landing>/<feed>/*.csv|*.parquet``)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from nova_corrente.contracts.feeds import FEEDS
from nova_corrente.contracts.model import TableContract

log = logging.getLogger(__name__)

FILE_SUFFIXES = (".csv", ".parquet")


def landing_files(landing_dir: Path) -> list[tuple[TableContract, Path]]:
    """The feed files present, sorted by feed then name (hidden and other files are ignored)."""
    found = []
    for feed in FEEDS:
        folder = landing_dir / feed.name
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in FILE_SUFFIXES and not path.name.startswith("."):
                found.append((feed, path))
            elif not path.name.startswith("."):
                log.info("landing: ignoring %s (not a %s file)", path, "/".join(FILE_SUFFIXES))
    return found


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_batch_id(feed: TableContract, path: Path, sha256: str) -> str:
    """``file:<feed>:<name>|<sha256[:16]>`` (no ``/``: GX keys its stored results by batch id)."""
    name = path.name.replace("/", "_").replace("\\", "_")
    return f"file:{feed.name}:{name}|{sha256[:16]}"
