"""How the store's records map to table rows, for every SQL backend: column lists, row tuples,
and the rules a store applies whatever its database (what makes two versions the same)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from eventinvoke.core.model import LATEST, Alias, FunctionConfig

FUNCTION_COLUMNS = (
    "name, version, arn, runtime, handler, code_sha256, code_size, role, timeout, memory_size, "
    "environment, description, dead_letter_target_arn, last_modified, revision_id, "
    "reserved_concurrent_executions"
)
ALIAS_COLUMNS = "function_name, name, function_version, description, revision_id"
CONFIG_COLUMNS = (
    "function_name, qualifier, last_modified, maximum_retry_attempts, "
    "maximum_event_age_in_seconds, on_success, on_failure"
)
# What makes two versions the same (PublishVersion returns the latest version instead of
# publishing an identical one). The description is the version's own, given on publishing.
PUBLISHED_FIELDS = (
    "runtime",
    "handler",
    "code_sha256",
    "code_size",
    "role",
    "timeout",
    "memory_size",
    "environment",
    "dead_letter_target_arn",
)


def same_version(version: FunctionConfig, latest: FunctionConfig) -> bool:
    return all(getattr(version, f) == getattr(latest, f) for f in PUBLISHED_FIELDS)


def version_order(function: FunctionConfig) -> tuple[int, int]:
    """$LATEST first, then versions by number."""
    return (0, 0) if function.version == LATEST else (1, int(function.version))


def alias_values(alias: Alias) -> tuple[str, ...]:
    """The row of an alias, in the order of ``ALIAS_COLUMNS``."""
    return (
        alias.function_name,
        alias.name,
        alias.function_version,
        alias.description,
        alias.revision_id,
    )


def function_values(function: FunctionConfig) -> tuple[Any, ...]:
    """The row of a function, in the order of ``FUNCTION_COLUMNS``."""
    return (
        function.name,
        function.version,
        function.arn,
        function.runtime,
        function.handler,
        function.code_sha256,
        function.code_size,
        function.role,
        function.timeout,
        function.memory_size,
        json.dumps(function.environment),
        function.description,
        function.dead_letter_target_arn,
        function.last_modified,
        function.revision_id,
        function.reserved_concurrent_executions,
    )


def function_from(row: Mapping[str, Any]) -> FunctionConfig:
    values = dict(row)
    values["environment"] = json.loads(values["environment"])
    return FunctionConfig(**values)
