"""The event loop every eventinvoke process runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """uvloop where it is installed (Linux, macOS): its transports make the Runtime API and
    gRPC hand-offs cheaper. The standard loop otherwise."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
