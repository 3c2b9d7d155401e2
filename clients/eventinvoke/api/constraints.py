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

from eventinvoke.api.model import Model, compiled, lambda_model

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
    for name, check, camel_name, required in _members(model, structure):
        value = params.get(name)
        if value is None:
            if required:
                found.append(null(f"{prefix}{camel_name}"))
            continue
        check(value, f"{prefix}{camel_name}", found, allow)


# Checks one value at a path, adding what it fails to ``found``.
Check = Callable[[Any, str, list[str], Allowance | None], None]


def null(path: str) -> str:
    """What a required member that is absent fails."""
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def members(structure: str, model: Model | None = None) -> tuple[tuple[str, Check, str, bool], ...]:
    """(name, its check, path as messages spell it, required) of each member of a request's
    structure, in the order AWS checks them: for a request read other than as a dict."""
    return _members(model or lambda_model(), structure)


@cache
def _members(model: Model, structure: str) -> tuple[tuple[str, Check, str, bool], ...]:
    """(name, its check, name as messages spell it, required) of each member, worked out once:
    every request is checked against them."""
    required = model.required(structure)
    return tuple(
        (name, _check(model, member["shape"]), camel(name), name in required)
        for name, member, _shape in model.members(structure)
    )


@cache
def _check(model: Model, shape_name: str) -> Check:
    """The check of a value of one shape, its constraints read from the model once. Nested
    shapes' checks are looked up when a value reaches them (a shape may contain itself)."""
    shape = model.shape(shape_name)
    kind = shape["type"]
    low, high = shape.get("min"), shape.get("max")

    def bounds(measure: int, what: str, value: Any, path: str, found: list[str]) -> None:
        if low is not None and measure < low:
            rule = f"Member must {what} greater than or equal to {low}"
            found.append(_failure(value, path, rule))
        if high is not None and measure > high:
            found.append(_failure(value, path, f"Member must {what} less than or equal to {high}"))

    if kind == "string":
        enum = frozenset(shape.get("enum", ()))
        enum_rule = f"Member must satisfy enum value set: [{', '.join(shape.get('enum', ()))}]"
        pattern = compiled(shape["pattern"]).fullmatch if "pattern" in shape else None
        pattern_rule = (
            f"Member must satisfy regular expression pattern: "
            f"{shape.get('x-pattern-shown', shape.get('pattern'))}"
        )
        empty_ok = bool(shape.get("x-empty-ok"))
        # Values that passed every constraint: names repeat from request to request, and the
        # pattern is the costliest part of a request's check (kept bounded: a value is anything).
        passed: set[str] = set()

        def string(value: Any, path: str, found: list[str], allow: Allowance | None) -> None:
            if value in passed:
                return
            if enum and value not in enum:
                found.append(_failure(value, path, enum_rule))
                return
            before = len(found)
            matches = pattern is None or (value == "" and empty_ok) or pattern(value)
            if not matches and not (allow is not None and allow(path, value)):
                found.append(_failure(value, path, pattern_rule))
            bounds(len(value), "have length", value, path, found)
            if matches and len(found) == before and len(passed) < MAX_PASSED:
                passed.add(value)

        return string
    if kind in ("integer", "long"):
        return lambda value, path, found, allow: bounds(value, "have value", value, path, found)
    if kind == "structure":

        def structure(value: Any, path: str, found: list[str], allow: Allowance | None) -> None:
            if isinstance(value, Mapping):
                _structure(model, shape_name, value, f"{path}.", found, allow)

        return structure
    if kind == "list":
        item_shape = shape["member"]["shape"]

        def items(value: Any, path: str, found: list[str], allow: Allowance | None) -> None:
            if isinstance(value, list):
                bounds(len(value), "have length", value, path, found)
                check = _check(model, item_shape)
                for item in value:
                    check(item, f"{path}.member", found, allow)

        return items
    if kind == "map":
        parts = (("key", "Map keys"), ("value", "Map value"))

        def entries(value: Any, path: str, found: list[str], allow: Allowance | None) -> None:
            if not isinstance(value, Mapping):
                return
            bounds(len(value), "have length", value, path, found)
            # AWS names no single key or value: "Value at 'environment.variables' failed to
            # satisfy constraint: Map keys must satisfy constraint: [Member must ...]".
            for (part, what), members in zip(parts, (value, value.values()), strict=True):
                check = _check(model, shape[part]["shape"])
                inner: list[str] = []
                for item in members:
                    check(item, path, inner, allow)
                if inner:
                    constraint = inner[0].split("failed to satisfy constraint: ", 1)[1]
                    found.append(
                        f"Value at '{path}' failed to satisfy constraint: {what} must satisfy "
                        f"constraint: [{constraint}]"
                    )

        return entries
    if kind == "blob":

        def blob(value: Any, path: str, found: list[str], allow: Allowance | None) -> None:
            if isinstance(value, bytes | bytearray):
                bounds(len(value), "have length", value, path, found)

        return blob
    return lambda value, path, found, allow: None


MAX_PASSED = 1024  # values remembered per string shape as passing


def _failure(value: Any, path: str, constraint: str) -> str:
    return f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: {constraint}"


# A value is shown whole up to this many characters, then cut: a message carries the value, and
# an unbounded one (a megabyte of FunctionName) would outgrow what an error may carry (gRPC's
# trailers hold 8 KiB by default) and fail as an obscure transport error instead.
MAX_SHOWN = 1024


def _shown(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "java.nio.HeapByteBuffer"  # what AWS prints for a blob
    text = str(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."
