from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eventinvoke.cli import cli


def run_cli(args: list[str], endpoint: str, router_endpoint: str | None = None) -> Result:
    """Run ``eventinvoke --endpoint ENDPOINT ARGS...`` in-process, as a user would.

    Global options are always given, so EVENTINVOKE_* variables of the caller do not leak in.
    Unexpected exceptions propagate (a traceback fails the test instead of hiding in output).
    """
    options = ["--endpoint", endpoint]
    if router_endpoint:
        options += ["--router-endpoint", router_endpoint]
    return CliRunner().invoke(cli, [*options, *args], catch_exceptions=False)


def load_fakes() -> ModuleType:
    # tests/ is not a package, so the fake server shared with tests/clients is loaded by path.
    name = "eventinvoke_tests_fakes"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "clients" / "fakes.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.fixture(name="run_cli")
def run_cli_fixture() -> Callable[..., Result]:
    return run_cli


@pytest.fixture
def fake_server() -> Iterator[tuple[str, Any]]:
    """``(endpoint, invoker)``: a real gRPC server with fake servicers (tests/clients/fakes.py)."""
    with load_fakes().serve() as served:
        yield served


@pytest.fixture
def dead_endpoint() -> str:
    return load_fakes().unused_endpoint()
