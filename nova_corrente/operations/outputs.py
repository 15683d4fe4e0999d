"""Files the operations write for people (reports, extracts): replaced whole, never seen half-written."""

from __future__ import annotations

from pathlib import Path


def write_replacing(text: str, *targets: Path) -> None:
    """Write ``text`` to each target through a temporary file renamed over it (atomic on one filesystem)."""
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text)
        tmp.replace(target)
