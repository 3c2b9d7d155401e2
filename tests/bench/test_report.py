"""The bench's document from several rounds: the round whose end-to-end ratio of eventinvoke to
the best peer (Celery or Dramatiq, whichever was faster in that round) is the median is reported
whole; the ratios are also given round by round; ``ratio_best_peer`` compares each figure with
the peer best at it. And the rounds themselves: the systems take turns, each run in a directory
of its own. And the picture and the sweep's document, drawn from fixed figures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from eventinvoke.bench import plot, sweep
from eventinvoke.bench.harness import Plan, SystemResult, cdf, percentiles, run_rounds
from eventinvoke.bench.report import document
from eventinvoke.bench.report_table import table

PLAN = Plan(n=100, concurrency=4, rate=50, latency_events=10, warmup=1, timeout=10)
MACHINE = {"cores": 2, "cpu": "test", "python": "3.11"}
MEMORY = {
    f"{p}_{m}_mb": 10.0 for p in ("idle", "sandbox", "servers") for m in ("rss", "uss", "pss")
}
EI: dict[str, object] = {**MEMORY, "sandboxes": 2, "database_mb": 1.0}
SETTINGS_CELERY = {
    "pool": "prefork",
    "concurrency": 2,
    "worker_prefetch_multiplier": 64,
    "task_acks_late": True,
}
SETTINGS_DRAMATIQ = {"processes": 2, "threads": 8, "queue_prefetch": 16}
PEER = {**MEMORY, "broker_rss_mb": 14.0, "processes": 3}


def _run(
    e2e: float, p50: float, extra: dict[str, object], rss: float = 100.0, uss: float = 50.0
) -> SystemResult:
    latency = {"p50": p50, "p95": p50 * 2, "p99": p50 * 3, "max": p50 * 4}
    return SystemResult(e2e * 5, e2e, latency, rss, 50.0, dict(extra), uss, uss * 1.2)


def _celery(e2e: float, p50: float) -> SystemResult:
    return _run(e2e, p50, {**PEER, "settings": SETTINGS_CELERY}, rss=150.0, uss=60.0)


def _dramatiq(e2e: float, p50: float) -> SystemResult:
    return _run(e2e, p50, {**PEER, "settings": SETTINGS_DRAMATIQ}, rss=80.0, uss=40.0)


def test_the_round_of_median_best_peer_ratio_is_reported_whole() -> None:
    doc = document(
        PLAN,
        {
            "eventinvoke": [_run(1500, 3.0, EI), _run(1200, 9.0, EI), _run(1800, 5.0, EI)],
            "celery": [_celery(300, 40.0), _celery(600, 60.0), _celery(200, 50.0)],
            "dramatiq": [_dramatiq(600, 20.0), _dramatiq(400, 2.0), _dramatiq(600, 10.0)],
        },
        MACHINE,
    )

    assert doc["repeat"] == 3
    assert doc["order"] == ["eventinvoke", "celery", "dramatiq"]
    best = doc["ratio_best_peer"]
    # Round by round against the faster peer: 1500/600, 1200/600 (Celery), 1800/600.
    assert best["e2e_per_s_by_round"] == [2.5, 2.0, 3.0]
    assert best["best_peer_by_round"] == ["dramatiq", "celery", "dramatiq"]
    # Against Celery alone the rounds were 5.0x, 2.0x, 9.0x: still reported, round by round.
    assert doc["ratio"]["e2e_per_s_by_round"] == [5.0, 2.0, 9.0]
    # Round 1 (2.5x, the median): every system's figures from it, latency included.
    assert doc["reported"]["round"] == 1
    assert doc["eventinvoke"]["e2e_per_s"] == 1500
    assert doc["celery"]["e2e_per_s"] == 300 and doc["dramatiq"]["e2e_per_s"] == 600
    assert doc["eventinvoke"]["latency_ms"]["p50"] == 3.0
    assert doc["celery"]["latency_ms"]["p50"] == 40.0
    # Every figure against the peer best at it in that round.
    assert best["e2e_per_s"] == 2.5 and best["best_peer"]["e2e_per_s"] == "dramatiq"
    assert best["latency_ms"]["p50"] == round(20.0 / 3.0, 2)
    assert best["best_peer"]["latency_ms"]["p50"] == "dramatiq"
    assert best["peak_rss_mb"] == 0.8 and best["best_peer"]["peak_rss_mb"] == "dramatiq"
    assert best["peak_uss_mb"] == 0.8
    assert doc["ratio"]["e2e_per_s"] == 5.0
    assert doc["ratio"]["latency_ms"]["p50"] == round(40.0 / 3.0, 2)
    assert doc["ratio"]["peak_rss_mb"] == 1.5
    # Each system's runs and its median over the rounds stay in the JSON.
    assert [r["e2e_per_s"] for r in doc["eventinvoke"]["repeats"]] == [1500, 1200, 1800]
    assert doc["eventinvoke"]["e2e_per_s_median"] == 1500
    assert doc["celery"]["e2e_per_s_median"] == 300
    text = table(doc)
    assert "shown: round 1 whole" in text
    assert "(round by round: 2.50x (dramatiq), 2.00x (celery), 3.00x (dramatiq))" in text
    assert "| eventinvoke ÷ best peer" in text and "| dramatiq" in text


def test_the_best_peer_may_differ_figure_by_figure() -> None:
    doc = document(
        PLAN,
        {
            "eventinvoke": [_run(1000, 4.0, EI)],
            "celery": [_celery(300, 2.0)],  # slower, but quicker to answer at the offered rate
            "dramatiq": [_dramatiq(800, 8.0)],
        },
        MACHINE,
    )
    best = doc["ratio_best_peer"]
    assert best["best_peer"]["e2e_per_s"] == "dramatiq" and best["e2e_per_s"] == 1.25
    assert best["best_peer"]["latency_ms"]["p50"] == "celery"
    assert best["latency_ms"]["p50"] == 0.5  # below 1: the best peer is better there


def test_one_system_alone_is_its_run_of_median_throughput() -> None:
    runs = [_run(1000, 3.0, EI), _run(3000, 3.0, EI), _run(2000, 3.0, EI), _run(4000, 3.0, EI)]
    doc = document(PLAN, {"eventinvoke": runs}, MACHINE)
    assert doc["eventinvoke"]["e2e_per_s"] == 2000  # of an even number, the lower median
    assert "ratio" not in doc and "ratio_best_peer" not in doc
    assert doc["reported"]["round"] is None


def test_rounds_take_turns_each_run_in_a_fresh_directory() -> None:
    order: list[tuple[str, Path]] = []

    def side(name: str, e2e: float) -> Callable[[Plan, Path], SystemResult]:
        def run(plan: Plan, workdir: Path) -> SystemResult:
            assert workdir.is_dir() and not any(workdir.iterdir())
            (workdir / "used").touch()
            order.append((name, workdir))
            return _run(e2e + len(order), 1.0, {})

        return run

    said: list[str] = []
    results = run_rounds({"a": side("a", 100), "b": side("b", 10)}, PLAN, 2, said.append)

    assert [name for name, _ in order] == ["a", "b", "a", "b"]
    assert len({workdir for _, workdir in order}) == 4
    assert [r.e2e_per_s for r in results["a"]] == [101, 103]
    assert [r.e2e_per_s for r in results["b"]] == [12, 14]
    assert said == [
        "== a (round 1 of 2)",
        "== b (round 1 of 2)",
        "== a (round 2 of 2)",
        "== b (round 2 of 2)",
    ]


def test_the_cdf_series_agrees_with_the_percentiles() -> None:
    values = [float(v) for v in range(1, 1001)]
    series = dict((p, ms) for p, ms in cdf(values))
    figures = percentiles(values)
    assert series[50] == figures["p50"] and series[99] == figures["p99"]
    assert series[0] == 1.0 and series[100] == 1000.0


def test_the_picture_names_every_system(tmp_path: Path) -> None:
    doc = document(
        PLAN,
        {
            "eventinvoke": [_run(1000, 4.0, EI)],
            "celery": [_celery(300, 2.0)],
            "dramatiq": [_dramatiq(800, 8.0)],
        },
        MACHINE,
    )
    doc["celery"]["latency_cdf_ms"] = [[0, 1.0], [50, 2.0], [100, 8.0]]  # drawn from the JSON
    path = plot.draw(
        doc, {"eventinvoke": [1.0, 2.0, 4.0], "dramatiq": [3.0, 8.0]}, tmp_path / "a.svg"
    )
    text = path.read_text()
    ET.fromstring(text)  # well-formed XML
    for name in ("eventinvoke", "celery", "dramatiq"):
        assert name in text


def test_the_sweep_document_shows_growth() -> None:
    rows = [
        {
            "system": "eventinvoke",
            "n": n,
            "accept_per_s": 5000.0,
            "e2e_per_s": 1000.0,
            "peak_rss_mb": 300.0,
            "peak_uss_mb": 200.0,
            "peak_pss_mb": 210.0,
            "database_mb": n / 1000,
            "data_dir_mb": n / 500,
            "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0},
            "idle_rss_mb": 100.0,
            "wall_s": n / 1000 + 5,
        }
        for n in (1000, 10_000)
    ]
    doc = sweep.document(PLAN, rows, MACHINE)
    assert doc["sizes"] == [1000, 10_000]
    growth = doc["growth"]["eventinvoke"]
    assert growth["n"] == 10.0 and growth["database_mb"] == 10.0 and growth["peak_rss_mb"] == 1.0
    assert "| eventinvoke | 10,000 |" in sweep.table(doc).replace("  ", " ")
    assert sweep.parse_sizes("1000,10_000") == [1000, 10_000]
