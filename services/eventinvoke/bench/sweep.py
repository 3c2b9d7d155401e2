"""``eventinvoke bench --sweep``: the same work at growing N (1k, 10k, 100k by default) on
eventinvoke, embedded and in cluster mode, one run per system and size, so that a user sees how
cost grows with the work: throughput, wall time, peak memory, and what the database holds on
disk (the SQLite file and its WAL; PostgreSQL's ``pg_database_size``) after the run."""

from __future__ import annotations

import datetime
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eventinvoke.bench.harness import Plan, SystemResult
from eventinvoke.bench.report_table import label

DEFAULT_SIZES = (1000, 10_000, 100_000)
ROW_KEYS = (
    "accept_per_s",
    "e2e_per_s",
    "peak_rss_mb",
    "peak_uss_mb",
    "peak_pss_mb",
    "database_mb",
    "data_dir_mb",
)


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or any(n < 1 for n in sizes):
        raise ValueError(f"--sweep takes sizes like 1000,10000; got {text!r}")
    return sizes


def run(
    sides: Mapping[str, Callable[[Plan, Path], SystemResult]],
    sizes: list[int],
    plan_for: Callable[[int], Plan],
    say: Callable[[str], object],
) -> list[dict[str, Any]]:
    """Each size in turn, every system at that size before the next (so a slow minute shows
    in neighbouring rows, not in one system's whole curve)."""
    rows = []
    for n in sizes:
        for name, side in sides.items():
            say(f"== {name}, N={n:,}")
            with tempfile.TemporaryDirectory(prefix=f"eventinvoke-sweep-{name}-") as workdir:
                started = time.monotonic()
                result = side(plan_for(n), Path(workdir))
                seconds = time.monotonic() - started
            figures = result.to_json()
            rows.append(
                {
                    "system": name,
                    "n": n,
                    **{key: figures.get(key) for key in ROW_KEYS},
                    "latency_ms": figures["latency_ms"],
                    "idle_rss_mb": figures.get("idle_rss_mb"),
                    "wall_s": round(seconds, 1),  # the whole run: start, phases, stop
                }
            )
    return rows


def document(plan: Plan, rows: list[dict[str, Any]], machine: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "sizes": sorted({row["n"] for row in rows}),
        "concurrency": plan.concurrency,
        "rate": plan.rate,
        "latency_events": plan.latency_events,
        "machine": machine,
        "rows": rows,
        "growth": {},
    }
    for system in dict.fromkeys(row["system"] for row in rows):
        mine = sorted((r for r in rows if r["system"] == system), key=lambda r: r["n"])
        small, large = mine[0], mine[-1]
        if large["n"] == small["n"]:
            continue
        # From the smallest N to the largest, how each figure grew (1.0: flat).
        doc["growth"][system] = {
            "n": round(large["n"] / small["n"], 2),
            **{
                key: round(large[key] / small[key], 2) if small.get(key) else None
                for key in ("e2e_per_s", "wall_s", "peak_rss_mb", "peak_pss_mb", "database_mb")
            },
        }
    return doc


HEADER = [
    "system",
    "N",
    "accept/s",
    "e2e/s",
    "wall s",
    "peak RSS MB",
    "peak USS MB",
    "peak PSS MB",
    "database MB",
    "data dir MB",
]


def table(doc: dict[str, Any]) -> str:
    rows = [
        [
            label(r["system"]),
            f"{r['n']:,}",
            f"{r['accept_per_s']:,.0f}",
            f"{r['e2e_per_s']:,.0f}",
            f"{r['wall_s']:,.1f}",
            f"{r['peak_rss_mb']:,.0f}",
            f"{r['peak_uss_mb']:,.0f}",
            f"{r['peak_pss_mb']:,.0f}",
            f"{r['database_mb']:,.1f}",
            f"{r['data_dir_mb']:,.1f}",
        ]
        for r in doc["rows"]
    ]
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [line(row) for row in rows]
    lines.append("")
    lines.append(
        f"C={doc['concurrency']} callers; one run per system and size; wall s is the whole run "
        f"(start, warm-up, throughput, {doc['latency_events']} events at {doc['rate']:g}/s, "
        "stop); database: the SQLite file and WAL, or pg_database_size, after the run."
    )
    for system, g in doc["growth"].items():
        out = ", ".join(
            f"{key} ×{value}" for key, value in g.items() if key != "n" and value is not None
        )
        lines.append(f"{label(system)}, N ×{g['n']}: {out}.")
    return "\n".join(lines)
