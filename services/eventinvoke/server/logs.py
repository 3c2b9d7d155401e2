"""structlog, configured once: JSON lines when not a TTY, the console renderer otherwise."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog


def configure_logging(log_format: str = "auto", level: str = "info") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    as_json = log_format == "json" or (log_format == "auto" and not sys.stdout.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    final: structlog.types.Processor
    factory: Any
    stdout_bytes = getattr(sys.stdout, "buffer", None)
    if as_json:
        shared.append(structlog.processors.dict_tracebacks)
        renderer = final = structlog.processors.JSONRenderer()
        factory = structlog.PrintLoggerFactory(sys.stdout)
        if stdout_bytes is not None:
            # Our own lines (one per RPC and per settled event: the hot path) as orjson bytes,
            # structlog's fastest set-up; standard-library records keep the str renderer.
            final = structlog.processors.JSONRenderer(serializer=orjson.dumps)
            factory = structlog.BytesLoggerFactory(stdout_bytes)
    else:
        renderer = final = structlog.dev.ConsoleRenderer()
        factory = structlog.PrintLoggerFactory(sys.stdout)
    structlog.configure(
        processors=[*shared, final],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard library (grpc, asyncio, aiohttp) go the same way.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.WARNING))
