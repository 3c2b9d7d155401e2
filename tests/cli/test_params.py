from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from eventinvoke.cli import params


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Variables={K=V,K2=V2}", {"Variables": {"K": "V", "K2": "V2"}}),
        ("Variables={}", {"Variables": {}}),
        ("Variables={ K = V , URL=http://x?a=b }", {"Variables": {"K": "V", "URL": "http://x?a=b"}}),
        ("Variables={K=\"a,b\",Q='x}y'}", {"Variables": {"K": "a,b", "Q": "x}y"}}),
        ("TargetArn=arn:aws:sqs:us-east-1:000000000000:dlq",
         {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}),
        ("TargetArn=", {"TargetArn": ""}),
        ("OnSuccess={Destination=arn:a},OnFailure={}",
         {"OnSuccess": {"Destination": "arn:a"}, "OnFailure": {}}),
        ("Items=[a,b]", {"Items": ["a", "b"]}),
    ],
)  # fmt: skip
def test_shorthand(text: str, expected: dict) -> None:
    assert params.parse_shorthand(text) == expected


@pytest.mark.parametrize("text", ["Variables={K=V", "=V", "Variables={K=V}}", "K='open"])
def test_bad_shorthand_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="Error parsing shorthand"):
        params.parse_shorthand(text)


def test_structure_accepts_json_shorthand_and_files(tmp_path: Path) -> None:
    (tmp_path / "env.json").write_text('{"Variables": {"K": "V"}}')

    assert params.parse_structure('{"Variables":{"K":"V"}}') == {"Variables": {"K": "V"}}
    assert params.parse_structure("Variables={K=V}") == {"Variables": {"K": "V"}}
    assert params.parse_structure(f"file://{tmp_path}/env.json") == {"Variables": {"K": "V"}}
    with pytest.raises(ValueError, match="Invalid JSON"):
        params.parse_structure('{"OnFailure": ')


def test_blob_reads_inline_file_and_fileb(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text('{"k": "é"}', encoding="utf-8")
    (tmp_path / "raw.bin").write_bytes(b"\x87\x00")

    assert params.read_blob('{"k": 1}') == b'{"k": 1}'
    assert params.read_blob(f"file://{tmp_path}/event.json") == '{"k": "é"}'.encode()
    assert params.read_blob(f"fileb://{tmp_path}/raw.bin") == b"\x87\x00"
    with pytest.raises(ValueError, match="Unable to load paramfile fileb://nope.json"):
        params.read_blob("fileb://nope.json")


def make_tree(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__pycache__").mkdir()
    (root / "index.py").write_text("def handler(event, context):\n    return event\n")
    (root / "pkg" / "util.py").write_text("X = 1\n")
    (root / "pkg" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"junk")
    (root / "bootstrap").write_text("#!/bin/sh\n")
    os.chmod(root / "bootstrap", 0o700)


def test_zip_directory_is_relative_sorted_and_deterministic(tmp_path: Path) -> None:
    make_tree(tmp_path / "a")
    first = params.zip_directory(tmp_path / "a")
    os.utime(tmp_path / "a" / "index.py", (0, 0))  # mtimes must not matter

    assert params.zip_directory(tmp_path / "a") == first
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert archive.namelist() == ["bootstrap", "index.py", "pkg/util.py"]
    assert archive.read("pkg/util.py") == b"X = 1\n"
    assert archive.getinfo("bootstrap").external_attr >> 16 & 0o777 == 0o755
    assert archive.getinfo("index.py").external_attr >> 16 & 0o777 == 0o644


def test_read_code_takes_a_directory_fileb_or_a_zip_path(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    zipped = params.read_code(str(tmp_path / "src"))
    (tmp_path / "f.zip").write_bytes(zipped)

    assert params.read_code(f"fileb://{tmp_path}/f.zip") == zipped
    assert params.read_code(str(tmp_path / "f.zip")) == zipped
    with pytest.raises(ValueError, match="neither a directory nor a zip file"):
        params.read_code(str(tmp_path / "missing"))
