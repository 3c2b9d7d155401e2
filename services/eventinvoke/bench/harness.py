"""Measurement shared by every side: the collector file, percentiles, the memory (RSS, USS, PSS)
and CPU time of a process tree, process-group cleanup, and the result shape of one system's
run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import psutil

MB = 1024 * 1024
SAMPLE_SECONDS = 0.1  # RSS: one read of /proc/<pid>/statm per process, ~0.01 ms
# USS and PSS come from /proc/<pid>/smaps_rollup, which walks the page tables: about 1 ms per
# Python process measured here, so 20 ms for eventinvoke's 16 sandboxes and servers. Every
# 100 ms that would take a fifth of a core from the systems under test; once a second it is 2%.
# Memory here grows by steps (a sandbox starting) and stays, so a sample a second (and one at
# the end of the run) does not miss the peak by much; the JSON records the measured cost.
FULL_SAMPLE_SECONDS = 1.0
# The latency CDF kept in the JSON: these percentiles of the reported run (the picture uses
# every latency, kept in memory only).
CDF_PERCENTILES = (0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97.5, 99, 99.5, 99.9, 100)


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
    peak_uss_mb: float = 0.0  # sampled less often than RSS: see FULL_SAMPLE_SECONDS
    peak_pss_mb: float = 0.0
    # Every latency of the paced phase (ms), for the picture; not written to the JSON.
    latencies: list[float] = field(default_factory=list, repr=False)

    @classmethod
    def measured(
        cls,
        plan: Plan,
        started: float,
        accepted_at: float,
        finished: float,
        latencies: list[float],
        offered: float,
    ) -> SystemResult:
        """The figures of a run's throughput phase (``plan.n`` events sent from ``started``,
        all accepted at ``accepted_at``, all done at ``finished``) and its paced phase; memory
        is each system's to add."""
        return cls(
            accept_per_s=plan.n / (accepted_at - started),
            e2e_per_s=plan.n / (finished - started),
            latency_ms=percentiles(latencies),
            peak_rss_mb=0.0,
            offered_rate=offered,
            latencies=latencies,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "accept_per_s": round(self.accept_per_s, 1),
            "e2e_per_s": round(self.e2e_per_s, 1),
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()},
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_uss_mb": round(self.peak_uss_mb, 1),
            "peak_pss_mb": round(self.peak_pss_mb, 1),
            "offered_rate_per_s": round(self.offered_rate, 1),
            **self.extra,
        }

    def take_memory(self, sampler: TreeSampler) -> None:
        """The sampler's peaks and what its sampling cost."""
        self.peak_rss_mb = sampler.peak_rss_mb
        self.peak_uss_mb = sampler.peak_uss_mb
        self.peak_pss_mb = sampler.peak_pss_mb
        self.extra["memory_sampling"] = sampler.cost()


def log_tail(path: Path) -> str:
    """The end of a system's log, for the error that stopped its run."""
    try:
        return path.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99 by nearest rank (no interpolation: every figure is a latency that happened).

    Not ``statistics.quantiles``, which always interpolates between two latencies."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no latencies to summarise")

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered))) - 1))
        return ordered[index]

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": ordered[-1]}


def cdf(values: Iterable[float]) -> list[list[float]]:
    """[percentile, latency ms] pairs at CDF_PERCENTILES, by nearest rank as ``percentiles``."""
    ordered = sorted(values)
    if not ordered:
        return []
    last = len(ordered) - 1
    return [
        [p, round(ordered[max(0, min(last, int(round(p / 100 * len(ordered))) - 1))], 2)]
        for p in CDF_PERCENTILES
    ]


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


@dataclass
class Memory:
    """A set of processes' memory, summed, in MB. RSS counts a page shared by two processes twice;
    USS counts only pages that one process alone maps (so pages shared within the set count
    nowhere); PSS divides each page among the processes that map it, so sums are fair."""

    rss_mb: float = 0.0
    uss_mb: float = 0.0
    pss_mb: float = 0.0

    def to_json(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}_rss_mb": round(self.rss_mb, 1),
            f"{prefix}_uss_mb": round(self.uss_mb, 1),
            f"{prefix}_pss_mb": round(self.pss_mb, 1),
        }


def rss_mb(processes: Iterable[psutil.Process]) -> float:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total / MB


