from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def load_fakes() -> ModuleType:
    # tests/ is not a package (and --import-mode=importlib puts nothing on sys.path), so the
    # shared fake server is loaded by path, once, for tests/clients and tests/cli alike.
    name = "eventinvoke_tests_fakes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fakes.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.fixture
def fake_server() -> Iterator[tuple[str, Any]]:
    """``(endpoint, invoker)``: a real gRPC server with fake servicers; see fakes.py."""
    with load_fakes().serve() as served:
        yield served


@pytest.fixture
def dead_endpoint() -> str:
    return load_fakes().unused_endpoint()
