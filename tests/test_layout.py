"""The namespace and the public surfaces are part of the contract (docs/architecture.md §6)."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import eventinvoke
import eventinvoke.router.plugin

ROOT = Path(__file__).parents[1]
# References to documents outside the repository (../shared/spec/lambda-async.md, cited as
# "spec §N", and ../shared/DESIGN.md): a clone does not have them.
OUTSIDE_REFERENCES = ("../shared", "spec §", "DESIGN.md")


def test_eventinvoke_is_a_namespace_across_the_four_source_roots() -> None:
    roots = {Path(p).parent.name for p in eventinvoke.__path__}
    assert roots == {"protos", "services", "plugins", "clients"}
    assert not list(ROOT.glob("*/eventinvoke/__init__.py"))


def test_generated_protobuf_code_is_not_tracked() -> None:
    ignored = (ROOT / ".gitignore").read_text()
    assert "protos/eventinvoke/**/*_pb2*.py" in ignored


def test_plugin_api_is_pinned() -> None:
    assert sorted(eventinvoke.router.plugin.__all__) == sorted(
        [
            "AddressRefusedError",
            "DEAD_LETTER",
            "ENTRY_POINT_GROUP",
            "NAME",
            "ON_FAILURE",
            "ON_SUCCESS",
            "Delivery",
            "DeliveryError",
            "DestinationAdapter",
            "ExecutionRecord",
            "FunctionInvoker",
            "OutboundGuard",
            "PermanentDeliveryError",
            "RetryableDeliveryError",
            "RouterContext",
            "hookimpl",
            "traceparent",
            "xray_header",
        ]
    )


def test_docs_and_code_point_only_into_the_repository() -> None:
    """Outside tests/, nothing cites a document a clone of the repository lacks: AWS's behaviour
    is docs/aws-behaviour.md, the design docs/architecture.md."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    offending = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if name.startswith("tests/") or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            if any(reference in line for reference in OUTSIDE_REFERENCES):
                offending.append(f"{name}:{number}: {line.strip()}")
    assert not offending, "\n".join(offending)


# The service packages, which the composition root (eventinvoke.app) assembles: none may import
# it back (docs/architecture.md §6). The deprecated eventinvoke.router.testing shim re-exports
# eventinvoke.testing, which starts a suite, and is the one module allowed to.
LAYERED = ("core", "backends", "invoker", "executor", "router", "gateway", "server")
COMPOSITION = ("eventinvoke.app", "eventinvoke.testing")
SHIM = Path("router/testing.py")


def _imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_service_package_imports_the_composition_root() -> None:
    source = ROOT / "services" / "eventinvoke"
    offending = []
    for package in LAYERED:
        for path in sorted((source / package).rglob("*.py")):
            if path.relative_to(source) == SHIM:
                continue
            imported = _imported_modules(ast.parse(path.read_text(), str(path)))
            offending += [
                f"{path.relative_to(ROOT)} imports {root}"
                for root in COMPOSITION
                if any(name == root or name.startswith(f"{root}.") for name in imported)
            ]
    assert not offending, "\n".join(offending)


def test_the_former_testing_plugin_warns_and_re_exports() -> None:
    import eventinvoke.testing

    sys.modules.pop("eventinvoke.router.testing", None)
    with pytest.warns(DeprecationWarning, match="use eventinvoke.testing"):
        shim = importlib.import_module("eventinvoke.router.testing")
    for name in shim.__all__:
        assert getattr(shim, name) is getattr(eventinvoke.testing, name)
