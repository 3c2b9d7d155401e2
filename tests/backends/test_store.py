"""The function store on every backend: functions, packages, versions, aliases, event invoke
configs and reserved concurrency round-trip exactly, and racing writers stay consistent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from backends.helpers import function, rows, snapshot

from eventinvoke.backends.base import Backend, resolve_qualifier
from eventinvoke.core.model import Alias, EventInvokeConfig, FunctionConfig

OpenAnother = Callable[[], Awaitable[Backend]]


async def test_function_round_trips_every_field(backend: Backend) -> None:
    stored = function()
    bare = FunctionConfig(
        name="bare",
        arn="arn:bare",
        runtime="nodejs20.x",
        handler="h",
        code_sha256="x",
        code_size=0,
    )

    assert await backend.store.create_function(stored)
    assert await backend.store.create_function(bare)

    assert await backend.store.get_function("fn") == stored
    assert await backend.store.get_function("bare") == bare


async def test_create_refuses_taken_name_and_changes_nothing(backend: Backend) -> None:
    await backend.store.create_function(function())

    assert not await backend.store.create_function(function(description="other"))
    assert await backend.store.get_function("fn") == function()


async def test_get_missing_function_or_version(backend: Backend) -> None:
    await backend.store.create_function(function())

    assert await backend.store.get_function("missing") is None
    assert await backend.store.get_function("fn", "1") is None


async def test_list_functions_pages_by_name(backend: Backend) -> None:
    for name in ["delta", "alpha", "echo", "charlie", "bravo"]:
        await backend.store.create_function(function(name))

    first, marker = await backend.store.list_functions(None, 2)
    second, marker2 = await backend.store.list_functions(marker, 2)
    third, marker3 = await backend.store.list_functions(marker2, 2)

    assert [f.name for f in first] == ["alpha", "bravo"]
    assert [f.name for f in second] == ["charlie", "delta"]
    assert [f.name for f in third] == ["echo"]
    assert marker is not None and marker2 is not None
    assert marker3 is None
    assert first[0] == function("alpha")


async def test_list_functions_exact_page_has_no_marker(backend: Backend) -> None:
    for name in ["a", "b"]:
        await backend.store.create_function(function(name))

    assert [f.name for f in (await backend.store.list_functions(None, 2))[0]] == ["a", "b"]
    assert (await backend.store.list_functions(None, 2))[1] is None
    assert await backend.store.list_functions(None, 10) == (
        [function("a"), function("b")],
        None,
    )


async def test_update_function_replaces_configuration(backend: Backend) -> None:
    await backend.store.create_function(function())
    updated = function(timeout=60, environment={}, dead_letter_target_arn=None, revision_id="rev-2")

    await backend.store.update_function(updated)

    assert await backend.store.get_function("fn") == updated


async def test_delete_function_removes_versions_and_configs(backend: Backend) -> None:
    await backend.store.create_function(function())
    await backend.store.create_function(function("other"))
    await backend.store.put_event_invoke_config(EventInvokeConfig("fn", "$LATEST", 1.5))
    await backend.store.put_event_invoke_config(EventInvokeConfig("other", "$LATEST", 1.5))

    assert await backend.store.delete_function("fn")
    assert not await backend.store.delete_function("fn")

    assert await backend.store.get_function("fn") is None
    assert await backend.store.list_event_invoke_configs("fn") == []
    assert await backend.store.get_function("other") == function("other")
    assert len(await backend.store.list_event_invoke_configs("other")) == 1


async def test_code_is_kept_byte_for_byte_and_idempotently(backend: Backend) -> None:
    package = bytes(range(256)) * 10

    await backend.store.put_code("sha", package)
    await backend.store.put_code("sha", package)
    await backend.store.put_code("empty", b"")

    assert await backend.store.get_code("sha") == package
    assert await backend.store.get_code("empty") == b""
    assert await backend.store.get_code("missing") is None


async def test_event_invoke_config_keeps_none_and_values(backend: Backend) -> None:
    unset = EventInvokeConfig("fn", "$LATEST", last_modified=1700000000.123)
    full = EventInvokeConfig(
        "fn",
        "live",
        last_modified=1700000001.5,
        maximum_retry_attempts=0,
        maximum_event_age_in_seconds=60,
        on_success="arn:aws:sqs:us-east-1:000000000000:ok",
        on_failure="arn:aws:sns:us-east-1:000000000000:bad",
    )

    await backend.store.put_event_invoke_config(full)
    await backend.store.put_event_invoke_config(unset)

    assert await backend.store.get_event_invoke_config("fn", "$LATEST") == unset
    assert await backend.store.get_event_invoke_config("fn", "live") == full
    assert await backend.store.get_event_invoke_config("fn", "other") is None
    assert await backend.store.list_event_invoke_configs("fn") == [unset, full]


async def test_put_event_invoke_config_replaces(backend: Backend) -> None:
    await backend.store.put_event_invoke_config(
        EventInvokeConfig("fn", "$LATEST", 1.0, maximum_retry_attempts=2)
    )
    replaced = EventInvokeConfig("fn", "$LATEST", 2.0, on_failure="arn:dlq")

    await backend.store.put_event_invoke_config(replaced)

    assert await backend.store.list_event_invoke_configs("fn") == [replaced]


async def test_delete_event_invoke_config(backend: Backend) -> None:
    await backend.store.put_event_invoke_config(EventInvokeConfig("fn", "$LATEST", 1.0))

    assert await backend.store.delete_event_invoke_config("fn", "$LATEST")
    assert not await backend.store.delete_event_invoke_config("fn", "$LATEST")
    assert await backend.store.get_event_invoke_config("fn", "$LATEST") is None


async def test_versions_are_snapshots_numbered_once(backend: Backend) -> None:
    store = backend.store
    assert await store.publish_version("fn", None, "v") is None  # no such function
    await store.create_function(function())

    one = await store.publish_version("fn", "first", "rev-v1")
    same = await store.publish_version("fn", "ignored", "rev-unused")
    await store.update_function(function(timeout=9, revision_id="rev-2"))
    two = await store.publish_version("fn", None, "rev-v2")
    assert one is not None and two is not None
    assert await store.delete_version("fn", "2")
    await store.put_event_invoke_config(EventInvokeConfig("fn", "1", 1.0, 0))
    await store.update_function(function(timeout=10, revision_id="rev-3"))
    three = await store.publish_version("fn", None, "rev-v3")

    assert one == function(version="1", description="first", revision_id="rev-v1")
    assert same == one  # nothing changed since version 1
    assert (two.version, two.timeout, two.description) == ("2", 9, "a function")
    assert three is not None and three.version == "3"  # 2 is not reused
    assert [f.version for f in await store.list_versions("fn")] == ["$LATEST", "1", "3"]
    assert await store.get_function("fn", "1") == one  # immutable
    assert not await store.delete_version("fn", "$LATEST")
    assert await store.delete_version("fn", "1")
    assert await store.get_event_invoke_config("fn", "1") is None  # went with its version
    # Deleting the function forgets its numbering: a new function starts at 1 again.
    assert await store.delete_function("fn")
    assert await store.list_versions("fn") == []
    await store.create_function(function())
    again = await store.publish_version("fn", None, "rev-new")
    assert again is not None and again.version == "1"


async def test_aliases_round_trip(backend: Backend) -> None:
    store = backend.store
    live = Alias("fn", "live", "1", "d", "r1")
    assert await store.create_alias(live)
    assert not await store.create_alias(replace(live, function_version="2"))  # taken
    await store.create_alias(Alias("fn", "beta", "$LATEST", "", "r2"))
    await store.update_alias(replace(live, function_version="2", revision_id="r3"))
    await store.put_event_invoke_config(EventInvokeConfig("fn", "live", 1.0, 0))

    assert [a.name for a in await store.list_aliases("fn")] == ["beta", "live"]
    assert await store.get_alias("fn", "live") == replace(
        live, function_version="2", revision_id="r3"
    )
    assert await store.delete_alias("fn", "live")
    assert not await store.delete_alias("fn", "live")
    assert await store.get_alias("fn", "live") is None
    assert await store.get_event_invoke_config("fn", "live") is None


async def test_delete_function_removes_its_aliases_and_versions(backend: Backend) -> None:
    store = backend.store
    await store.create_function(function())
    await store.publish_version("fn", None, "rev-v1")
    await store.create_alias(Alias("fn", "live", "1", "", "r1"))
    await store.create_alias(Alias("other", "live", "1", "", "r1"))

    assert await store.delete_function("fn")

    assert await store.get_function("fn", "1") is None
    assert await store.list_aliases("fn") == []
    assert [a.function_name for a in await store.list_aliases("other")] == ["other"]


async def test_reserved_concurrency_is_set_on_every_version_and_summed(backend: Backend) -> None:
    store = backend.store
    await store.create_function(function())
    await store.publish_version("fn", None, "rev-v1")
    await store.create_function(function("other"))

    assert await store.put_function_concurrency("fn", 5)
    assert await store.put_function_concurrency("other", 2)

    for version in ("$LATEST", "1"):
        stored = await store.get_function("fn", version)
        assert stored is not None and stored.reserved_concurrent_executions == 5
    assert await store.reserved_concurrency_total() == 7
    assert await store.reserved_concurrency_total(excluding="fn") == 2
    assert await store.put_function_concurrency("fn", None)
    stored = await store.get_function("fn")
    assert stored is not None and stored.reserved_concurrent_executions is None
    assert await store.reserved_concurrency_total() == 2
    assert await store.put_function_concurrency("fn", 0)  # zero: the function is turned off
    assert await store.reserved_concurrency_total(excluding="other") == 0


async def test_reserved_concurrency_of_a_missing_function_changes_nothing(
    backend: Backend,
) -> None:
    await backend.store.create_function(function())
    before = await snapshot(backend)

    assert not await backend.store.put_function_concurrency("missing", 3)

    assert await snapshot(backend) == before
    assert await backend.store.reserved_concurrency_total() == 0


async def test_update_function_changes_only_that_version(backend: Backend) -> None:
    store = backend.store
    await store.create_function(function())
    one = await store.publish_version("fn", None, "rev-v1")

    await store.update_function(function(handler="other.handler", revision_id="rev-2"))

    assert await store.get_function("fn", "1") == one
    latest = await store.get_function("fn")
    assert latest is not None and latest.handler == "other.handler"


async def test_versions_are_listed_by_number(backend: Backend) -> None:
    store = backend.store
    await store.create_function(function())
    for number in range(1, 12):
        await store.update_function(function(timeout=number, revision_id=f"rev-{number}"))
        assert await store.publish_version("fn", None, f"rev-v{number}") is not None

    versions = await store.list_versions("fn")

    assert [v.version for v in versions] == ["$LATEST"] + [str(n) for n in range(1, 12)]
    assert [v.timeout for v in versions[1:]] == list(range(1, 12))


async def test_a_qualifier_resolves_to_the_configuration_it_runs(backend: Backend) -> None:
    store = backend.store
    await store.create_function(function())
    one = await store.publish_version("fn", None, "rev-v1")
    await store.update_function(function(timeout=9, revision_id="rev-2"))
    await store.create_alias(Alias("fn", "live", "1", "", "a1"))

    latest = await store.get_function("fn")
    assert await resolve_qualifier(store, "fn", None) == latest
    assert await resolve_qualifier(store, "fn", "$LATEST") == latest
    assert await resolve_qualifier(store, "fn", "1") == one
    assert await resolve_qualifier(store, "fn", "live") == one
    assert await resolve_qualifier(store, "fn", "2") is None
    assert await resolve_qualifier(store, "fn", "missing") is None
    assert await resolve_qualifier(store, "missing", None) is None


async def test_racing_creates_of_one_name_store_one_function(
    backend: Backend, open_another: OpenAnother
) -> None:
    other = await open_another()
    candidates = [function(description=f"candidate {n}") for n in range(10)]

    created = await asyncio.gather(
        *((backend if n % 2 else other).store.create_function(f) for n, f in enumerate(candidates))
    )

    assert created.count(True) == 1
    assert await backend.store.get_function("fn") == candidates[created.index(True)]
    assert len(await rows(backend, "functions")) == 1


async def test_racing_publishes_of_one_snapshot_make_one_version(
    backend: Backend, open_another: OpenAnother
) -> None:
    other = await open_another()
    await backend.store.create_function(function())

    published = await asyncio.gather(
        *(
            (backend if n % 2 else other).store.publish_version("fn", None, f"r{n}")
            for n in range(6)
        )
    )

    assert {p.version for p in published if p is not None} == {"1"}
    assert len({p.revision_id for p in published if p is not None}) == 1
    assert [v.version for v in await backend.store.list_versions("fn")] == ["$LATEST", "1"]


async def test_racing_alias_creates_store_one(backend: Backend, open_another: OpenAnother) -> None:
    other = await open_another()
    aliases = [Alias("fn", "live", str(n), "", f"r{n}") for n in range(1, 7)]

    created = await asyncio.gather(
        *((backend if n % 2 else other).store.create_alias(a) for n, a in enumerate(aliases))
    )

    assert created.count(True) == 1
    assert await backend.store.get_alias("fn", "live") == aliases[created.index(True)]
