"""AWS Lambda's service model, as eventinvoke serves it: the vendored copy (``vendor.py``) with
the patches below, where AWS's servers answer otherwise than the model says (or where
eventinvoke deliberately differs), each with its reason.

Shapes stay the model's plain dicts (``type``, ``members``, ``min``, ``max``, ``pattern``,
``enum``, ``location`` ...); the few keys of our own begin with ``x-``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MODEL_FILE = Path(__file__).with_name("lambda-2015-03-31.json")
# eventinvoke's own operations, in the same form (no HTTP route: they are served over gRPC).
OWN_MODEL_FILE = Path(__file__).with_name("eventinvoke-2026-12-01.json")

Shape = dict[str, Any]


@dataclass(frozen=True)
class Patch:
    """Change one member of one operation's input (every operation's, with ``"*"``): the
    member gets a copy of its shape with ``changes``, so other operations keep the model's."""

    operation: str
    member: str  # a path: "DestinationConfig.OnSuccess.Destination"
    changes: dict[str, Any]
    why: str


PATCHES: tuple[Patch, ...] = (
    Patch(
        "*",
        "Qualifier",
        {"x-pattern-shown": "(|[a-zA-Z0-9$_-]+)"},
        "AWS's servers quote this pattern, not the model's, when a qualifier fails it.",
    ),
    *(
        Patch(
            operation,
            "FunctionName",
            {"max": 140},
            "Observed: the EventInvokeConfig operations take at most 140 characters, as the "
            "model said before NamespacedFunctionName (256) replaced FunctionName there.",
        )
        for operation in (
            "PutFunctionEventInvokeConfig",
            "UpdateFunctionEventInvokeConfig",
            "GetFunctionEventInvokeConfig",
            "DeleteFunctionEventInvokeConfig",
            "ListFunctionEventInvokeConfigs",
        )
    ),
    *(
        Patch(
            operation,
            "Role",
            {"x-optional": True, "x-empty-ok": True},
            "IAM is not enforced: a function needs no role (an empty one is none); a role given "
            "must still look like one.",
        )
        for operation in ("CreateFunction", "UpdateFunctionConfiguration")
    ),
    *(
        Patch(
            operation,
            "MemorySize",
            {"max": 10240},
            "Lambda's functions take up to 10,240 MB: the model's larger bound is for compute "
            "eventinvoke does not offer.",
        )
        for operation in ("CreateFunction", "UpdateFunctionConfiguration")
    ),
    Patch(
        "CreateFunction",
        "FunctionName",
        {
            "max": 64,
            "pattern": r"[a-zA-Z0-9-_]+",
            "x-pattern-shown": r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?"
            r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
        },
        "A new function is named by its plain name here (no ARN forms): up to 64 characters, "
        "refused with the pattern AWS quotes for CreateFunction.",
    ),
)


# What the model cannot say about the answers: the members AWS shows even when empty
# (``x-always``), and an order of our own where AWS's answers differ from the model's.
SHAPE_PATCHES: dict[str, dict[str, Any]] = {
    "FunctionConfiguration": {
        "x-always": [
            "FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize",
            "Description", "Timeout", "MemorySize", "LastModified", "CodeSha256", "Version",
            "State", "RevisionId",
        ],
        # As AWS's answers list them (not the model's order).
        "x-order": [
            "FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize",
            "Description", "Timeout", "MemorySize", "LastModified", "CodeSha256", "Version",
            "Environment", "DeadLetterConfig", "State", "RevisionId",
        ],
    },
    "FunctionEventInvokeConfig": {"x-always": ["LastModified", "FunctionArn", "DestinationConfig"]},
    # Both outcomes always, {} for one not set.
    "DestinationConfig": {"x-always": ["OnSuccess", "OnFailure"]},
    "AliasConfiguration": {
        "x-always": ["AliasArn", "Name", "FunctionVersion", "Description", "RevisionId"]
    },
    "InvocationResponse": {"x-always": ["StatusCode"]},
}  # fmt: skip


