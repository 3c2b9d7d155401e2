"""The run's JSON document: one object per system, the ratios, the machine.

Which runs are reported. The bench runs R rounds; in each, every system runs once, in turn
(eventinvoke, eventinvoke_postgres, celery, dramatiq), so a busy minute on this shared machine
falls on neighbours alike. Each round gives a ratio: eventinvoke's (embedded) end-to-end rate
over the best peer's of that round (the faster of Celery and Dramatiq). The round whose ratio
is the median of the R (of an even number, the lower middle one) is reported whole: every
figure of every system comes from that round's runs, so the table's ratios compare runs made
minutes apart, never the best of one system's runs with the worst of another's, and never
figures of different runs mixed into one row. The JSON also keeps every run's throughput
(``repeats``), each system's median end-to-end rate over the rounds (``e2e_per_s_median``), and
both ratios round by round, so a reader can see how much the rounds differ. With no peer in the
run (``--only``), each system's run of median end-to-end rate is reported.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sqlite3
import statistics
from pathlib import Path
from typing import Any

import psutil

from eventinvoke.bench.harness import MB, Plan, SystemResult

LATENCY_KEYS = ("p50", "p95", "p99", "max")
MEMORY_KEYS = ("peak_rss_mb", "peak_uss_mb", "peak_pss_mb")
RATE_KEYS = ("accept_per_s", "e2e_per_s")
# The systems, in the table's order: eventinvoke embedded, eventinvoke on PostgreSQL, the peers.
SYSTEMS = ("eventinvoke", "eventinvoke_postgres", "celery", "dramatiq")
PEERS = ("celery", "dramatiq")
SATURATION = 0.8  # offered load above this share of e2e throughput is "near saturation"
VERSIONED = (
    "eventinvoke",
    "grpcio",
    "protobuf",
    "celery",
    "kombu",
    "dramatiq",
    "redis",
    "psutil",
    "matplotlib",
)


def machine(redis_server: str) -> dict[str, Any]:
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["sqlite"] = sqlite3.sqlite_version
    versions["redis_server"] = redis_server
    return {
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "cpu": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / MB / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ratio(better_if_higher: float, other: float) -> float | None:
    return round(better_if_higher / other, 2) if other > 0 and better_if_higher > 0 else None


def ratios(ei: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """eventinvoke over the peer for rates; the peer over eventinvoke for latency and memory, so
    that above 1 always means eventinvoke is better."""
    return {
        **{key: _ratio(ei[key], peer[key]) for key in RATE_KEYS},
        "latency_ms": {k: _ratio(peer["latency_ms"][k], ei["latency_ms"][k]) for k in LATENCY_KEYS},
        **{key: _ratio(peer.get(key, 0.0), ei.get(key, 0.0)) for key in MEMORY_KEYS},
    }


def best_peer_ratios(ei: dict[str, Any], peers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Like ``ratios``, each figure against the peer best at it (the higher rate, the lower
    latency or memory); ``best_peer`` names which peer that was, figure by figure."""
    if not peers:
        return {}

    def best(value: Any, higher_is_better: bool) -> str:
        known = {name: value(figures) for name, figures in peers.items() if value(figures) > 0}
        if not known:
            return next(iter(peers))
        pick = max if higher_is_better else min
        return pick(known, key=lambda name: known[name])

    result: dict[str, Any] = {}
    names: dict[str, Any] = {}
    for key in RATE_KEYS:
        names[key] = best(lambda f, key=key: f[key], True)
        result[key] = _ratio(ei[key], peers[names[key]][key])
    result["latency_ms"], names["latency_ms"] = {}, {}
    for k in LATENCY_KEYS:
        names["latency_ms"][k] = best(lambda f, k=k: f["latency_ms"][k], False)
        result["latency_ms"][k] = _ratio(
            peers[names["latency_ms"][k]]["latency_ms"][k], ei["latency_ms"][k]
        )
    for key in MEMORY_KEYS:
        names[key] = best(lambda f, key=key: f.get(key, 0.0), False)
        result[key] = _ratio(peers[names[key]].get(key, 0.0), ei.get(key, 0.0))
    result["best_peer"] = names
    return result


