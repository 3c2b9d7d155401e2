"""The Dramatiq actors the bench's worker imports
(``dramatiq eventinvoke.bench.dramatiq_app:broker``).

As on Celery's side, the actors wrap the very handlers eventinvoke runs. ``echo`` is the job;
its success callback (``on_success``, Dramatiq's Callbacks middleware) sends ``collect`` the
message's data and the result, from which ``collect`` builds the record eventinvoke's Router
hands a destination (the request id is the echo message's id), so the collector body is shared
unchanged.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from eventinvoke.bench.functions import collector, echo

# Database 14 only: the bench flushes it before and after, and touches nothing else (Celery's
# side has 15).
BROKER_URL = "redis://127.0.0.1:6379/14"
ECHO, COLLECT = "bench_echo", "bench_collect"


class _Context:
    """The part of a Lambda context object the bench's handlers read."""

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id


def _echo(event: Any) -> Any:
    # The handler does not read its context; the message id reaches the collector through the
    # callback's message data (reading it here would take the CurrentMessage middleware).
    return echo.handler(event, _Context(""))


def _collect(message_data: dict[str, Any], result: Any) -> None:
    record = {
        "version": "1.0",
        "requestContext": {
            "requestId": message_data["message_id"],
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": message_data["args"][0],
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": result,
    }
    collector.handler(record, _Context(message_data["message_id"]))


def declare(queue: str, url: str = BROKER_URL) -> tuple[RedisBroker, Any, Any]:
    """A broker and the two actors on ``queue``: the worker's at import, the client's per run
    (each run has a queue of its own)."""
    broker = RedisBroker(url=url)
    echo_actor = dramatiq.actor(actor_name=ECHO, queue_name=queue, broker=broker)(_echo)
    collect_actor = dramatiq.actor(actor_name=COLLECT, queue_name=queue, broker=broker)(_collect)
    return broker, echo_actor, collect_actor


broker, echo_actor, collect_actor = declare(os.environ.get("BENCH_QUEUE", "eventinvoke-bench"))
dramatiq.set_broker(broker)
