"""``eventinvoke bench``: eventinvoke (embedded, and on PostgreSQL) against Celery on the same
work, in one run on this machine (by default three rounds, the systems taking turns; the round
with the median ratio reported)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

# Defaults from issue #3; --quick is CI's smoke run (it proves the bench works, not a speed).
FULL = {"n": 5000, "concurrency": 64, "latency_events": 1000, "repeat": 3}
QUICK = {"n": 300, "concurrency": 16, "latency_events": 100, "repeat": 1}
WARMUP = 16


def register(group: click.Group) -> None:
    """Add ``bench`` to the CLI."""

    @group.command("bench")
    @click.option("--quick", is_flag=True, help="A small run for CI smoke (N=300, C=16).")
    @click.option(
        "-n", "n", type=click.IntRange(1), help="Invocations in the throughput phase [5000]."
    )
    @click.option("-c", "concurrency", type=click.IntRange(1), help="Concurrent callers [64].")
    @click.option(
        "--repeat",
        type=click.IntRange(1),
        help="Rounds, the systems taking turns [3; 1 with --quick]. The round with the median "
        "end-to-end ratio is reported: on a shared machine one system's run can catch the "
        "machine busier than the other's.",
    )
    @click.option(
        "--rate",
        type=click.FloatRange(min=1),
        default=200.0,
        show_default=True,
        help="Offered load (events/s) of the latency phase; keep it below saturation.",
    )
    @click.option(
        "--output",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("bench/results"),
        show_default=True,
        help="Directory for <YYYY-MM-DD>.json.",
    )
    @click.option(
        "--only",
        type=click.Choice(["eventinvoke", "eventinvoke_postgres", "celery"]),
        help="Run one system (no ratio row).",
    )
    def bench(
        quick: bool,
        n: int | None,
        concurrency: int | None,
        repeat: int | None,
        rate: float,
        output: Path,
        only: str | None,
    ) -> None:
        """Run N async invocations with an OnSuccess destination on eventinvoke and on Celery
        (Redis broker), and report accept rate, throughput, latency and memory."""
        # Imported here so that other commands start fast.
        from eventinvoke.bench import celery_side, eventinvoke_side, report
        from eventinvoke.bench.harness import Plan, run_rounds

        sizes: dict[str, Any] = QUICK if quick else FULL
        plan = Plan(
            n=n or sizes["n"],
            concurrency=concurrency or sizes["concurrency"],
            rate=rate,
            latency_events=sizes["latency_events"],
            warmup=WARMUP,
            timeout=120 + (n or sizes["n"]) / 10,
        )
        # SIGTERM unwinds like Ctrl-C, so every `finally` stops the servers it started.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        sides = {
            "eventinvoke": eventinvoke_side.run,
            # Cluster mode: the same work on PostgreSQL, two executor processes.
            "eventinvoke_postgres": eventinvoke_side.run_postgres,
            "celery": celery_side.run,
        }
        if only:
            sides = {only: sides[only]}
        results = run_rounds(sides, plan, repeat or sizes["repeat"], click.echo)
        doc = report.document(plan, results, report.machine(celery_side.redis_version()))
        click.echo()
        click.echo(report.table(doc))
        path = report.write(doc, output)
        click.echo(f"\nwrote {path}")
