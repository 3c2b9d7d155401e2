"""Running an operation, written once for both clients: the request from boto3-shaped
parameters, and boto3's answer from the response. Both come from the table of operations and
the model (``eventinvoke.api``); the clients only carry the call, blocking or awaiting.

Building the request is where arguments are checked, so a bad argument raises
:class:`ParamValidationError` before any I/O, as botocore's does.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from google.protobuf.message import Message

from eventinvoke.api import codec
from eventinvoke.api.model import lambda_model
from eventinvoke.api.operations import BY_NAME, Operation
from eventinvoke.client.errors import ParamValidationError

__all__ = ["Operation", "answer", "request"]


def request(name: str, params: Mapping[str, Any]) -> Message:
    """The gRPC request of operation ``name`` from AWS-shaped ``params`` (None: not given)."""
    request_class, shape, fixed = _request_plan(name)
    message = request_class()
    if shape is None:
        return message
    if fixed:
        params = {**params, **fixed}
    try:
        return codec.from_dict(params, message, shape, omit_none=True)
    except codec.ConversionError as exc:
        raise ParamValidationError(str(exc)) from None


@cache
def _request_plan(name: str) -> tuple[type[Message], str | None, Mapping[str, Any]]:
    """An operation's request message, input shape and fixed members, looked up once (every
    call builds a request: Invoke's is the hot path)."""
    request_class, _ = codec.messages(name)
    return request_class, lambda_model().operation(name).input, BY_NAME[name].fixed


def answer(name: str, response: Message) -> Any:
    """What boto3 returns for operation ``name``, from its gRPC response."""
    shape, unwrap, status_member, status = _answer_plan(name)
    if shape is None:
        return None
    result = codec.to_dict(getattr(response, unwrap) if unwrap else response, shape)
    if status_member is not None:  # the HTTP status, where the output shape carries it
        result.setdefault(status_member, status)
    if name == "Invoke":
        # AWS answers a payload only when the function ran synchronously (200), even an empty
        # one; the request id travels in a header, which boto3 shows in ResponseMetadata.
        if result["StatusCode"] == 200 and "Payload" not in result:
            result = _insert_before(result, "ExecutedVersion", "Payload", b"")
        result["ResponseMetadata"] = {"RequestId": response.request_id}  # type: ignore[attr-defined]
    return result


@cache
def _answer_plan(name: str) -> tuple[str | None, str | None, str | None, int | None]:
    """An operation's output shape, the response field to unwrap, and the member carrying the
    HTTP status with its value (where the shape has one), looked up once."""
    entry = BY_NAME[name]
    shape = lambda_model().operation(name).output
    status_member = None
    if shape is not None and entry.status is not None:
        members = lambda_model().shape(shape)["members"]
        status_member = next(
            (m for m, spec in members.items() if spec.get("location") == "statusCode"), None
        )
    return shape, entry.unwrap, status_member, entry.status


def _insert_before(mapping: dict[str, Any], before: str, key: str, value: Any) -> dict[str, Any]:
    items = list(mapping.items())
    at = next((i for i, (k, _) in enumerate(items) if k == before), len(items))
    items.insert(at, (key, value))
    return dict(items)