@dataclass(frozen=True)
class OperationModel:
    name: str
    http_method: str  # "" for an operation of our own (gRPC only)
    request_uri: str
    input: str | None
    output: str | None
    errors: tuple[str, ...]
    documentation: str
    response_code: int


class Model:
    """The patched model: shapes by name, operations by name."""

    def __init__(self, raw: dict[str, Any], patches: tuple[Patch, ...] = PATCHES) -> None:
        self.raw = copy.deepcopy(raw)
        self.shapes: dict[str, Shape] = self.raw["shapes"]
        self._operations: dict[str, OperationModel] = {}
        for name, changes in SHAPE_PATCHES.items():
            self.shapes[name].update(changes)
        for patch in patches:
            names = self.raw["operations"] if patch.operation == "*" else [patch.operation]
            for name in names:
                input_name = self.raw["operations"][name].get("input", {}).get("shape")
                if input_name is not None and _has_member(self.shapes, input_name, patch.member):
                    self._patch(input_name, patch.member.split("."), patch.changes)

    def _patch(self, structure: str, path: list[str], changes: dict[str, Any]) -> None:
        member = self.shapes[structure]["members"][path[0]]
        # A copy of the member's shape, private to this structure: other users keep the model's.
        private = f"{member['shape']}@{structure}.{path[0]}"
        if private not in self.shapes:
            self.shapes[private] = copy.deepcopy(self.shapes[member["shape"]])
        member["shape"] = private
        if len(path) > 1:
            self._patch(private, path[1:], changes)
        else:
            self.shapes[private].update(changes)

    def operation(self, name: str) -> OperationModel:
        known = self._operations.get(name)
        if known is not None:  # asked on every request: read the raw model once per operation
            return known
        raw = self.raw["operations"][name]
        http = raw.get("http", {})
        known = self._operations[name] = OperationModel(
            name=name,
            http_method=http.get("method", ""),
            request_uri=http.get("requestUri", ""),
            input=raw.get("input", {}).get("shape"),
            output=raw.get("output", {}).get("shape"),
            errors=tuple(error["shape"] for error in raw.get("errors", [])),
            documentation=raw.get("documentation", ""),
            response_code=http.get("responseCode", 200),
        )
        return known

    def shape(self, name: str) -> Shape:
        return self.shapes[name]

    def members(self, structure: str) -> Iterator[tuple[str, dict[str, Any], Shape]]:
        """(member name, member, its shape) in the model's order."""
        for name, member in self.shapes[structure].get("members", {}).items():
            yield name, member, self.shapes[member["shape"]]

    def required(self, structure: str) -> list[str]:
        shape = self.shapes[structure]
        return [
            name
            for name in shape.get("required", [])
            if not self.shapes[shape["members"][name]["shape"]].get("x-optional")
        ]

    @functools.cached_property
    def operation_names(self) -> frozenset[str]:
        return frozenset(self.raw["operations"])


def _has_member(shapes: dict[str, Shape], structure: str, path: str) -> bool:
    shape = shapes[structure]
    for part in path.split("."):
        member = shape.get("members", {}).get(part)
        if member is None:
            return False
        shape = shapes[member["shape"]]
    return True


@cache
def lambda_model() -> Model:
    """AWS Lambda's model as eventinvoke serves it, with eventinvoke's own operations beside
    Lambda's (read once). Shape names do not collide: a test checks it."""
    raw = json.loads(MODEL_FILE.read_text())
    own = json.loads(OWN_MODEL_FILE.read_text())
    raw["operations"].update(own["operations"])
    raw["shapes"].update(own["shapes"])
    return Model(raw)


@cache
def compiled(pattern: str) -> re.Pattern[str]:
    """The model's patterns are Java's; the ones eventinvoke checks compile as Python's."""
    return re.compile(pattern)
