"""`eventinvoke bench --quick` runs end to end and writes a complete JSON document.

CI's smoke test for the benchmark: it proves the bench works and asserts nothing about speed. It
needs the local Redis (127.0.0.1:6379, database 15) that Celery's side uses and the local
PostgreSQL (cluster mode's side): the machines this project runs on have both, so a missing one
fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

EVENTINVOKE = str(Path(sys.executable).with_name("eventinvoke"))
SYSTEM_KEYS = ("accept_per_s", "e2e_per_s", "peak_rss_mb")
LATENCY_KEYS = ("p50", "p95", "p99", "max")


@pytest.mark.timeout(240)
def test_quick_bench_writes_every_figure_for_every_system(tmp_path: Path) -> None:
    output = tmp_path / "results"
    process = subprocess.Popen(
        [EVENTINVOKE, "bench", "--quick", "--output", str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=210)
    finally:
        if process.poll() is None:
            # SIGTERM first: the bench unwinds and stops the servers it started.
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    text = out.decode(errors="replace")
    assert process.returncode == 0, text

    (path,) = output.glob("*.json")
    doc = json.loads(path.read_text())
    for system in ("eventinvoke", "eventinvoke_postgres", "celery"):
        figures = doc[system]
        for key in SYSTEM_KEYS:
            assert figures[key] > 0, (system, key)
        for key in LATENCY_KEYS:
            assert figures["latency_ms"][key] > 0, (system, key)
    assert doc["eventinvoke"]["idle_rss_mb"] > 0
    assert doc["eventinvoke"]["sandbox_rss_mb"] > 0
    for key in ("accept_per_s", "e2e_per_s", "peak_rss_mb"):
        assert doc["ratio"][key] > 0
    assert all(doc["ratio"]["latency_ms"][key] > 0 for key in LATENCY_KEYS)
    assert doc["n"] == 300 and doc["concurrency"] == 16
    assert doc["repeat"] == 1  # --quick runs one round
    assert len(doc["eventinvoke"]["repeats"]) == len(doc["celery"]["repeats"]) == 1
    assert doc["ratio"]["e2e_per_s_by_round"] == [doc["ratio"]["e2e_per_s"]]
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["python"]
    assert "| eventinvoke" in text and "| celery" in text  # the table was printed
    assert "| eventinvoke on postgres" in text
    postgres = doc["eventinvoke_postgres"]
    assert postgres["processes"] == "up + 1 executor"
    assert postgres["postgres_server"].startswith("PostgreSQL ")
    assert doc["ratio_postgres_to_embedded"]["e2e_per_s"] > 0
