"""Deployment packages unpacked once per code hash, where sandboxes run them."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from eventinvoke.backends.base import FunctionStore
from eventinvoke.core.errors import ServiceException
from eventinvoke.core.model import FunctionConfig
from eventinvoke.core.packaging import entry_mode, is_link, link_target, unsafe_entry


class CodeCache:
    def __init__(self, store: FunctionStore, root: Path) -> None:
        self.store = store
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}
        self._ready: dict[str, Path] = {}  # packages known to be unpacked: no stat per attempt

    async def ensure(self, function: FunctionConfig) -> Path:
        """The unpacked package of ``function`` (LAMBDA_TASK_ROOT)."""
        ready = self._ready.get(function.code_sha256)
        if ready is not None:
            return ready
        key = base64.b64decode(function.code_sha256).hex()
        target = self.root / key
        if not target.is_dir():
            async with self._locks.setdefault(key, asyncio.Lock()):
                if not target.is_dir():
                    data = await self.store.get_code(function.code_sha256)
                    if data is None:
                        raise ServiceException(
                            f"The code of {function.name} is missing from the store."
                        )
                    try:
                        await asyncio.to_thread(_unpack, data, target)
                    except UnsafePackageError as error:
                        raise ServiceException(
                            f"The code of {function.name} cannot be unpacked: {error}."
                        ) from None
        self._ready[function.code_sha256] = target
        return target


class UnsafePackageError(ValueError):
    """A package with an entry that would reach outside the code directory."""


def _unpack(data: bytes, target: Path) -> None:
    """Unpack beside the target, then rename: a crash never leaves half a package.

    The Invoker refuses unsafe packages at upload; this refuses them again (one may reach the
    store some other way) before anything is written. Regular files and directories are written
    first, through zipfile's own sanitised paths, and the links last: nothing is ever written
    through a link, and no chmod follows one.

    Modes are made 0644, 0755 for an executable and every directory: a sandbox reads its code
    as another user (isolation.py), never writes it, and a file its package made private to
    its owner would otherwise be unreadable to the function itself.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            problem = unsafe_entry(archive)
            if problem is not None:
                raise UnsafePackageError(problem)
            links = []
            for info in archive.infolist():
                if is_link(info):
                    links.append(info)
                    continue
                path = Path(archive.extract(info, staging))
                executable = info.is_dir() or entry_mode(info) & 0o111
                path.chmod(0o755 if executable else 0o644)
            for directory, _, _ in os.walk(staging):  # those made on the way to a file too
                if directory != str(staging):  # the top stays 0700 until a sandbox opens it
                    os.chmod(directory, 0o755)
            for info in links:
                path = staging / info.filename
                path.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link_target(archive, info), path)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
