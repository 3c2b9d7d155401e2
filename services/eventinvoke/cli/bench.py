"""``eventinvoke bench``: eventinvoke (embedded, and on PostgreSQL) against Celery and Dramatiq
on the same work, in one run on this machine (by default three rounds, the systems taking
turns; the round of median eventinvoke/best-peer ratio reported whole), with a picture; or,
with ``--sweep``, eventinvoke alone at growing N."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

# Defaults from issue #3; --quick is CI's smoke run (it proves the bench works, not a speed).
FULL = {"n": 5000, "concurrency": 64, "latency_events": 1000, "repeat": 3}
QUICK = {"n": 300, "concurrency": 16, "latency_events": 100, "repeat": 1}
# The sweep measures cost against N; a short latency phase keeps its rows comparable.
SWEEP_LATENCY_EVENTS = {"full": 200, "quick": 50}
WARMUP = 16
SYSTEMS = ["eventinvoke", "eventinvoke_postgres", "celery", "dramatiq"]
SWEEP_SYSTEMS = ["eventinvoke", "eventinvoke_postgres"]
SWEEP_DEFAULT = "1000,10000,100000"


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
        help="Rounds, the systems taking turns [3; 1 with --quick]. The round whose end-to-end "
        "ratio of eventinvoke to the best peer is the median is reported whole: on a shared "
        "machine one system's run can catch the machine busier than another's.",
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
        help="Directory for <YYYY-MM-DD>.json and .svg (or <YYYY-MM-DD>-sweep.json).",
    )
    @click.option(
        "--only",
        type=click.Choice(SYSTEMS),
        help="Run one system (no ratio rows).",
    )
    @click.option(
        "--sweep",
        "sweep_sizes",
        is_flag=False,
        flag_value=SWEEP_DEFAULT,
        default=None,
        metavar="[N,N,...]",
        help=f"Run eventinvoke (embedded and cluster mode) once at each N [{SWEEP_DEFAULT}] and "
        "report throughput, memory and database size per N.",
    )
    def bench(
        quick: bool,
        n: int | None,
        concurrency: int | None,
        repeat: int | None,
        rate: float,
        output: Path,
        only: str | None,
        sweep_sizes: str | None,
    ) -> None:
        """Run N async invocations with an OnSuccess destination on eventinvoke, on Celery and on
        Dramatiq (Redis broker), and report accept rate, throughput, latency and memory."""
        # Imported here so that other commands start fast.
        from eventinvoke.bench import celery_side, dramatiq_side, eventinvoke_side, peers
        from eventinvoke.bench import report as report_

        sizes: dict[str, Any] = QUICK if quick else FULL
        c = concurrency or sizes["concurrency"]
        # SIGTERM unwinds like Ctrl-C, so every `finally` stops the servers it started.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        sides = {
            "eventinvoke": eventinvoke_side.run,
            # Cluster mode: the same work on PostgreSQL, two executor processes.
            "eventinvoke_postgres": eventinvoke_side.run_postgres,
            "celery": celery_side.run,
            "dramatiq": dramatiq_side.run,
        }
        machine = report_.machine(peers.redis_version())
        if sweep_sizes is not None:
            _sweep(sides, sweep_sizes, quick, c, rate, only, output, machine)
            return

        from eventinvoke.bench import plot, report_table
        from eventinvoke.bench.harness import Plan, run_rounds

        plan = Plan(
            n=n or sizes["n"],
            concurrency=c,
            rate=rate,
            latency_events=sizes["latency_events"],
            warmup=WARMUP,
            timeout=120 + (n or sizes["n"]) / 10,
        )
        if only:
            sides = {only: sides[only]}
        results = run_rounds(sides, plan, repeat or sizes["repeat"], click.echo)
        doc = report_.document(plan, results, machine)
        click.echo()
        click.echo(report_table.table(doc))
        path = report_.write(doc, output)
        runs = report_.reported_runs(results)
        picture = plot.draw(
            doc, {name: r.latencies for name, r in runs.items()}, path.with_suffix(".svg")
        )
        click.echo(f"\nwrote {path} and {picture}")


def _sweep(
    sides: dict[str, Any],
    text: str,
    quick: bool,
    concurrency: int,
    rate: float,
    only: str | None,
    output: Path,
    machine: dict[str, Any],
) -> None:
    from eventinvoke.bench import report, sweep
    from eventinvoke.bench.harness import Plan

    try:
        sizes = sweep.parse_sizes(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--sweep") from None
    if only and only not in SWEEP_SYSTEMS:
        raise click.BadParameter(
            f"the sweep runs {' or '.join(SWEEP_SYSTEMS)}", param_hint="--only"
        )
    chosen = {name: sides[name] for name in ([only] if only else SWEEP_SYSTEMS)}
    latency_events = SWEEP_LATENCY_EVENTS["quick" if quick else "full"]

    def plan_for(n: int) -> Plan:
        return Plan(
            n=n,
            concurrency=concurrency,
            rate=rate,
            latency_events=latency_events,
            warmup=WARMUP,
            timeout=120 + n / 10,
        )

    rows = sweep.run(chosen, sizes, plan_for, click.echo)
    doc = sweep.document(plan_for(sizes[0]), rows, machine)
    click.echo()
    click.echo(sweep.table(doc))
    path = report.write(doc, output, suffix="-sweep.json")
    click.echo(f"\nwrote {path}")
