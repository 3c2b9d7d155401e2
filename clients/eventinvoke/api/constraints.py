"""A request's members against the model's constraints, in AWS's words.

AWS checks every member of a request at once and answers with one ``ValidationException``:
``2 validation errors detected: Value '3' at 'maximumRetryAttempts' failed to satisfy
constraint: Member must have value less than or equal to 2; Value ...``. Members are visited in
the model's order; a path names each member in lower camel case
(``destinationConfig.onSuccess.destination``).

``params`` are AWS-shaped (member names as the model spells them); absent members are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from eventinvoke.api.model import Model, Shape, compiled, lambda_model

# A hook for what the domain accepts beyond the model: called with (path, value) for a
# pattern the value fails; True lets it pass (a destination a plugin claims, say).
Allowance = Callable[[str, Any], bool]

# A destination given as a URI is a plugin's (a webhook's https://, say), not an ARN: the model's
# pattern does not apply, and the Invoker answers whether a loaded plugin claims it.
_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")


def plugin_destination(path: str, value: Any) -> bool:
    """The allowance eventinvoke's API makes: a destination may be a URI."""
    return path.endswith(".destination") and isinstance(value, str) and bool(_URI.match(value))


def camel(name: str) -> str:
    """A member's name as AWS's messages spell it: ``MaximumRetryAttempts`` ->
    ``maximumRetryAttempts``."""
    return name[:1].lower() + name[1:]


def validation_message(problems: list[str]) -> str:
    count = len(problems)
    errors = "error" if count == 1 else "errors"
    return f"{count} validation {errors} detected: " + "; ".join(problems)


def problems(
    operation: str,
    params: Mapping[str, Any],
    *,
    model: Model | None = None,
    allow: Allowance | None = None,
) -> list[str]:
    """Every constraint of the operation's input that ``params`` fails, in AWS's words."""
    model = model or lambda_model()
    structure = model.operation(operation).input
    if structure is None:
        return []
    found: list[str] = []
    _structure(model, structure, params, "", found, allow)
    return found


def _structure(
    model: Model,
    structure: str,
    params: Mapping[str, Any],
    prefix: str,
    found: list[str],
    allow: Allowance | None,
) -> None:
    for name, shape_name, camel_name, required in _members(model, structure):
        value = params.get(name)
        if value is None:
            if required:
                found.append(
                    f"Value null at '{prefix}{camel_name}' failed to satisfy constraint: "
                    "Member must not be null"
                )
            continue
        _value(model, shape_name, value, f"{prefix}{camel_name}", found, allow)


@cache
def _members(model: Model, structure: str) -> tuple[tuple[str, str, str, bool], ...]:
    """(name, shape, name as messages spell it, required) of each member, worked out once: every
    request is checked against them."""
    required = model.required(structure)
    return tuple(
        (name, member["shape"], camel(name), name in required)
        for name, member, _shape in model.members(structure)
    )


def _value(
    model: Model,
    shape_name: str,
    value: Any,
    path: str,
    found: list[str],
    allow: Allowance | None,
) -> None:
    shape = model.shape(shape_name)
    kind = shape["type"]

    def fail(constraint: str) -> None:
        found.append(
            f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: {constraint}"
        )

    if kind == "string":
        if "enum" in shape and value not in shape["enum"]:
            fail(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
            return
        pattern = shape.get("pattern")
        if (
            pattern is not None
            and not (value == "" and shape.get("x-empty-ok"))
            and not compiled(pattern).fullmatch(value)
            and not (allow is not None and allow(path, value))
        ):
            shown = shape.get("x-pattern-shown", pattern)
            fail(f"Member must satisfy regular expression pattern: {shown}")
        _bounds(shape, len(value), "have length", fail)
    elif kind in ("integer", "long"):
        _bounds(shape, value, "have value", fail)
    elif kind == "structure" and isinstance(value, Mapping):
        _structure(model, shape_name, value, f"{path}.", found, allow)
    elif kind == "list" and isinstance(value, list):
        _bounds(shape, len(value), "have length", fail)
        for item in value:
            _value(model, shape["member"]["shape"], item, f"{path}.member", found, allow)
    elif kind == "map" and isinstance(value, Mapping):
        _bounds(shape, len(value), "have length", fail)
        # AWS names no single key or value: "Value at 'environment.variables' failed to satisfy
        # constraint: Map keys must satisfy constraint: [Member must ...]".
        for part, what, items in (
            ("key", "Map keys", value),
            ("value", "Map value", value.values()),
        ):
            inner: list[str] = []
            for item in items:
                _value(model, shape[part]["shape"], item, path, inner, allow)
            if inner:
                constraint = inner[0].split("failed to satisfy constraint: ", 1)[1]
                found.append(
                    f"Value at '{path}' failed to satisfy constraint: {what} must satisfy "
                    f"constraint: [{constraint}]"
                )
    elif kind == "blob" and isinstance(value, bytes | bytearray):
        _bounds(shape, len(value), "have length", fail)


def _bounds(shape: Shape, measure: int, what: str, fail: Callable[[str], None]) -> None:
    if "min" in shape and measure < shape["min"]:
        fail(f"Member must {what} greater than or equal to {shape['min']}")
    if "max" in shape and measure > shape["max"]:
        fail(f"Member must {what} less than or equal to {shape['max']}")


# A value is shown whole up to this many characters, then cut: a message carries the value, and
# an unbounded one (a megabyte of FunctionName) would outgrow what an error may carry (gRPC's
# trailers hold 8 KiB by default) and fail as an obscure transport error instead.
MAX_SHOWN = 1024


def _shown(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "java.nio.HeapByteBuffer"  # what AWS prints for a blob
    text = str(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."
