"""Functions, packages and event invoke configs round-trip through SQLite exactly."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eventinvoke.backends.sqlite import SqliteBackend
from eventinvoke.core.model import EventInvokeConfig, FunctionConfig


def function(name: str = "fn", **changes: Any) -> FunctionConfig:
    return replace(
        FunctionConfig(
            name=name,
            arn=f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
            runtime="python3.12",
            handler="app.handler",
            code_sha256="c2hh",
            code_size=123,
            role="arn:aws:iam::000000000000:role/r",
            timeout=30,
            memory_size=256,
            environment={"A": "1", "ünïcode": "välue"},
            description="a function",
            dead_letter_target_arn="arn:aws:sqs:us-east-1:000000000000:dlq",
            last_modified="2024-01-02T03:04:05.678+0000",
            revision_id="rev-1",
        ),
        **changes,
    )


async def test_function_round_trips_every_field(backend: SqliteBackend) -> None:
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


async def test_create_refuses_taken_name_and_changes_nothing(backend: SqliteBackend) -> None:
    await backend.store.create_function(function())

    assert not await backend.store.create_function(function(description="other"))
    assert await backend.store.get_function("fn") == function()


async def test_get_missing_function_or_version(backend: SqliteBackend) -> None:
    await backend.store.create_function(function())

    assert await backend.store.get_function("missing") is None
    assert await backend.store.get_function("fn", "1") is None


async def test_list_functions_pages_by_name(backend: SqliteBackend) -> None:
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


async def test_list_functions_exact_page_has_no_marker(backend: SqliteBackend) -> None:
    for name in ["a", "b"]:
        await backend.store.create_function(function(name))

    assert [f.name for f in (await backend.store.list_functions(None, 2))[0]] == ["a", "b"]
    assert (await backend.store.list_functions(None, 2))[1] is None
    assert await backend.store.list_functions(None, 10) == (
        [function("a"), function("b")],
        None,
    )


async def test_update_function_replaces_configuration(backend: SqliteBackend) -> None:
    await backend.store.create_function(function())
    updated = function(timeout=60, environment={}, dead_letter_target_arn=None, revision_id="rev-2")

    await backend.store.update_function(updated)

    assert await backend.store.get_function("fn") == updated


async def test_delete_function_removes_versions_and_configs(backend: SqliteBackend) -> None:
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


async def test_code_is_kept_byte_for_byte_and_idempotently(backend: SqliteBackend) -> None:
    package = bytes(range(256)) * 10

    await backend.store.put_code("sha", package)
    await backend.store.put_code("sha", package)
    await backend.store.put_code("empty", b"")

    assert await backend.store.get_code("sha") == package
    assert await backend.store.get_code("empty") == b""
    assert await backend.store.get_code("missing") is None


async def test_event_invoke_config_keeps_none_and_values(backend: SqliteBackend) -> None:
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


async def test_put_event_invoke_config_replaces(backend: SqliteBackend) -> None:
    await backend.store.put_event_invoke_config(
        EventInvokeConfig("fn", "$LATEST", 1.0, maximum_retry_attempts=2)
    )
    replaced = EventInvokeConfig("fn", "$LATEST", 2.0, on_failure="arn:dlq")

    await backend.store.put_event_invoke_config(replaced)

    assert await backend.store.list_event_invoke_configs("fn") == [replaced]


async def test_delete_event_invoke_config(backend: SqliteBackend) -> None:
    await backend.store.put_event_invoke_config(EventInvokeConfig("fn", "$LATEST", 1.0))

    assert await backend.store.delete_event_invoke_config("fn", "$LATEST")
    assert not await backend.store.delete_event_invoke_config("fn", "$LATEST")
    assert await backend.store.get_event_invoke_config("fn", "$LATEST") is None


async def test_versions_are_snapshots_numbered_once(backend: SqliteBackend) -> None:
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


async def test_aliases_round_trip(backend: SqliteBackend) -> None:
    from eventinvoke.core.model import Alias

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
