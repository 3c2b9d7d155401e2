"""The run's JSON document (one object per system, ratios, machine) and its table."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sqlite3
from pathlib import Path
from typing import Any

import psutil

from eventinvoke.bench.harness import MB, Plan, SystemResult

LATENCY_KEYS = ("p50", "p95", "p99", "max")
# The systems, in the table's order: eventinvoke embedded, eventinvoke on PostgreSQL, the peer.
SYSTEMS = ("eventinvoke", "eventinvoke_postgres", "celery")
SATURATION = 0.8  # offered load above this share of e2e throughput is "near saturation"
VERSIONED = ("eventinvoke", "grpcio", "protobuf", "celery", "kombu", "redis", "psutil")


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
    return round(better_if_higher / other, 2) if other > 0 else None


def ratios(ei: dict[str, Any], celery: dict[str, Any]) -> dict[str, Any]:
    """eventinvoke over Celery for rates; Celery over eventinvoke for latency and memory, so that
    above 1 always means eventinvoke is better."""
    return {
        "accept_per_s": _ratio(ei["accept_per_s"], celery["accept_per_s"]),
        "e2e_per_s": _ratio(ei["e2e_per_s"], celery["e2e_per_s"]),
        "latency_ms": {
            k: _ratio(celery["latency_ms"][k], ei["latency_ms"][k]) for k in LATENCY_KEYS
        },
        "peak_rss_mb": _ratio(celery["peak_rss_mb"], ei["peak_rss_mb"]),
    }


def _median_index(values: list[float]) -> int:
    """Where the median is (of an even number, the lower of the two middle values)."""
    return sorted(range(len(values)), key=lambda i: values[i])[(len(values) - 1) // 2]


def reported_runs(results: dict[str, list[SystemResult]]) -> dict[str, SystemResult]:
    """The run that stands for each system, whole (never the best of each figure).

    With both systems, the round whose end-to-end ratio is the median: its two runs ran back to
    back, on the same machine, so every ratio of the table compares like with like. With one
    system, its run of median end-to-end throughput.
    """
    if "eventinvoke" in results and "celery" in results:
        by_round = _rounds(results)
        chosen = _median_index([r or 0.0 for r in by_round])
        return {name: runs[chosen] for name, runs in results.items()}
    return {
        name: runs[_median_index([run.e2e_per_s for run in runs])] for name, runs in results.items()
    }


def _rounds(results: dict[str, list[SystemResult]]) -> list[float | None]:
    """eventinvoke over Celery end to end, round by round, from the figures as reported."""
    return [
        _ratio(round(ei.e2e_per_s, 1), round(celery.e2e_per_s, 1))
        for ei, celery in zip(results["eventinvoke"], results["celery"], strict=True)
    ]


def document(
    plan: Plan, results: dict[str, list[SystemResult]], machine_info: dict[str, Any]
) -> dict[str, Any]:
    """``results`` holds each system's runs in the order they ran (rounds alternate systems)."""
    systems = {}
    for name, run in reported_runs(results).items():
        figures = run.to_json()
        figures["repeats"] = [
            {"accept_per_s": round(r.accept_per_s, 1), "e2e_per_s": round(r.e2e_per_s, 1)}
            for r in results[name]
        ]
        systems[name] = figures
    for figures in systems.values():
        # Latency is only meaningful below saturation: flag a run whose offered load was close
        # to what the system sustains (lower --rate on a small machine).
        figures["latency_near_saturation"] = (
            figures["offered_rate_per_s"] > SATURATION * figures["e2e_per_s"]
        )
    doc: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "n": plan.n,
        "concurrency": plan.concurrency,
        "rate": plan.rate,
        "latency_events": plan.latency_events,
        "repeat": max(len(runs) for runs in results.values()),
        "machine": machine_info,
        **systems,
    }
    if "eventinvoke" in systems and "celery" in systems:
        doc["ratio"] = ratios(systems["eventinvoke"], systems["celery"])
        doc["ratio"]["e2e_per_s_by_round"] = _rounds(results)
    if "eventinvoke" in systems and "eventinvoke_postgres" in systems:
        # Cluster mode's cost or gain over the embedded default, on the same machine and round.
        doc["ratio_postgres_to_embedded"] = {
            key: _ratio(systems["eventinvoke_postgres"][key], systems["eventinvoke"][key])
            for key in ("accept_per_s", "e2e_per_s")
        }
    return doc


def write(doc: dict[str, Any], output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    path = output / f"{datetime.date.today().isoformat()}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.1f}{unit}" if value < 100 else f"{value:,.0f}{unit}"


def table(doc: dict[str, Any]) -> str:
    """A pipe table (pastes into the README as Markdown) with a ratio row when both ran."""
    header = ["system", "accept/s", "e2e/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "peak RSS MB"]
    rows = []
    for name in SYSTEMS:
        if name in doc:
            s = doc[name]
            rows.append(
                [name.replace("_", " on "), _fmt(s["accept_per_s"]), _fmt(s["e2e_per_s"])]
                + [_fmt(s["latency_ms"][k]) for k in LATENCY_KEYS]
                + [_fmt(s["peak_rss_mb"])]
            )
    if "ratio" in doc:
        r = doc["ratio"]
        rows.append(
            ["ratio (>1: eventinvoke better)", _x(r["accept_per_s"]), _x(r["e2e_per_s"])]
            + [_x(r["latency_ms"][k]) for k in LATENCY_KEYS]
            + [_x(r["peak_rss_mb"])]
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [line(row) for row in rows]
    notes = [
        f"N={doc['n']} invocations, C={doc['concurrency']} callers; latency at "
        f"{doc['rate']:g}/s offered for {doc['latency_events']} events (send → collector ran)."
    ]
    if doc["repeat"] > 1 and "ratio" in doc:
        rounds = ", ".join(_x(r) for r in doc["ratio"]["e2e_per_s_by_round"])
        notes.append(
            f"{doc['repeat']} rounds, the systems taking turns; shown: the round with the median "
            f"e2e ratio (round by round: {rounds})."
        )
    elif doc["repeat"] > 1:
        notes.append(f"{doc['repeat']} runs; shown: each system's run of median e2e/s.")
    if "eventinvoke" in doc:
        ei = doc["eventinvoke"]
        notes.append(
            f"eventinvoke idle RSS {ei['idle_rss_mb']} MB (target < 150), warm Python sandbox "
            f"RSS {ei['sandbox_rss_mb']} MB (target < 30), {ei['sandboxes']} sandboxes at the end."
        )
    if "eventinvoke_postgres" in doc:
        pg = doc["eventinvoke_postgres"]
        vs = doc.get("ratio_postgres_to_embedded", {}).get("e2e_per_s")
        notes.append(
            f"eventinvoke on PostgreSQL: {pg['processes']} ({pg['postgres_server']}); end to end "
            + (f"{_x(vs)} the embedded figure of the same round." if vs else "alone.")
        )
    if "celery" in doc:
        broker = doc["celery"]["broker_rss_mb"]
        notes.append(f"Celery's Redis broker RSS {broker} MB (shared server, not in the table).")
    for name in SYSTEMS:
        if doc.get(name, {}).get("latency_near_saturation"):
            notes.append(
                f"WARNING: {doc['rate']:g}/s is over {SATURATION:.0%} of {name}'s e2e throughput "
                f"here, so its latency includes queueing; rerun with a lower --rate."
            )
    m = doc["machine"]
    notes.append(f"{m['cores']} cores, {m['cpu']}, Python {m['python']}.")
    return "\n".join(lines + [""] + notes)


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"
