"""Measurement shared by both sides: the collector file, percentiles, RSS of a process tree,
process-group cleanup, and the result shape of one system's run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import psutil

MB = 1024 * 1024
SAMPLE_SECONDS = 0.1


@dataclass
class Plan:
    """What one run does; the same for both systems."""

    n: int  # throughput phase: invocations, as fast as C callers can go
    concurrency: int
    rate: float  # latency phase: offered load, events/s (below saturation)
    latency_events: int
    warmup: int  # events run (and waited for) before measuring, so pools and sandboxes are warm
    timeout: float  # longest wait for one phase's events to be done


@dataclass
class SystemResult:
    accept_per_s: float
    e2e_per_s: float
    latency_ms: dict[str, float]
    peak_rss_mb: float
    offered_rate: float  # what the latency phase really sent, events/s
    extra: dict[str, Any] = field(default_factory=dict)  # per-system figures (idle RSS, ...)

    def to_json(self) -> dict[str, Any]:
        return {
            "accept_per_s": round(self.accept_per_s, 1),
            "e2e_per_s": round(self.e2e_per_s, 1),
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()},
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "offered_rate_per_s": round(self.offered_rate, 1),
            **self.extra,
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99 by nearest rank (no interpolation: every figure is a latency that happened)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no latencies to summarise")

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered))) - 1))
        return ordered[index]

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": ordered[-1]}


class Collected:
    """The collector file, read incrementally: request id → the time the collector ran."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()
        self.times: dict[str, float] = {}
        self._offset = 0
        self._partial = b""

    def refresh(self) -> dict[str, float]:
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for the next read
        for line in lines:
            request_id, _, at = line.decode().partition(" ")
            # At least once: a repeat keeps the first run, which is when the event was done.
            self.times.setdefault(request_id, float(at))
        return self.times

    def done(self, ids: Iterable[str]) -> int:
        times = self.refresh()
        return sum(1 for i in ids if i in times)


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants (sandboxes lead their own session but stay children)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def rss_mb(processes: Iterable[psutil.Process]) -> float:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total / MB


class RssSampler:
    """Sums the RSS of process trees every 100 ms on a thread; keeps the peak and every process
    seen (so cleanup can reach children outside the process group)."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self.peak_mb = 0.0
        self.seen: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pids[0]}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            processes = [p for pid in self.pids for p in tree(pid)]
            self.seen.update((p.pid, p) for p in processes)
            self.peak_mb = max(self.peak_mb, rss_mb(processes))
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def stop_process(
    process: subprocess.Popen[bytes], seen: Iterable[psutil.Process] = (), grace: float = 15
) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` s, then kill any descendant we saw
    that outlived it (eventinvoke's sandboxes lead their own sessions). Safe to call twice."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    for straggler in seen:
        # is_running() compares the start time too, so a recycled pid is never killed.
        with contextlib.suppress(psutil.Error):
            if straggler.pid != process.pid and straggler.is_running():
                straggler.kill()


class Progress:
    """A ``click.progressbar`` over done events that also shows how many were accepted."""

    def __init__(self, label: str, total: int) -> None:
        self.accepted = 0
        self._done = 0
        self._bar: Any = click.progressbar(
            length=total,
            label=label,
            show_pos=True,
            item_show_func=lambda _: f"accepted {self.accepted}",
            file=None,
        )

    def __enter__(self) -> Progress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def done(self, count: int) -> None:
        if count > self._done:
            self._bar.update(count - self._done, current_item=count)
            self._done = count


def run_rounds(
    sides: Mapping[str, Callable[[Plan, Path], SystemResult]],
    plan: Plan,
    rounds: int,
    say: Callable[[str], object],
) -> dict[str, list[SystemResult]]:
    """``rounds`` rounds, each running every side in turn in a fresh temporary directory: a
    system's runs in the order they ran, round i's runs back to back."""
    results: dict[str, list[SystemResult]] = {name: [] for name in sides}
    for number in range(1, rounds + 1):
        for name, run in sides.items():
            say(f"== {name}" + (f" (round {number} of {rounds})" if rounds > 1 else ""))
            with tempfile.TemporaryDirectory(prefix=f"eventinvoke-bench-{name}-") as workdir:
                results[name].append(run(plan, Path(workdir)))
    return results
