"""`eventinvoke bench --quick` runs end to end and writes a complete JSON document and picture;
`eventinvoke bench --sweep 200,400 --quick` writes the sweep's document.

CI's smoke test for the benchmark: it proves the bench works and asserts nothing about speed. It
needs the local Redis (127.0.0.1:6379, databases 14 and 15) that Dramatiq's and Celery's sides
use and the local PostgreSQL (cluster mode's side): the machines this project runs on have
both, so a missing one fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

EVENTINVOKE = str(Path(sys.executable).with_name("eventinvoke"))
SYSTEMS = ("eventinvoke", "eventinvoke_postgres", "celery", "dramatiq")
SYSTEM_KEYS = ("accept_per_s", "e2e_per_s", "peak_rss_mb", "peak_uss_mb", "peak_pss_mb")
LATENCY_KEYS = ("p50", "p95", "p99", "max")
MEMORY = ("rss", "uss", "pss")


def _bench(args: list[str], timeout: float) -> str:
    # As a user runs it: without the tests' EVENTINVOKE_SANDBOX_UIDS=none (conftest), so that a
    # server the bench starts as root decides its sandboxes' users itself.
    env = {k: v for k, v in os.environ.items() if k != "EVENTINVOKE_SANDBOX_UIDS"}
    process = subprocess.Popen(
        [EVENTINVOKE, "bench", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            # SIGTERM first: the bench unwinds and stops the servers it started.
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    text = out.decode(errors="replace")
    assert process.returncode == 0, text
    return text


def _memory(figures: dict[str, Any], prefix: str) -> None:
    for kind in MEMORY:
        assert figures[f"{prefix}_{kind}_mb"] > 0, (prefix, kind)
    # A process's private pages are part of its share, and its share part of its resident set.
    assert figures[f"{prefix}_uss_mb"] <= figures[f"{prefix}_pss_mb"] <= figures[f"{prefix}_rss_mb"]


@pytest.mark.timeout(240)
def test_quick_bench_writes_every_figure_for_every_system(tmp_path: Path) -> None:
    output = tmp_path / "results"
    text = _bench(["--quick", "--output", str(output)], timeout=210)

    (path,) = output.glob("*.json")
    doc = json.loads(path.read_text())
    for system in SYSTEMS:
        figures = doc[system]
        for key in SYSTEM_KEYS:
            assert figures[key] > 0, (system, key)
        for key in LATENCY_KEYS:
            assert figures["latency_ms"][key] > 0, (system, key)
        _memory(figures, "idle")
        assert figures["peak_uss_mb"] <= figures["peak_pss_mb"] <= figures["peak_rss_mb"]
        assert figures["memory_sampling"]["uss_pss_samples"] >= 1
        cdf = figures["latency_cdf_ms"]
        assert cdf[0][0] == 0 and cdf[-1] == [100, round(figures["latency_ms"]["max"], 2)]
    ei = doc["eventinvoke"]
    _memory(ei, "sandbox")
    _memory(ei, "servers")
    assert ei["sandboxes"] > 0
    assert ei["database_mb"] > 0 and ei["data_dir_mb"] >= ei["database_mb"]
    for system in SYSTEMS:
        # Every system used CPU for the events, and the machine's steal is a share.
        assert doc[system]["cpu_ms_per_event"] > 0, system
        assert 0 <= doc[system]["steal_percent"] <= 100, system
    for peer in ("celery", "dramatiq"):
        assert doc[peer]["broker_cpu_ms_per_event"] > 0  # Redis did work for them
        assert doc[peer]["processes"] >= 2  # the worker and its children
        assert doc[peer]["settings"]
    assert doc["dramatiq"]["settings"]["threads"] >= 1
    assert doc["celery"]["settings"]["task_acks_late"] is True
    for ratios in (doc["ratio"], doc["ratio_best_peer"]):
        for key in SYSTEM_KEYS:
            assert ratios[key] > 0, key
        assert all(ratios["latency_ms"][key] > 0 for key in LATENCY_KEYS)
    assert doc["ratio_best_peer"]["best_peer"]["e2e_per_s"] in ("celery", "dramatiq")
    assert doc["n"] == 300 and doc["concurrency"] == 16
    assert doc["repeat"] == 1  # --quick runs one round
    assert doc["order"] == list(SYSTEMS)  # the systems take turns in this order
    assert all(len(doc[system]["repeats"]) == 1 for system in SYSTEMS)
    assert doc["ratio"]["e2e_per_s_by_round"] == [doc["ratio"]["e2e_per_s"]]
    assert doc["ratio_best_peer"]["e2e_per_s_by_round"] == [doc["ratio_best_peer"]["e2e_per_s"]]
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["python"]
    for row in ("| eventinvoke ", "| celery", "| dramatiq", "| eventinvoke on postgres"):
        assert row in text  # the table was printed
    assert "| eventinvoke ÷ best peer" in text
    assert "CPU per event in the throughput phase" in text
    postgres = doc["eventinvoke_postgres"]
    assert postgres["processes"] == "up + 1 executor"
    assert postgres["postgres_server"].startswith("PostgreSQL ")
    assert doc["ratio_postgres_to_embedded"]["e2e_per_s"] > 0

    picture = path.with_suffix(".svg")
    svg = picture.read_text()
    root = ET.fromstring(svg)  # parses as XML
    assert root.tag.endswith("svg")
    for name in ("eventinvoke", "eventinvoke on postgres", "celery", "dramatiq"):
        assert name in svg, name


@pytest.mark.timeout(240)
def test_sweep_writes_a_row_per_system_and_size(tmp_path: Path) -> None:
    output = tmp_path / "results"
    text = _bench(["--sweep", "200,400", "--quick", "--output", str(output)], timeout=210)

    (path,) = output.glob("*-sweep.json")
    doc = json.loads(path.read_text())
    assert doc["sizes"] == [200, 400]
    assert [(r["system"], r["n"]) for r in doc["rows"]] == [
        ("eventinvoke", 200),
        ("eventinvoke_postgres", 200),
        ("eventinvoke", 400),
        ("eventinvoke_postgres", 400),
    ]
    for row in doc["rows"]:
        for key in ("accept_per_s", "e2e_per_s", "peak_rss_mb", "peak_uss_mb", "wall_s"):
            assert row[key] > 0, (row["system"], row["n"], key)
        assert row["database_mb"] > 0 and row["data_dir_mb"] > 0
        assert row["latency_ms"]["p99"] > 0
    for system in ("eventinvoke", "eventinvoke_postgres"):
        assert doc["growth"][system]["n"] == 2.0
        assert doc["growth"][system]["database_mb"] > 0
    assert "| eventinvoke on postgres | 400" in text
    assert not list(output.glob("*.svg"))  # the sweep draws no picture
