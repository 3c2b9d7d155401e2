"""Requests checked against the model's constraints, once, where they come in.

Every gRPC request of an operation the model describes is read as its input shape (the codec)
and its members checked as AWS checks them (``eventinvoke.api.constraints``), before the domain
sees it; the HTTP gateway's requests pass here too, since the gateway calls the Invoker over
gRPC. What the model cannot say (a derived qualifier that must match, a timeout over 900 s, a
destination's service) stays with the domain.
"""

from __future__ import annotations

from google.protobuf.message import Message

from eventinvoke.api import codec
from eventinvoke.api.constraints import plugin_destination, problems, validation_message
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
    shape = lambda_model().operation(operation).input
    if shape is None:
        return
    found = problems(operation, codec.to_dict(request, shape), allow=plugin_destination)
    if found:
        raise ValidationException(validation_message(found))
