"""How each runtime's process is started: the launchers, by runtime name, and what a runtime
may say about its errors. A new runtime is one entry in ``RUNTIMES`` plus its bootstrap under
``runtimes/``."""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eventinvoke.core.model import UNHANDLED, FunctionConfig
from eventinvoke.executor.runtime_api import Result

RUNTIMES_DIR = Path(__file__).resolve().parent / "runtimes"


class SetupError(Exception):
    """The sandbox could not be started: the invocation fails without running anything."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class Launcher:
    """How to start a runtime's process."""

    argv: list[str]
    runtime_dir: Path
    execution_env: bool  # AWS sets AWS_EXECUTION_ENV for managed runtimes, not `provided*`
    # The runtime's unreserved defaults (NODE_PATH); the function's own variables win.
    environment: dict[str, str] = field(default_factory=dict)
    forkable: bool = False  # may be forked from a template of the same argv (forkserver.py)


PYTHON_BOOTSTRAP = RUNTIMES_DIR / "python" / "bootstrap.py"


@functools.cache
def _python_launcher(python: str) -> Launcher:
    # Every python3.x runs on this interpreter; -u so prints reach the log as they happen.
    return Launcher(
        [python, "-u", str(PYTHON_BOOTSTRAP)], RUNTIMES_DIR / "python", True, forkable=True
    )


def _python(function: FunctionConfig, code_dir: Path, python: str) -> Launcher:
    return _python_launcher(python)


@functools.cache
def _node_binary() -> str:
    return shutil.which("node") or "node"


def _node(function: FunctionConfig, code_dir: Path, python: str) -> Launcher:
    # Every nodejs*.x runs on the machine's Node.js; the bootstrap reads the generation it
    # imitates (error shapes, Handled errors, callback deprecation) from AWS_EXECUTION_ENV.
    runtime_dir = RUNTIMES_DIR / "node"
    node = _node_binary()
    # AWS's NODE_PATH, less the layer paths: /var/runtime/node_modules:/var/runtime:/var/task.
    node_path = f"{runtime_dir / 'node_modules'}:{runtime_dir}:{code_dir}"
    return Launcher(
        [node, str(runtime_dir / "bootstrap.mjs")], runtime_dir, True, {"NODE_PATH": node_path}
    )


def _provided(function: FunctionConfig, code_dir: Path, python: str) -> Launcher:
    bootstrap = code_dir / "bootstrap"
    if not bootstrap.is_file():
        raise SetupError(
            "Runtime.InvalidEntrypoint", f"Couldn't find valid bootstrap(s): [{bootstrap}]"
        )
    return Launcher([str(bootstrap)], code_dir, False)


# Runtime name prefix -> launcher. A new runtime is one entry here plus its bootstrap under
# runtimes/.
RUNTIMES: dict[str, Callable[[FunctionConfig, Path, str], Launcher]] = {
    "python3": _python,
    "nodejs": _node,
    "provided": _provided,
}

# functionError "Handled": an error the function reported itself. Current runtimes never
# produce it ("Unhandled" whatever the runtime says: docs/aws-behaviour.md §6.3), but Node.js 12
# and older did for callback errors (the 2019 Destinations record). Their bootstrap marks such
# an error with the header `Lambda-Runtime-Function-Error-Type: Handled`; the header means that
# only for these runtimes, and anything else posted to /error stays "Unhandled".
HANDLED = "Handled"
_HANDLED_ERROR_RUNTIMES = re.compile(r"nodejs(\d+)?(\.\d+|\.x)?(-edge)?")


def reports_handled_errors(runtime: str) -> bool:
    """Whether the runtime is of the generation whose callback errors were ``Handled``."""
    match = _HANDLED_ERROR_RUNTIMES.fullmatch(runtime)
    return match is not None and int(match.group(1) or 0) <= 12  # plain "nodejs" is 0.10


def function_error_of(function: FunctionConfig, result: Result) -> str | None:
    """The ``functionError`` of what the runtime answered (None for a response)."""
    if not result.error:
        return None
    if result.error_type == HANDLED and reports_handled_errors(function.runtime):
        return HANDLED
    return UNHANDLED


def launcher_for(function: FunctionConfig, code_dir: Path, python: str) -> Launcher:
    for prefix, make in RUNTIMES.items():
        if function.runtime.startswith(prefix):
            return make(function, code_dir, python)
    raise SetupError("Runtime.InvalidRuntime", f"Runtime {function.runtime} is not supported")
