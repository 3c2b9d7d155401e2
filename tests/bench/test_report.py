"""The bench's document from several rounds: each system is its median run, whole, and the
ratio is also given round by round (each round's two runs ran back to back)."""

from __future__ import annotations

from eventinvoke.bench.harness import Plan, SystemResult
from eventinvoke.bench.report import document, table

PLAN = Plan(n=100, concurrency=4, rate=50, latency_events=10, warmup=1, timeout=10)
MACHINE = {"cores": 2, "cpu": "test", "python": "3.11"}


def _run(e2e: float, p50: float, extra: dict[str, object] | None = None) -> SystemResult:
    latency = {"p50": p50, "p95": p50 * 2, "p99": p50 * 3, "max": p50 * 4}
    return SystemResult(e2e * 5, e2e, latency, 100.0, 50.0, extra or {})


EI: dict[str, object] = {"idle_rss_mb": 100.0, "sandbox_rss_mb": 13.0, "sandboxes": 2}
CELERY: dict[str, object] = {"broker_rss_mb": 14.0}


def test_each_system_is_its_median_run_and_the_ratio_is_given_by_round() -> None:
    doc = document(
        PLAN,
        {
            "eventinvoke": [_run(1500, 3.0, EI), _run(1200, 9.0, EI), _run(1800, 5.0, EI)],
            "celery": [_run(300, 40.0, CELERY), _run(200, 60.0, CELERY), _run(250, 50.0, CELERY)],
        },
        MACHINE,
    )

    assert doc["repeat"] == 3
    # The median run's own figures, latency included: not the best of each figure.
    assert doc["eventinvoke"]["e2e_per_s"] == 1500
    assert doc["eventinvoke"]["latency_ms"]["p50"] == 3.0
    assert doc["celery"]["e2e_per_s"] == 250
    assert doc["celery"]["latency_ms"]["p50"] == 50.0
    assert [r["e2e_per_s"] for r in doc["eventinvoke"]["repeats"]] == [1500, 1200, 1800]
    assert doc["ratio"]["e2e_per_s"] == 6.0
    assert doc["ratio"]["e2e_per_s_by_round"] == [5.0, 6.0, 7.2]
    assert "the e2e ratio round by round: 5.00x, 6.00x, 7.20x" in table(doc)


def test_of_an_even_number_of_runs_the_lower_median_stands() -> None:
    doc = document(PLAN, {"eventinvoke": [_run(1000, 3.0, EI), _run(2000, 3.0, EI)]}, MACHINE)
    assert doc["eventinvoke"]["e2e_per_s"] == 1000
    assert "ratio" not in doc
