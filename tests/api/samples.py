"""Requests that break one constraint of the model each: every constraint an operation's input
states (a pattern, a length or value bound, an enum, a map key's rule), sampled once per shape.

Each sample is a request whose other required members are valid, so the one constraint is what
the server must refuse; what it must answer is the validator's message for those params, whose
wording ``test_constraints`` pins against AWS's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eventinvoke.api.codec import request_slots
from eventinvoke.api.constraints import camel, problems
from eventinvoke.api.model import Model, compiled, lambda_model
from eventinvoke.api.operations import OPERATIONS

# Values tried, in order, where a string must match a pattern (a valid one) or must not (a
# broken one). A shape no value here fits fails the walk loudly: add one.
VALID_STRINGS = (
    "f", "fn-1", "1", "$LATEST", "python3.12", "index.handler", "live",
    "arn:aws:iam::000000000000:role/r", "arn:aws:sqs:us-east-1:000000000000:q",
)  # fmt: skip
BROKEN_STRINGS = ("!", "a b", "#!", "arn:!")
# Valid values beyond the model's required members, where eventinvoke needs them: a function's
# code is a zip (the model also allows S3 and images, which eventinvoke refuses).
VALID_STRUCTURES: dict[str, dict[str, Any]] = {"FunctionCode": {"ZipFile": b"PK"}}
LARGEST = 1 << 20  # a bound above this (a 50 MB package) is not sampled: too big to send


@dataclass(frozen=True)
class Sample:
    operation: str
    path: str  # as AWS's messages name it: destinationConfig.onSuccess.destination
    constraint: str  # pattern, min, max, enum, key
    params: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.operation}:{self.path}:{self.constraint}"

    def expected(self) -> list[str]:
        return problems(self.operation, self.params)

    def params_in_uri(self) -> bool:
        """Whether the sampled member travels in the REST path (``{FunctionName}``)."""
        model = lambda_model()
        structure = model.operation(self.operation).input or ""
        top = self.path.split(".")[0]
        for name, member, _ in model.members(structure):
            if camel(name) == top:
                return member.get("location") == "uri"
        return False


def valid(model: Model, shape_name: str) -> Any:
    shape = model.shape(shape_name)
    kind = shape["type"]
    if kind == "string":
        if "enum" in shape:
            return shape["enum"][0]
        for value in VALID_STRINGS:
            if _fits(shape, value):
                return value
        raise AssertionError(f"no valid sample for shape {shape_name}: add one to VALID_STRINGS")
    if kind in ("integer", "long"):
        return max(shape.get("min", 1), 1)
    if kind == "boolean":
        return False
    if kind == "blob":
        return b"PK"
    if kind == "structure":
        return {
            name: valid(model, member["shape"])
            for name, member, _ in model.members(shape_name)
            if name in model.required(shape_name)
        } | VALID_STRUCTURES.get(shape_name, {})
    if kind == "list":
        return []
    if kind == "map":
        return {}
    raise AssertionError(f"no valid sample for a {kind}")


def _fits(shape: dict[str, Any], value: str) -> bool:
    pattern = shape.get("pattern")
    if pattern is not None and not compiled(pattern).fullmatch(value):
        return False
    return shape.get("min", 0) <= len(value) <= shape.get("max", len(value))


def broken(model: Model, shape_name: str) -> Iterator[tuple[str, Any]]:
    """(constraint, a value breaking it) for each constraint of a scalar shape."""
    shape = model.shape(shape_name)
    kind = shape["type"]
    if kind == "string":
        if "enum" in shape:
            yield "enum", "Later"
            return
        if "pattern" in shape:
            for value in BROKEN_STRINGS:
                if not compiled(shape["pattern"]).fullmatch(value) and len(value) <= shape.get(
                    "max", len(value)
                ):
                    yield "pattern", value
                    break
            else:
                raise AssertionError(f"no value breaks {shape_name}'s pattern: add one")
        if shape.get("min", 0) > 0:
            yield "min", ""
        if "max" in shape and shape["max"] < LARGEST:
            yield "max", "a" * (shape["max"] + 1)
    elif kind in ("integer", "long"):
        if "min" in shape:
            yield "min", shape["min"] - 1
        if "max" in shape:
            yield "max", shape["max"] + 1


def samples(aws_only: bool = False) -> list[Sample]:
    """One sample per (shape, constraint), over the members the gRPC API carries of every
    operation of the table the model has."""
    model = lambda_model()
    seen: set[tuple[str, str]] = set()
    found: list[Sample] = []
    for operation in OPERATIONS:
        if operation.name not in model.operation_names or (aws_only and not operation.aws):
            continue
        structure = model.operation(operation.name).input
        if structure is None:
            continue
        base = valid(model, structure)
        carried = [tuple(path.split(".")) for _, path in request_slots(operation)]
        for path, members, shape_name in _leaves(model, structure, (), ()):
            if not any(members[: len(slot)] == slot for slot in carried):
                continue  # a member eventinvoke does not take (Code.S3Key): refused as such
            for constraint, value in _constraints(model, shape_name):
                if (shape_name, constraint) in seen:
                    continue
                seen.add((shape_name, constraint))
                params = _with(base, members, value, model, structure)
                found.append(Sample(operation.name, path, constraint, params))
    return found


def _constraints(model: Model, shape_name: str) -> Iterator[tuple[str, Any]]:
    shape = model.shape(shape_name)
    if shape["type"] == "map":  # a key breaking the key's rule
        for constraint, key in broken(model, shape["key"]["shape"]):
            if constraint == "pattern":
                yield "key", {key: "v"}
        return
    yield from broken(model, shape_name)


def _leaves(
    model: Model, structure: str, path: tuple[str, ...], members: tuple[str, ...]
) -> Iterator[tuple[str, tuple[str, ...], str]]:
    for name, member, shape in model.members(structure):
        here, names = (*path, camel(name)), (*members, name)
        if shape["type"] == "structure":
            yield from _leaves(model, member["shape"], here, names)
        elif shape["type"] in ("string", "integer", "long", "map"):
            yield ".".join(here), names, member["shape"]


def _with(
    base: dict[str, Any], members: tuple[str, ...], value: Any, model: Model, structure: str
) -> dict[str, Any]:
    """``base`` with ``value`` at ``members``, filling the structures on the way validly."""
    params = dict(base)
    target, shape_name = params, structure
    for name in members[:-1]:
        shape_name = model.shape(shape_name)["members"][name]["shape"]
        target[name] = dict(target.get(name) or valid(model, shape_name))
        target = target[name]
    target[members[-1]] = value
    return params
