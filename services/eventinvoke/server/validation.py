"""Requests checked against the model's constraints, once, where they come in.

Every gRPC request of an operation the model describes is read as its input shape (the codec)
and its members checked as AWS checks them (``eventinvoke.api.constraints``), before the domain
sees it; the HTTP gateway's requests pass here too, since the gateway calls the Invoker over
gRPC. What the model cannot say (a derived qualifier that must match, a timeout over 900 s, a
destination's service) stays with the domain.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from eventinvoke.api import codec
from eventinvoke.api.constraints import (
    Check,
    members,
    null,
    plugin_destination,
    validation_message,
)
from eventinvoke.api.model import lambda_model
from eventinvoke.api.operations import BY_RPC, Operation
from eventinvoke.core.errors import ValidationException


def operation_of(method: str) -> Operation | None:
    """The operation a gRPC method (``/eventinvoke.v1.Invoker/CreateFunction``) serves, when the
    model describes it (AWS's operations and eventinvoke's own; not the internal ones)."""
    operation = BY_RPC.get(method.removeprefix("/eventinvoke.v1."))
    if operation is None or operation.name not in lambda_model().operation_names:
        return None
    return operation


def check(operation: str, request: Message) -> None:
    """Raise ValidationException, listing every constraint ``request`` fails."""
    found: list[str] = []
    for read, check_value, path, required in _plan(request.DESCRIPTOR, operation):
        value = read(request)
        if value is None:
            if required:
                found.append(null(path))
        else:
            check_value(value, path, found, plugin_destination)
    if found:
        raise ValidationException(validation_message(found))


@cache
def _plan(
    descriptor: Descriptor, operation: str
) -> tuple[tuple[Callable[[Message], Any], Check, str, bool], ...]:
    """How to check each member of an operation's request: read it from the message as the
    codec would convert it, and check it as the model says (no dict built in between)."""
    shape = lambda_model().operation(operation).input
    if shape is None:
        return ()
    return tuple(
        (codec.reader(descriptor, shape, name), check_value, path, required)
        for name, check_value, path, required in members(shape)
    )
