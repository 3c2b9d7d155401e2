"""The write-through cache in front of the store, on every backend: own writes are seen at once,
a read that overlaps a write never caches the old row, and a missing function is never cached."""

from __future__ import annotations

import asyncio
import dataclasses

from eventinvoke.backends.base import Backend
from eventinvoke.backends.cache import CachedStore
from eventinvoke.core.model import EventInvokeConfig, FunctionConfig

FUNCTION = FunctionConfig(
    name="fn",
    arn="arn:aws:lambda:us-east-1:000000000000:function:fn",
    runtime="python3.11",
    handler="index.handler",
    code_sha256="c2hh",
    code_size=1,
)


async def test_own_writes_are_seen_at_once(backend: Backend) -> None:
    cache = CachedStore(backend.store, ttl=3600)
    await cache.create_function(FUNCTION)
    assert (await cache.get_function("fn")) == FUNCTION
    await cache.update_function(dataclasses.replace(FUNCTION, handler="other.handler"))
    assert (await cache.get_function("fn")).handler == "other.handler"  # type: ignore[union-attr]
    await cache.put_event_invoke_config(EventInvokeConfig("fn", "$LATEST", 1.0, 0))
    assert (await cache.get_event_invoke_config("fn", "$LATEST")).maximum_retry_attempts == 0  # type: ignore[union-attr]


async def test_a_read_overlapping_a_write_is_not_cached(backend: Backend) -> None:
    cache = CachedStore(backend.store, ttl=3600)
    await cache.create_function(FUNCTION)
    changed = dataclasses.replace(FUNCTION, handler="new.handler")
    # Started together: the read may see the old row, but must not keep it.
    await asyncio.gather(cache.get_function("fn"), cache.update_function(changed))
    assert (await cache.get_function("fn")).handler == "new.handler"  # type: ignore[union-attr]


async def test_a_missing_function_is_not_cached(backend: Backend) -> None:
    cache = CachedStore(backend.store, ttl=3600)
    assert await cache.get_function("fn") is None
    await backend.store.create_function(FUNCTION)  # written by another process
    assert await cache.get_function("fn") == FUNCTION


async def test_other_processes_writes_are_seen_after_the_ttl(backend: Backend) -> None:
    cache = CachedStore(backend.store, ttl=0.05)
    await cache.create_function(FUNCTION)
    assert await cache.get_function("fn") == FUNCTION
    await backend.store.update_function(dataclasses.replace(FUNCTION, timeout=9))
    await asyncio.sleep(0.06)
    assert (await cache.get_function("fn")).timeout == 9  # type: ignore[union-attr]


async def test_alias_changes_are_seen_at_once_and_resolve(backend: Backend) -> None:
    from eventinvoke.backends.base import resolve_qualifier
    from eventinvoke.core.model import Alias

    cache = CachedStore(backend.store, ttl=3600)
    await cache.create_function(FUNCTION)
    await cache.publish_version("fn", None, "r1")
    await cache.update_function(dataclasses.replace(FUNCTION, handler="two.handler"))
    await cache.publish_version("fn", None, "r2")
    await cache.create_alias(Alias("fn", "live", "1", "", "a1"))
    first = await resolve_qualifier(cache, "fn", "live")
    await cache.update_alias(Alias("fn", "live", "2", "", "a2"))
    second = await resolve_qualifier(cache, "fn", "live")
    await cache.delete_alias("fn", "live")

    assert first is not None and (first.version, first.handler) == ("1", "index.handler")
    assert second is not None and (second.version, second.handler) == ("2", "two.handler")
    assert await resolve_qualifier(cache, "fn", "live") is None
    assert await resolve_qualifier(cache, "fn", None) == await cache.get_function("fn")
    assert await resolve_qualifier(cache, "fn", "9") is None
