"""Function logs on disk: what sandboxes write, read back in time order, kept within a cap.

Each sandbox appends its process's output and the START / END / REPORT lines to
``<log_dir>/<function>/<date>-<stream id>.log``. The process writes into the file directly, so
lines carry no time of their own; for each log file an index
``<log_dir>/.index/<function>/<file>.idx`` (function names never start with a dot) records where
each invocation begins (``<byte offset> <epoch ms>``, the first entry, at offset 0, being the
sandbox's start, whose line also names the log stream). A line's timestamp is its invocation's
start, as CloudWatch shows a block of one invocation's lines.

Retention: a function's files are trimmed, oldest first, to ``RETENTION_BYTES`` whenever a
sandbox of it starts; a single sandbox whose file outgrows the cap truncates it in place.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

RETENTION_BYTES = 16 * 1024 * 1024  # per function
FLUSH_SECONDS = 1.0  # a live index's marks reach the file at least this often
MAX_EVENTS = 10000
INDEX_SUFFIX = ".idx"
INDEX_DIR = ".index"


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # epoch ms
    message: str
    log_stream_name: str


def _index_path(log_path: Path) -> Path:
    function_dir = log_path.parent
    return function_dir.parent / INDEX_DIR / function_dir.name / (log_path.name + INDEX_SUFFIX)


class LogIndex:
    """A live log file's index, kept open by the one sandbox that appends to it.

    Marks are buffered and written together (a syscall per invocation was a measurable share of
    the executor's time): with a mark made a second or more after the last write, before the
    index is read (``flush``, which the Executor calls before serving logs), and on close. A
    crash loses the marks not yet written; those lines then carry the time of the mark before
    them.
    """

    def __init__(self, log_path: Path, stream: str) -> None:
        path = _index_path(log_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._stream = stream
        self._pending: list[str] = []
        self._flushed_at = time.monotonic()
        self.mark(0, stream=stream)  # the sandbox's start: init output is timed from here
        self.flush()

    def mark(self, offset: int, stream: str = "") -> None:
        """Record that what is written from ``offset`` on belongs to something starting now."""
        entry = f"{offset} {int(time.time() * 1000)}"
        if stream:
            entry += f" {stream}"
        self._pending.append(entry + "\n")
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._flushed_at = time.monotonic()
        if self._pending and self._fd >= 0:
            os.write(self._fd, "".join(self._pending).encode())
        self._pending.clear()

    def truncate(self, log_fd: int) -> None:
        """Empty the live log file (the process appends, so it goes on writing from 0)."""
        os.ftruncate(log_fd, 0)
        os.ftruncate(self._fd, 0)  # O_APPEND: the next mark lands at the new end, 0
        self._pending.clear()
        self.mark(0, stream=self._stream)
        self.flush()

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1


def trim(directory: Path, limit: int, keep: set[Path]) -> None:
    """Delete the oldest log files (and their indexes) until the directory holds ``limit``
    bytes of logs; files in ``keep`` (live sandboxes') are never deleted."""
    if not directory.is_dir():
        return
    files = []
    for path in directory.glob("*.log"):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= limit:
            break
        if path in keep:
            continue
        for victim in (path, _index_path(path)):
            victim.unlink(missing_ok=True)
        total -= size


def _read_index(index: Path) -> tuple[list[tuple[int, int]], str]:
    """(offset, epoch ms) entries in order, and the stream name."""
    entries: list[tuple[int, int]] = []
    stream = ""
    try:
        text = index.read_text()
    except OSError:
        return entries, stream
    for line in text.splitlines():
        parts = line.split(" ", 2)
        try:
            entries.append((int(parts[0]), int(parts[1])))
        except (IndexError, ValueError):
            continue
        if len(parts) == 3 and not stream:
            stream = parts[2]
    return entries, stream


def encode_cursor(offsets: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(offsets, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, int]:
    if not cursor:
        return {}
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError):
        raise ValueError("invalid cursor") from None
    if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
        raise ValueError("invalid cursor")
    return {str(k): v for k, v in value.items()}


def read(
    directory: Path, start_time: int = 0, cursor: str = "", limit: int = MAX_EVENTS
) -> tuple[list[LogLine], str]:
    """A function's complete lines written since ``cursor``, in time order, at most ``limit``
    of them, from invocations started at or after ``start_time`` (epoch ms); and the cursor
    that continues after them."""
    offsets = decode_cursor(cursor)
    limit = min(limit or MAX_EVENTS, MAX_EVENTS)
    # (sort key, line, file name, end offset)
    found: list[tuple[tuple[int, int, str, int], LogLine, str, int]] = []
    per_file: dict[str, list[tuple[int, bool]]] = {}  # name -> [(end offset, wanted)]
    next_offsets: dict[str, int] = {}
    paths = sorted(directory.glob("*.log")) if directory.is_dir() else []
    for path in paths:
        name = path.name
        entries, stream = _read_index(_index_path(path))
        try:
            with open(path, "rb") as log:
                size = log.seek(0, os.SEEK_END)
                offset = offsets.get(name, 0)
                if offset > size:  # truncated since: start over
                    offset = 0
                log.seek(offset)
                data = log.read(size - offset)
        except FileNotFoundError:
            continue
        complete = data[: data.rfind(b"\n") + 1]
        next_offsets[name] = offset
        born = entries[0][1] if entries else 0
        lines = per_file.setdefault(name, [])
        position = offset
        entry = 0
        for raw in complete.splitlines(keepends=True):
            while entry + 1 < len(entries) and entries[entry + 1][0] <= position:
                entry += 1
            stamp = entries[entry][1] if entries and entries[entry][0] <= position else born
            end = position + len(raw)
            wanted = stamp >= start_time
            lines.append((end, wanted))
            if wanted:
                line = LogLine(stamp, raw.rstrip(b"\r\n").decode("utf-8", "replace"), stream)
                found.append(((stamp, born, name, position), line, name, end))
            position = end
    found.sort(key=lambda item: item[0])
    returned = found[:limit]
    cut = {(name, end) for _, _, name, end in returned}
    for name, lines in per_file.items():
        for end, wanted in lines:  # advance past what was returned or filtered out, in order
            if wanted and (name, end) not in cut:
                break
            next_offsets[name] = end
    return [line for _, line, _, _ in returned], encode_cursor(next_offsets)