def _median_index(values: list[float]) -> int:
    """Where the median is (of an even number, the lower of the two middle values)."""
    return sorted(range(len(values)), key=lambda i: values[i])[(len(values) - 1) // 2]


def _peers(results: dict[str, list[SystemResult]]) -> list[str]:
    return [name for name in PEERS if name in results]


def reported_round(results: dict[str, list[SystemResult]]) -> int | None:
    """The index of the round reported whole, or None when there is no eventinvoke/peer pair."""
    if "eventinvoke" not in results or not _peers(results):
        return None
    return _median_index([r or 0.0 for r in best_peer_by_round(results)[0]])


def reported_runs(results: dict[str, list[SystemResult]]) -> dict[str, SystemResult]:
    """The run that stands for each system, whole (see the module's docstring)."""
    chosen = reported_round(results)
    if chosen is not None:
        return {name: runs[chosen] for name, runs in results.items()}
    return {
        name: runs[_median_index([run.e2e_per_s for run in runs])] for name, runs in results.items()
    }


def by_round(results: dict[str, list[SystemResult]], peer: str) -> list[float | None]:
    """eventinvoke over ``peer`` end to end, round by round, from the figures as reported."""
    return [
        _ratio(round(ei.e2e_per_s, 1), round(other.e2e_per_s, 1))
        for ei, other in zip(results["eventinvoke"], results[peer], strict=True)
    ]


def best_peer_by_round(
    results: dict[str, list[SystemResult]],
) -> tuple[list[float | None], list[str]]:
    """eventinvoke over the round's faster peer end to end, and which peer that was."""
    ratios_: list[float | None] = []
    names: list[str] = []
    for i, ei in enumerate(results["eventinvoke"]):
        name = max(_peers(results), key=lambda p: results[p][i].e2e_per_s)
        names.append(name)
        ratios_.append(_ratio(round(ei.e2e_per_s, 1), round(results[name][i].e2e_per_s, 1)))
    return ratios_, names


def document(
    plan: Plan, results: dict[str, list[SystemResult]], machine_info: dict[str, Any]
) -> dict[str, Any]:
    """``results`` holds each system's runs in the order they ran (rounds alternate systems)."""
    systems = {}
    runs = reported_runs(results)
    for name in [*SYSTEMS, *(n for n in runs if n not in SYSTEMS)]:
        if name not in runs:
            continue
        figures = runs[name].to_json()
        figures["repeats"] = [
            {"accept_per_s": round(r.accept_per_s, 1), "e2e_per_s": round(r.e2e_per_s, 1)}
            for r in results[name]
        ]
        figures["e2e_per_s_median"] = round(
            statistics.median(r.e2e_per_s for r in results[name]), 1
        )
        # Latency is only meaningful below saturation: flag a run whose offered load was close
        # to what the system sustains (lower --rate on a small machine).
        figures["latency_near_saturation"] = (
            figures["offered_rate_per_s"] > SATURATION * figures["e2e_per_s"]
        )
        systems[name] = figures
    chosen = reported_round(results)
    doc: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "n": plan.n,
        "concurrency": plan.concurrency,
        "rate": plan.rate,
        "latency_events": plan.latency_events,
        "repeat": max(len(runs) for runs in results.values()),
        "order": list(results),
        "reported": (
            {"round": chosen + 1, "how": "the round of median e2e ratio to the best peer, whole"}
            if chosen is not None
            else {"round": None, "how": "each system's run of median e2e rate"}
        ),
        "machine": machine_info,
        **systems,
    }
    if "eventinvoke" in systems and "celery" in systems:
        doc["ratio"] = ratios(systems["eventinvoke"], systems["celery"])
        doc["ratio"]["e2e_per_s_by_round"] = by_round(results, "celery")
    peers = {name: systems[name] for name in PEERS if name in systems}
    if "eventinvoke" in systems and peers:
        doc["ratio_best_peer"] = best_peer_ratios(systems["eventinvoke"], peers)
        by_round_, names = best_peer_by_round(results)
        doc["ratio_best_peer"]["e2e_per_s_by_round"] = by_round_
        doc["ratio_best_peer"]["best_peer_by_round"] = names
    if "eventinvoke" in systems and "eventinvoke_postgres" in systems:
        # Cluster mode's cost or gain over the embedded default, on the same machine and round.
        doc["ratio_postgres_to_embedded"] = {
            key: _ratio(systems["eventinvoke_postgres"][key], systems["eventinvoke"][key])
            for key in RATE_KEYS
        }
    return doc


def write(doc: dict[str, Any], output: Path, suffix: str = ".json") -> Path:
    output.mkdir(parents=True, exist_ok=True)
    path = output / f"{datetime.date.today().isoformat()}{suffix}"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path
