"""The bench's document from several rounds: with both systems, the round whose end-to-end ratio
is the median is reported whole (its two runs ran back to back); the ratio is also given round
by round. And the rounds themselves: the systems take turns, each run in a directory of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eventinvoke.bench.harness import Plan, SystemResult, run_rounds
from eventinvoke.bench.report import document, table

PLAN = Plan(n=100, concurrency=4, rate=50, latency_events=10, warmup=1, timeout=10)
MACHINE = {"cores": 2, "cpu": "test", "python": "3.11"}
EI: dict[str, object] = {"idle_rss_mb": 100.0, "sandbox_rss_mb": 13.0, "sandboxes": 2}
CELERY: dict[str, object] = {"broker_rss_mb": 14.0}


def _run(e2e: float, p50: float, extra: dict[str, object]) -> SystemResult:
    latency = {"p50": p50, "p95": p50 * 2, "p99": p50 * 3, "max": p50 * 4}
    return SystemResult(e2e * 5, e2e, latency, 100.0, 50.0, extra)


def test_the_round_with_the_median_ratio_is_reported_whole() -> None:
    doc = document(
        PLAN,
        {
            "eventinvoke": [_run(1500, 3.0, EI), _run(1200, 9.0, EI), _run(1800, 5.0, EI)],
            "celery": [_run(300, 40.0, CELERY), _run(300, 60.0, CELERY), _run(200, 50.0, CELERY)],
        },
        MACHINE,
    )

    assert doc["repeat"] == 3
    assert doc["ratio"]["e2e_per_s_by_round"] == [5.0, 4.0, 9.0]
    # Round 1 (5.0x): both systems' figures from it, latency included, and every ratio too.
    assert doc["eventinvoke"]["e2e_per_s"] == 1500
    assert doc["eventinvoke"]["latency_ms"]["p50"] == 3.0
    assert doc["celery"]["latency_ms"]["p50"] == 40.0
    assert doc["ratio"]["e2e_per_s"] == 5.0
    assert doc["ratio"]["latency_ms"]["p50"] == round(40.0 / 3.0, 2)
    assert [r["e2e_per_s"] for r in doc["eventinvoke"]["repeats"]] == [1500, 1200, 1800]
    assert "shown: the round with the median e2e ratio (round by round: 5.00x, 4.00x, 9.00x)" in (
        table(doc)
    )


def test_one_system_alone_is_its_run_of_median_throughput() -> None:
    runs = [_run(1000, 3.0, EI), _run(3000, 3.0, EI), _run(2000, 3.0, EI), _run(4000, 3.0, EI)]
    doc = document(PLAN, {"eventinvoke": runs}, MACHINE)
    assert doc["eventinvoke"]["e2e_per_s"] == 2000  # of an even number, the lower median
    assert "ratio" not in doc


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
