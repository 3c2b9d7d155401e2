"""The Dramatiq actors the bench's worker imports
(``dramatiq eventinvoke.bench.dramatiq_app:broker``).

As on Celery's side, the actors wrap the very handlers eventinvoke runs. The client sends each
event as a two-step ``pipeline``: ``echo`` and then ``collect``, whose message carries the echo
message's id and event and receives echo's result as its last argument (the Pipelines
middleware enqueues it when echo succeeds). ``collect`` builds from them the record
eventinvoke's Router hands a destination (the request id is the echo message's id), so the
collector body is shared unchanged.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from eventinvoke.bench.functions import collector, echo
from eventinvoke.bench.peer_tasks import Context, success_record

# Database 14, for the bench alone (Celery's side has 15); each run deletes its own keys.
BROKER_URL = "redis://127.0.0.1:6379/14"
ECHO, COLLECT = "bench_echo", "bench_collect"


def _echo(event: Any) -> Any:
    # The handler does not read its context; the message id reaches the collector as the
    # collect message's own argument (reading it here would take the CurrentMessage middleware).
    return echo.handler(event, Context(""))


def _collect(request_id: str, event: Any, result: Any) -> None:
    collector.handler(success_record(request_id, event, result), Context(request_id))


def declare(queue: str, url: str = BROKER_URL) -> tuple[RedisBroker, Any, Any]:
    """A broker and the two actors on ``queue``: the worker's at import, the client's per run
    (each run has a queue of its own)."""
    broker = RedisBroker(url=url)
    echo_actor = dramatiq.actor(actor_name=ECHO, queue_name=queue, broker=broker)(_echo)
    collect_actor = dramatiq.actor(actor_name=COLLECT, queue_name=queue, broker=broker)(_collect)
    return broker, echo_actor, collect_actor


broker, echo_actor, collect_actor = declare(os.environ.get("BENCH_QUEUE", "eventinvoke-bench"))
dramatiq.set_broker(broker)
