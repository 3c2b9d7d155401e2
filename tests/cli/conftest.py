from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from eventinvoke.cli import cli

# The installed console script, next to this interpreter (.venv/bin/eventinvoke).
EVENTINVOKE = Path(sys.executable).parent / "eventinvoke"


def _options(endpoint: str | None, router_endpoint: str | None) -> list[str]:
    options = ["--endpoint", endpoint] if endpoint else []
    if router_endpoint:
        options += ["--router-endpoint", router_endpoint]
    return options


def _environment(env: dict[str, str] | None) -> dict[str, str | None]:
    """The caller's EVENTINVOKE_* variables removed (they must not leak in), ``env`` added."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("EVENTINVOKE_")}
    return {**unset, **(env or {})}


def run_cli(
    args: list[str],
    endpoint: str | None = None,
    router_endpoint: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> Result:
    """Run ``eventinvoke [--endpoint ENDPOINT] ARGS...`` in-process, with click's runner.

    Unexpected exceptions propagate (a traceback fails the test instead of hiding in output).
    """
    with contextlib.chdir(cwd or Path.cwd()):
        return CliRunner(env=_environment(env)).invoke(
            cli, [*_options(endpoint, router_endpoint), *args], input, catch_exceptions=False
        )


def run_installed(
    args: list[str], endpoint: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``eventinvoke`` command in its own process, exactly as a user would."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EVENTINVOKE_")}
    environ.update(env or {})
    return subprocess.run(
        [str(EVENTINVOKE), *_options(endpoint, None), *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(name="run_cli")
def run_cli_fixture() -> Callable[..., Result]:
    return run_cli


@pytest.fixture(name="run_installed")
def run_installed_fixture() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_installed
