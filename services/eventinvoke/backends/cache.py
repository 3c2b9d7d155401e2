"""A write-through cache of functions and event invoke configs, in front of any FunctionStore.

Every invocation reads its function, and every attempt its event invoke config; both change
rarely. Writes through this cache invalidate at once, so one process always reads its own writes
(``up``). Changes made by another process are seen within ``ttl`` seconds. A missing function is
never cached (one created elsewhere must not look missing to the executor); a missing config is,
since it only means "AWS's defaults".
"""

from __future__ import annotations

import time

from eventinvoke.backends.base import FunctionStore
from eventinvoke.core.model import EventInvokeConfig, FunctionConfig


class CachedStore:
    def __init__(self, store: FunctionStore, ttl: float = 1.0) -> None:
        self.store = store
        self.ttl = ttl
        self._functions: dict[tuple[str, str], tuple[float, FunctionConfig]] = {}
        self._configs: dict[tuple[str, str], tuple[float, EventInvokeConfig | None]] = {}

    async def get_function(self, name: str, version: str = "$LATEST") -> FunctionConfig | None:
        key = (name, version)
        hit = self._functions.get(key)
        if hit is not None and time.monotonic() < hit[0]:
            return hit[1]
        function = await self.store.get_function(name, version)
        if function is not None:
            self._functions[key] = (time.monotonic() + self.ttl, function)
        return function

    async def get_event_invoke_config(
        self, function_name: str, qualifier: str
    ) -> EventInvokeConfig | None:
        key = (function_name, qualifier)
        hit = self._configs.get(key)
        if hit is not None and time.monotonic() < hit[0]:
            return hit[1]
        config = await self.store.get_event_invoke_config(function_name, qualifier)
        self._configs[key] = (time.monotonic() + self.ttl, config)
        return config

    async def create_function(self, function: FunctionConfig) -> bool:
        self._forget(function.name)
        return await self.store.create_function(function)

    async def update_function(self, function: FunctionConfig) -> None:
        self._forget(function.name)
        await self.store.update_function(function)

    async def delete_function(self, name: str) -> bool:
        self._forget(name)
        return await self.store.delete_function(name)

    async def put_event_invoke_config(self, config: EventInvokeConfig) -> None:
        self._configs.pop((config.function_name, config.qualifier), None)
        await self.store.put_event_invoke_config(config)

    async def delete_event_invoke_config(self, function_name: str, qualifier: str) -> bool:
        self._configs.pop((function_name, qualifier), None)
        return await self.store.delete_event_invoke_config(function_name, qualifier)

    # Not cached: listings and code go straight to the store.

    async def list_functions(
        self, marker: str | None, limit: int
    ) -> tuple[list[FunctionConfig], str | None]:
        return await self.store.list_functions(marker, limit)

    async def put_code(self, code_sha256: str, zip_bytes: bytes) -> None:
        await self.store.put_code(code_sha256, zip_bytes)

    async def get_code(self, code_sha256: str) -> bytes | None:
        return await self.store.get_code(code_sha256)

    async def list_event_invoke_configs(self, function_name: str) -> list[EventInvokeConfig]:
        return await self.store.list_event_invoke_configs(function_name)

    def _forget(self, function_name: str) -> None:
        for cache in (self._functions, self._configs):
            for key in [k for k in cache if k[0] == function_name]:
                del cache[key]
