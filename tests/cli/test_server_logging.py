"""``eventinvoke up`` logs JSON lines: one per RPC at info, none at --log-level warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from processes import SuiteProcess, free_port

from eventinvoke.client import Client


@pytest.mark.parametrize(("level", "expected"), [([], ["ListFunctions"]), (["warning"], [])])
def test_log_level_decides_the_line_per_rpc(
    tmp_path: Path, level: list[str], expected: list[str]
) -> None:
    flags = ["--log-level", *level] if level else []
    process = SuiteProcess(
        ["up", "--data-dir", str(tmp_path / "data"), "--http-listen", "127.0.0.1:0", *flags],
        tmp_path / "up.log",
    )
    try:
        process.start(f"127.0.0.1:{free_port()}")
        with Client(process.address) as client:
            assert client.list_functions()["Functions"] == []
        assert process.terminate() == 0
    finally:
        process.cleanup()

    lines = [json.loads(line) for line in process.log().splitlines() if line.startswith("{")]
    assert [line["rpc"] for line in lines if line["event"] == "rpc_handled"] == expected
    assert all(line["level"] in ("warning", "error") for line in lines) == bool(level)