def memory(processes: Iterable[psutil.Process]) -> Memory:
    """RSS, USS and PSS summed (``memory_full_info``: about 1 ms a process)."""
    total = Memory()
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            info = process.memory_full_info()
            total.rss_mb += info.rss / MB
            total.uss_mb += info.uss / MB
            total.pss_mb += info.pss / MB
    return total


class TreeSampler:
    """Sums the RSS of process trees every 100 ms on a thread, and their USS/PSS every second
    (and once more on exit); keeps the peaks, the CPU time of every process seen (an exited
    one's as last read), and every process seen (so cleanup can reach children outside the
    process group)."""

    def __init__(self, *pids: int, full_every: float = FULL_SAMPLE_SECONDS) -> None:
        self.pids = pids
        self.full_every = full_every
        self.peak_rss_mb = 0.0
        self.peak_uss_mb = 0.0
        self.peak_pss_mb = 0.0
        self.seen: dict[int, psutil.Process] = {}
        self.full_samples = 0
        self.full_seconds = 0.0  # time spent in memory_full_info, for cost()
        self._cpu: dict[int, float] = {}  # pid -> user + system seconds, as last read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sampler-{pids[0]}", daemon=True)

    def processes(self) -> list[psutil.Process]:
        found = [p for pid in self.pids for p in tree(pid)]
        self.seen.update((p.pid, p) for p in found)
        return found

    def cpu_seconds(self) -> float:
        """User and system CPU time of every process of the trees seen so far."""
        self._note_cpu(self.processes())
        return sum(self._cpu.values())

    def _note_cpu(self, processes: list[psutil.Process]) -> None:
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                self._cpu[process.pid] = times.user + times.system

    def _full(self, processes: list[psutil.Process]) -> None:
        started = time.perf_counter()
        sample = memory(processes)
        self.full_seconds += time.perf_counter() - started
        self.full_samples += 1
        self.peak_rss_mb = max(self.peak_rss_mb, sample.rss_mb)
        self.peak_uss_mb = max(self.peak_uss_mb, sample.uss_mb)
        self.peak_pss_mb = max(self.peak_pss_mb, sample.pss_mb)

    def _run(self) -> None:
        next_full = time.monotonic()
        while not self._stop.is_set():
            processes = self.processes()
            self._note_cpu(processes)  # so a process that exits is counted to within 100 ms
            if time.monotonic() >= next_full:
                self._full(processes)
                next_full = time.monotonic() + self.full_every
            else:
                self.peak_rss_mb = max(self.peak_rss_mb, rss_mb(processes))
            self._stop.wait(SAMPLE_SECONDS)

    def cost(self) -> dict[str, float]:
        """How the memory was sampled and what one USS/PSS sample of the whole tree took."""
        mean = self.full_seconds / self.full_samples if self.full_samples else 0.0
        return {
            "rss_every_s": SAMPLE_SECONDS,
            "uss_pss_every_s": self.full_every,
            "uss_pss_samples": self.full_samples,
            "uss_pss_sample_ms": round(mean * 1000, 1),
        }

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._full(self.processes())  # the end of the run: warm pools at their largest


class PhaseCpu:
    """The CPU time a system's processes (and its broker's, if it has one) used over one
    phase, per event: what the work cost, however well the system kept the cores busy; and
    the share of the machine's time its hypervisor gave to others meanwhile (steal)."""

    def __init__(self, system: TreeSampler, broker: TreeSampler | None = None) -> None:
        self.system = system
        self.broker = broker
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def __enter__(self) -> PhaseCpu:
        self._start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read()
        self.used = {key: end[key] - self._start[key] for key in end}

    def _read(self) -> dict[str, float]:
        machine = psutil.cpu_times()
        return {
            "system": self.system.cpu_seconds(),
            "broker": self.broker.cpu_seconds() if self.broker else 0.0,
            "steal": getattr(machine, "steal", 0.0),  # Linux only
            "machine": sum(machine),
        }

    def to_json(self, events: int) -> dict[str, float]:
        used = self.used
        figures = {
            "cpu_ms_per_event": round(used["system"] * 1000 / events, 3),
            "steal_percent": round(100 * used["steal"] / used["machine"], 1)
            if used["machine"]
            else 0.0,
        }
        if self.broker is not None:
            figures["broker_cpu_ms_per_event"] = round(used["broker"] * 1000 / events, 3)
        return figures


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
