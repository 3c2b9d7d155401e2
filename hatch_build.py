"""Generate the protobuf code and the Python clients' methods when a wheel is built from a
clean checkout (docs/architecture.md §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def generate(root: Path) -> None:
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(root)) for p in (root / "protos").rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        "-Iprotos",
        f"-I{Path(protoc.__file__).parent / '_proto'}",
        "--python_out=protos",
        "--pyi_out=protos",
        "--grpc_python_out=protos",
        *protos,
    ]
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed")
    finally:
        os.chdir(cwd)
    # The clients' methods, from the table of operations (which reads the protobuf code just
    # written), imported from the source folders: nothing is installed yet. In this process,
    # not a child: pip's build environment is set up by a sitecustomize that a child with a
    # changed PYTHONPATH trips over.
    import importlib
    import sys

    saved = sys.path[:]
    sys.path[:0] = [str(root / "protos"), str(root / "clients")]
    try:
        importlib.import_module("eventinvoke.api.generate").main()
    finally:
        sys.path[:] = saved


class ProtocHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        generate(Path(self.root))


if __name__ == "__main__":
    generate(Path(__file__).parent)
