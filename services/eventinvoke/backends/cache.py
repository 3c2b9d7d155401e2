"""A write-through cache of functions and event invoke configs, in front of any FunctionStore.

Every invocation reads its function, and every attempt its event invoke config; both change
rarely. Writes through this cache invalidate at once, so one process always reads its own writes
(``up``). Changes made by another process are seen within ``ttl`` seconds, or at once where
the backend notifies them (``invalidate``). A missing function is
never cached (one created elsewhere must not look missing to the executor); a missing config is,
since it only means "AWS's defaults". Each kind is a ``cachetools.TTLCache`` of at most
``MAX_ENTRIES``; what is ours is the rule for reads that overlap a write (``_generations``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from cachetools import TTLCache

from eventinvoke.backends.base import FunctionStore
from eventinvoke.core.model import Alias, EventInvokeConfig, FunctionConfig

# Entries kept per kind (functions, configs, aliases); past that the least recently read goes.
MAX_ENTRIES = 65_536

T = TypeVar("T")


class CachedStore:
    def __init__(self, store: FunctionStore, ttl: float = 1.0) -> None:
        self.store = store
        self.ttl = ttl
        self._functions: TTLCache[tuple[str, str], FunctionConfig] = _cache(ttl)
        self._configs: TTLCache[tuple[str, str], EventInvokeConfig | None] = _cache(ttl)
        # Aliases are read on every alias invocation and attempt; a missing one is not cached.
        self._aliases: TTLCache[tuple[str, str], Alias] = _cache(ttl)
        # Bumped when a write to a function (or its configs) starts and when it ends: a read
        # that overlapped a write may have seen the old row, so its result is not cached.
        self._generations: dict[str, int] = {}

    async def get_function(self, name: str, version: str = "$LATEST") -> FunctionConfig | None:
        return await self._read(
            self._functions, (name, version), lambda: self.store.get_function(name, version)
        )

    async def get_event_invoke_config(
        self, function_name: str, qualifier: str
    ) -> EventInvokeConfig | None:
        return await self._read(
            self._configs,
            (function_name, qualifier),
            lambda: self.store.get_event_invoke_config(function_name, qualifier),
            keep_missing=True,  # None cached: no config, AWS's defaults
        )

    async def get_alias(self, function_name: str, name: str) -> Alias | None:
        return await self._read(
            self._aliases, (function_name, name), lambda: self.store.get_alias(function_name, name)
        )

    async def publish_version(
        self, name: str, description: str | None, revision_id: str
    ) -> FunctionConfig | None:
        async with self._writing(name):
            return await self.store.publish_version(name, description, revision_id)

    async def list_versions(self, name: str) -> list[FunctionConfig]:
        return await self.store.list_versions(name)

    async def delete_version(self, name: str, version: str) -> bool:
        async with self._writing(name):
            return await self.store.delete_version(name, version)

    async def create_alias(self, alias: Alias) -> bool:
        async with self._writing(alias.function_name):
            return await self.store.create_alias(alias)

    async def update_alias(self, alias: Alias) -> None:
        async with self._writing(alias.function_name):
            await self.store.update_alias(alias)

    async def delete_alias(self, function_name: str, name: str) -> bool:
        async with self._writing(function_name):
            return await self.store.delete_alias(function_name, name)

    async def list_aliases(self, function_name: str) -> list[Alias]:
        return await self.store.list_aliases(function_name)

    async def create_function(self, function: FunctionConfig) -> bool:
        async with self._writing(function.name):
            return await self.store.create_function(function)

    async def update_function(self, function: FunctionConfig) -> None:
        async with self._writing(function.name):
            await self.store.update_function(function)

    async def delete_function(self, name: str) -> bool:
        async with self._writing(name):
            return await self.store.delete_function(name)

    async def put_function_concurrency(self, name: str, reserved: int | None) -> bool:
        async with self._writing(name):
            return await self.store.put_function_concurrency(name, reserved)

    async def put_recursion_config(self, name: str, recursive_loop: str) -> bool:
        return await self.store.put_recursion_config(name, recursive_loop)

    async def get_recursion_config(self, name: str) -> str | None:
        # Not cached: read only when a chain of invocations runs past its limit.
        return await self.store.get_recursion_config(name)

    async def put_event_invoke_config(self, config: EventInvokeConfig) -> None:
        async with self._writing(config.function_name):
            await self.store.put_event_invoke_config(config)

    async def delete_event_invoke_config(self, function_name: str, qualifier: str) -> bool:
        async with self._writing(function_name):
            return await self.store.delete_event_invoke_config(function_name, qualifier)

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

    async def reserved_concurrency_total(self, excluding: str = "") -> int:
        return await self.store.reserved_concurrency_total(excluding)

    def invalidate(self, function_name: str) -> None:
        """Another process changed the function: read it again (a backend's notification, so
        the change is seen before the TTL runs out)."""
        self._forget(function_name)

    async def _read(
        self,
        cache: TTLCache[tuple[str, str], Any],
        key: tuple[str, str],
        read: Callable[[], Awaitable[T]],
        *,
        keep_missing: bool = False,
    ) -> T:
        """The cached answer for ``key`` (function name, then version, qualifier or alias name)
        while fresh, else ``read()``'s, cached unless it is None (and not ``keep_missing``) or
        the read overlapped a write to the function."""
        try:
            return cache[key]  # type: ignore[no-any-return]  # KeyError when absent or expired
        except KeyError:
            pass
        generation = self._generations.get(key[0], 0)
        value = await read()
        if (value is not None or keep_missing) and self._generations.get(key[0], 0) == generation:
            cache[key] = value
        return value

    @contextlib.asynccontextmanager
    async def _writing(self, function_name: str) -> AsyncIterator[None]:
        self._forget(function_name)
        try:
            yield
        finally:
            self._forget(function_name)

    def _forget(self, function_name: str) -> None:
        self._generations[function_name] = self._generations.get(function_name, 0) + 1
        for cache in (self._functions, self._configs, self._aliases):
            for key in [k for k in cache if k[0] == function_name]:
                # TTLCache raises KeyError after deleting an entry that expired meanwhile.
                with contextlib.suppress(KeyError):
                    del cache[key]


def _cache(ttl: float) -> TTLCache[tuple[str, str], Any]:
    return TTLCache(MAX_ENTRIES, ttl, timer=time.monotonic)
