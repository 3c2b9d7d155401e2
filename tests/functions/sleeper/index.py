"""Sleeps briefly, records that it ran (with its pid and when it started and ended), returns
its event: the no-loss test's workload.

With $STARTS_FILE set, also appends its request id there before it sleeps (so tests can tell
that it is running).
"""

import json
import os
import time


def handler(event, context):
    starts = os.environ.get("STARTS_FILE")
    if starts:
        with open(starts, "a") as f:
            f.write(json.dumps({"request_id": context.aws_request_id}) + "\n")
    started = time.time()
    time.sleep(float(os.environ.get("SLEEP_SECONDS", "0.01")))
    run = {
        "request_id": context.aws_request_id,
        "pid": os.getpid(),
        "started": started,
        "ended": time.time(),
    }
    with open(os.environ["RUNS_FILE"], "a") as f:
        f.write(json.dumps(run) + "\n")
    return event
