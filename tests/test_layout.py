"""The namespace and the public surfaces are part of the contract (DESIGN.md §4)."""

from __future__ import annotations

from pathlib import Path

import eventinvoke
import eventinvoke.router.plugin

ROOT = Path(__file__).parents[1]


def test_eventinvoke_is_a_namespace_across_the_four_source_roots() -> None:
    roots = {Path(p).parent.name for p in eventinvoke.__path__}
    assert roots == {"protos", "services", "plugins", "clients"}
    assert not list(ROOT.glob("*/eventinvoke/__init__.py"))


def test_generated_protobuf_code_is_not_tracked() -> None:
    ignored = (ROOT / ".gitignore").read_text()
    assert "protos/eventinvoke/**/*_pb2*.py" in ignored


def test_plugin_api_is_pinned() -> None:
    assert sorted(eventinvoke.router.plugin.__all__) == sorted(
        [
            "DEAD_LETTER",
            "ENTRY_POINT_GROUP",
            "NAME",
            "ON_FAILURE",
            "ON_SUCCESS",
            "Delivery",
            "DeliveryError",
            "DestinationAdapter",
            "ExecutionRecord",
            "Invoker",
            "PermanentDeliveryError",
            "RetryableDeliveryError",
            "RouterContext",
            "hookimpl",
        ]
    )
