"""The metrics' declarations and their endpoint's edges: docs/deploy.md's table is generated from
them, and a metrics port that is taken stops the start with one clear line (the metrics
themselves: tests/integration/test_metrics.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import test_settings

from eventinvoke.app import Suite
from eventinvoke.server import metrics

DEPLOY = Path(__file__).parents[2] / "docs" / "deploy.md"


def test_the_docs_table_is_generated_from_the_declarations() -> None:
    text = DEPLOY.read_text()
    start = text.index(metrics.TABLE_START) + len(metrics.TABLE_START)
    table = text[start : text.index(metrics.TABLE_END)].strip()
    assert table == metrics.reference_table(), "run `make readme` to regenerate the table"


def test_each_metric_is_declared_once_in_prometheus_form() -> None:
    names = [spec.name for spec in metrics.METRICS]
    assert len(names) == len(set(names))
    for spec in metrics.METRICS:
        assert spec.name.startswith("eventinvoke_")
        # Counters end in _total, durations and ages are in seconds (Prometheus' conventions).
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name
        assert bool(spec.buckets) == (spec.kind == "histogram"), spec.name
        if spec.kind == "histogram" or "age" in spec.name:
            assert spec.name.endswith("_seconds"), spec.name


async def test_a_taken_metrics_port_stops_the_start_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        suite = Suite(test_settings(tmp_path / "data", metrics_listen=f"127.0.0.1:{port}"))
        with pytest.raises(OSError) as raised:
            await suite.start()
        await suite.stop(grace=1)

    assert str(raised.value) == (
        f"cannot listen on 127.0.0.1:{port} (metrics): Address already in use"
    )
