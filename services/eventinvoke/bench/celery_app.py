"""The Celery app the bench's worker imports (``celery -A eventinvoke.bench.celery_app worker``).

The tasks wrap the very handlers eventinvoke runs (``functions.echo`` / ``functions.collector``).
``echo`` returns what eventinvoke's Router hands a destination, a record whose requestContext
carries the invocation's id (here the task id), so the collector body is shared unchanged and
Celery's ``link`` callback does the destination's job.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from eventinvoke.bench.functions import collector, echo
from eventinvoke.bench.peer_tasks import Context, success_record

# Database 15, for the bench alone (Dramatiq's side has 14); each run deletes its own keys.
BROKER_URL = "redis://127.0.0.1:6379/15"

app = Celery("eventinvoke_bench", broker=BROKER_URL)
app.conf.update(
    task_acks_late=True,  # the setting: a task is acked after it ran, like a lease
    # No result backend: "done" is the collector's line, as on eventinvoke's side.
    task_ignore_result=True,
    task_default_queue=os.environ.get("BENCH_QUEUE", "eventinvoke-bench"),
    broker_connection_retry_on_startup=True,  # silences Celery 5's deprecation warning
    worker_redirect_stdouts=False,
)


@app.task(bind=True, name="bench.echo")
def echo_task(self: Any, event: Any) -> dict[str, Any]:
    request_id = self.request.id
    return success_record(request_id, event, echo.handler(event, Context(request_id)))


@app.task(bind=True, name="bench.collect")
def collect_task(self: Any, record: dict[str, Any]) -> None:
    collector.handler(record, Context(self.request.id))
