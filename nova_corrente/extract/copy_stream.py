"""Stream a ``COPY ... TO STDOUT`` on one connection into a ``COPY ... FROM STDIN`` on another.

The two COPYs run at the same time, joined by an OS pipe: a reader thread writes the source's
COPY stream into the pipe through a 64 KiB buffer while the calling thread feeds the pipe to the
target. Memory stays flat whatever the row count (a few hundred KiB of buffers), and the two
servers work in parallel. psycopg2 releases the GIL while it waits on the network.

Failures on either side stop both: if the target fails, the pipe is closed and the source COPY
ends with a broken pipe; if the source fails, the target sees end-of-data and the source error is
raised (the caller rolls back the target transaction, so a truncated stream is never kept).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from psycopg2.extensions import cursor as Cursor

log = logging.getLogger(__name__)

PIPE_BUFFER_BYTES = 1 << 16


class CopyFailed(RuntimeError):
    """One side of a streamed COPY failed; ``side`` is ``'source'`` or ``'target'``."""

    def __init__(self, side: str, cause: BaseException) -> None:
        super().__init__(f"{side} COPY failed: {str(cause).strip()}")
        self.side = side
        self.cause = cause


@dataclass(frozen=True)
class CopyCounts:
    """Rows the source sent and the target accepted (equal on success)."""

    rows_out: int
    rows_in: int


def stream_copy(source: Cursor, copy_out_sql: str, target: Cursor, copy_in_sql: str) -> CopyCounts:
    """Run ``copy_out_sql`` (``COPY (...) TO STDOUT``) on ``source`` into ``copy_in_sql`` on ``target``.

    Both statements must use the same format (text, CSV or binary). Raises ``CopyFailed`` with the
    failing side; the source error wins when both fail (a dying source truncates the target's input).
    """
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb", buffering=0)
    writer = os.fdopen(write_fd, "wb", buffering=PIPE_BUFFER_BYTES)
    source_error: list[BaseException] = []
    rows_out: list[int] = []

    def produce() -> None:
        try:
            source.copy_expert(copy_out_sql, writer, size=PIPE_BUFFER_BYTES)
            rows_out.append(source.rowcount)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            source_error.append(exc)
        finally:
            try:
                writer.close()
            except OSError:  # broken pipe when the target stopped reading
                pass

    thread = threading.Thread(target=produce, name="copy-out", daemon=True)
    thread.start()
    target_error: BaseException | None = None
    try:
        target.copy_expert(copy_in_sql, reader, size=PIPE_BUFFER_BYTES)
    except BaseException as exc:  # noqa: BLE001 - decided below which error to raise
        target_error = exc
    finally:
        reader.close()  # unblocks a producer still writing (BrokenPipeError)
        thread.join()
    if source_error and not (target_error is not None and isinstance(source_error[0], BrokenPipeError)):
        raise CopyFailed("source", source_error[0]) from source_error[0]
    if target_error is not None:
        if not isinstance(target_error, Exception):
            raise target_error  # KeyboardInterrupt, SystemExit
        raise CopyFailed("target", target_error) from target_error
    counts = CopyCounts(rows_out=rows_out[0] if rows_out else -1, rows_in=target.rowcount)
    if counts.rows_out != counts.rows_in:
        raise CopyFailed("target", RuntimeError(f"source sent {counts.rows_out} rows, target stored {counts.rows_in}"))
    return counts
