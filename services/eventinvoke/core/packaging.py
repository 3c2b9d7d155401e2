"""Deployment packages: deterministic zips of a directory or of one inline source file.

A fixed timestamp and normalized modes make zipping the same tree give the same bytes, so
CodeSha256 changes only when the code does. ``eventinvoke create-function --code DIR`` and
``eventinvoke deploy`` both package with these.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def zip_directory(root: Path) -> bytes:
    """A directory's files, relative to it, in sorted order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            # Bytecode caches differ from machine to machine and would change CodeSha256.
            if not path.is_file() or "__pycache__" in relative.parts:
                continue
            # Keep only "executable or not": a custom runtime's `bootstrap` must stay runnable.
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            _write(archive, relative.as_posix(), path.read_bytes(), mode)
    return buffer.getvalue()


def zip_source(filename: str, source: str) -> bytes:
    """A package holding one file (CloudFormation's inline ``Code.ZipFile``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _write(archive, filename, source.encode(), 0o644)
    return buffer.getvalue()


def _write(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | mode) << 16
    archive.writestr(info, data)
