"""Deployment packages unpacked once per code hash, where sandboxes run them."""

from __future__ import annotations

import asyncio
import base64
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

from eventinvoke.backends.base import FunctionStore
from eventinvoke.core.errors import ServiceException
from eventinvoke.core.model import FunctionConfig


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
                    await asyncio.to_thread(_unpack, data, target)
        self._ready[function.code_sha256] = target
        return target


def _unpack(data: bytes, target: Path) -> None:
    """Unpack beside the target, then rename: a crash never leaves half a package."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                archive.extract(info, staging)
                mode = info.external_attr >> 16
                if mode:
                    (staging / info.filename).chmod(mode & 0o777 or 0o644)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
