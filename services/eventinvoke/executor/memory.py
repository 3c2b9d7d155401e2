"""How much memory a sandbox's processes hold, read from Linux's ``/proc``.

``tree_rss_kb`` is what the memory watch compares with a function's MemorySize while it runs;
``peak_rss_kb`` is the REPORT line's Max Memory Used.

Hand-written rather than psutil: ``psutil.Process.children()`` maps every process's parent by
reading ``/proc/*/stat`` of the whole machine, on each check (every 20 ms of every running
invocation), where ``/proc/<pid>/task/*/children`` lists just this tree; and psutil is a
compiled dependency the services do not otherwise need (only the bench uses it).
"""

from __future__ import annotations

import os
from pathlib import Path

PEAK_READ_INTERVAL = 1.0  # seconds between reads of a sandbox's peak memory (VmHWM)
WATCH_INTERVAL = 0.02  # seconds between checks of a running sandbox's RSS against its limit


def tree_rss_kb(pid: int) -> int:
    """Resident memory (VmRSS, KiB) of a process and its descendants; 0 once it is gone."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
                break
        pending.extend(child_pids(current))
    return total


def child_pids(pid: int) -> list[int]:
    """A process's children (Linux /proc); none once it is gone."""
    children: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            listing = Path(f"/proc/{pid}/task/{task}/children").read_text()
            children.extend(int(child) for child in listing.split())
    except (OSError, ValueError):
        pass
    return children


def peak_rss_kb(pid: int) -> int:
    """The peak resident set (VmHWM, KiB) of one process, children not counted; 0 once it is
    gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
