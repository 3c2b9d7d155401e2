"""The write-through cache in front of the store: own writes are seen at once, a read that
overlaps a write never caches the old row, and a missing function is never cached."""

from __future__ import annotations

import asyncio
import dataclasses

from eventinvoke.backends.cache import CachedStore
from eventinvoke.backends.sqlite import SqliteBackend
from eventinvoke.core.model import EventInvokeConfig, FunctionConfig

FUNCTION = FunctionConfig(
    name="fn",
    arn="arn:aws:lambda:us-east-1:000000000000:function:fn",
    runtime="python3.11",
    handler="index.handler",
    code_sha256="c2hh",
    code_size=1,
)


async def test_own_writes_are_seen_at_once(backend: SqliteBackend) -> None:
    cache = CachedStore(backend.store, ttl=3600)
    await cache.create_function(FUNCTION)
    assert (await cache.get_function("fn")) == FUNCTION
    await cache.update_function(dataclasses.replace(FUNCTION, handler="other.handler"))
    assert (await cache.get_function("fn")).handler == "other.handler"  # type: ignore[union-attr]
    await cache.put_event_invoke_config(EventInvokeConfig("fn", "$LATEST", 1.0, 0))
    assert (await cache.get_event_invoke_config("fn", "$LATEST")).maximum_retry_attempts == 0  # type: ignore[union-attr]


async def test_a_read_overlapping_a_write_is_not_cached(backend: SqliteBackend) -> None:
    cache = CachedStore(backend.store, ttl=3600)
    await cache.create_function(FUNCTION)
    changed = dataclasses.replace(FUNCTION, handler="new.handler")
    # Started together: the read may see the old row, but must not keep it.
    await asyncio.gather(cache.get_function("fn"), cache.update_function(changed))
    assert (await cache.get_function("fn")).handler == "new.handler"  # type: ignore[union-attr]


async def test_a_missing_function_is_not_cached(backend: SqliteBackend) -> None:
    cache = CachedStore(backend.store, ttl=3600)
    assert await cache.get_function("fn") is None
    await backend.store.create_function(FUNCTION)  # written by another process
    assert await cache.get_function("fn") == FUNCTION


async def test_other_processes_writes_are_seen_after_the_ttl(backend: SqliteBackend) -> None:
    cache = CachedStore(backend.store, ttl=0.05)
    await cache.create_function(FUNCTION)
    assert await cache.get_function("fn") == FUNCTION
    await backend.store.update_function(dataclasses.replace(FUNCTION, timeout=9))
    await asyncio.sleep(0.06)
    assert (await cache.get_function("fn")).timeout == 9  # type: ignore[union-attr]
