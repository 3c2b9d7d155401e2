"""What the Celery tasks and the Dramatiq actors share around the handlers eventinvoke runs: the
context the handlers read, and the record the collector receives, as eventinvoke's Router hands
it to a destination (its requestContext carries the invocation's id)."""

from __future__ import annotations

from typing import Any


class Context:
    """The part of a Lambda context object the bench's handlers read."""

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id


def success_record(request_id: str, event: Any, result: Any) -> dict[str, Any]:
    return {
        "version": "1.0",
        "requestContext": {
            "requestId": request_id,
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": result,
    }
