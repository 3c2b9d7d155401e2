"""The run's table: a Markdown pipe table (it pastes into the README) and notes under it."""

from __future__ import annotations

from typing import Any

from eventinvoke.bench.report import LATENCY_KEYS, MEMORY_KEYS, PEERS, SATURATION, SYSTEMS

HEADER = [
    "system",
    "accept/s",
    "e2e/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "peak RSS MB",
    "peak USS MB",
    "peak PSS MB",
]


def label(name: str) -> str:
    return name.replace("_", " on ")


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _ratio_row(title: str, r: dict[str, Any]) -> list[str]:
    return (
        [title, _x(r["accept_per_s"]), _x(r["e2e_per_s"])]
        + [_x(r["latency_ms"][k]) for k in LATENCY_KEYS]
        + [_x(r.get(k)) for k in MEMORY_KEYS]
    )


def table(doc: dict[str, Any]) -> str:
    """The systems' rows, then eventinvoke's ratios to Celery and to the best peer, then notes."""
    rows = []
    for name in SYSTEMS:
        if name in doc:
            s = doc[name]
            rows.append(
                [label(name), _fmt(s["accept_per_s"]), _fmt(s["e2e_per_s"])]
                + [_fmt(s["latency_ms"][k]) for k in LATENCY_KEYS]
                + [_fmt(s.get(k)) for k in MEMORY_KEYS]
            )
    if "ratio" in doc:
        rows.append(_ratio_row("eventinvoke ÷ celery (>1: eventinvoke better)", doc["ratio"]))
    if "ratio_best_peer" in doc:
        rows.append(_ratio_row("eventinvoke ÷ best peer", doc["ratio_best_peer"]))
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [line(row) for row in rows]
    return "\n".join(lines + [""] + notes(doc))


def notes(doc: dict[str, Any]) -> list[str]:
    out = [
        f"N={doc['n']} invocations, C={doc['concurrency']} callers; latency at "
        f"{doc['rate']:g}/s offered for {doc['latency_events']} events (send → collector ran)."
    ]
    ran = [name for name in SYSTEMS if name in doc]
    if doc["repeat"] > 1 and "ratio_best_peer" in doc:
        best = doc["ratio_best_peer"]
        rounds = ", ".join(
            f"{_x(r)} ({peer})"
            for r, peer in zip(best["e2e_per_s_by_round"], best["best_peer_by_round"], strict=True)
        )
        out.append(
            f"{doc['repeat']} rounds, the systems taking turns ({', '.join(ran)}); shown: round "
            f"{doc['reported']['round']} whole, the round whose e2e ratio of eventinvoke to the "
            f"best peer is the median (round by round: {rounds})."
        )
    elif doc["repeat"] > 1:
        out.append(f"{doc['repeat']} runs; shown: each system's run of median e2e/s.")
    if doc["repeat"] > 1:
        for name in ran:
            each = ", ".join(_fmt(r["e2e_per_s"]) for r in doc[name]["repeats"])
            median = _fmt(doc[name]["e2e_per_s_median"])
            out.append(f"  {label(name)} e2e/s by round: {each} (median {median}).")
    if "ratio_best_peer" in doc:
        picks = doc["ratio_best_peer"]["best_peer"]
        out.append(
            "Best peer per figure: "
            + ", ".join(
                f"{key} {picks[key]}" for key in ("accept_per_s", "e2e_per_s", *MEMORY_KEYS)
            )
            + ", latency "
            + "/".join(picks["latency_ms"][k] for k in LATENCY_KEYS)
            + " (p50/p95/p99/max)."
        )
    out.append(
        "Memory: RSS counts a shared page once per process; USS only pages one process alone "
        "maps; PSS shares each page among the processes that map it (the fair sum)."
    )
    if "eventinvoke" in doc:
        ei = doc["eventinvoke"]
        out.append(
            f"eventinvoke idle {_mem(ei, 'idle')}; largest warm Python sandbox "
            f"{_mem(ei, 'sandbox')}; at the end {ei['sandboxes']} sandboxes and the servers "
            f"without them {_mem(ei, 'servers')}; database {ei['database_mb']} MB."
        )
    if "eventinvoke_postgres" in doc:
        pg = doc["eventinvoke_postgres"]
        vs = doc.get("ratio_postgres_to_embedded", {}).get("e2e_per_s")
        out.append(
            f"eventinvoke on PostgreSQL: {pg['processes']} ({pg['postgres_server']}); end to end "
            + (f"{_x(vs)} the embedded figure of the same round." if vs else "alone.")
        )
    for name in PEERS:
        if name in doc:
            p = doc[name]
            out.append(
                f"{name}: {_settings(name, p['settings'])}; {p['processes']} processes, after "
                f"the warm-up {_mem(p, 'idle')}; its Redis broker RSS {p['broker_rss_mb']} MB "
                f"(shared server, not in the table)."
            )
    if any("cpu_ms_per_event" in doc.get(name, {}) for name in SYSTEMS):
        out.append(
            "CPU per event in the throughput phase, ms (the system's processes, + its Redis "
            "broker's; PostgreSQL's not counted), and the machine's steal meanwhile: "
            + ", ".join(_cpu(name, doc[name]) for name in ran if "cpu_ms_per_event" in doc[name])
            + "."
        )
    for name in SYSTEMS:
        if doc.get(name, {}).get("latency_near_saturation"):
            out.append(
                f"WARNING: {doc['rate']:g}/s is over {SATURATION:.0%} of {name}'s e2e throughput "
                f"here, so its latency includes queueing; rerun with a lower --rate."
            )
    m = doc["machine"]
    out.append(f"{m['cores']} cores, {m['cpu']}, Python {m['python']}.")
    return out


def _cpu(name: str, figures: dict[str, Any]) -> str:
    broker = figures.get("broker_cpu_ms_per_event")
    cpu = f"{figures['cpu_ms_per_event']:.2f}" + (f" + {broker:.2f}" if broker is not None else "")
    return f"{label(name)} {cpu} (steal {figures['steal_percent']}%)"


def _mem(figures: dict[str, Any], prefix: str) -> str:
    return (
        f"RSS/USS/PSS {figures.get(f'{prefix}_rss_mb', 'n/a')}/"
        f"{figures.get(f'{prefix}_uss_mb', 'n/a')}/{figures.get(f'{prefix}_pss_mb', 'n/a')} MB"
    )


def _settings(name: str, s: dict[str, Any]) -> str:
    if name == "celery":
        return (
            f"{s['pool']} ×{s['concurrency']}, prefetch multiplier "
            f"{s['worker_prefetch_multiplier']}, acks late {s['task_acks_late']}"
        )
    return (
        f"{s['processes']} processes × {s['threads']} threads, prefetch {s['queue_prefetch']}, "
        f"pipeline echo → collect"
    )
