"""Sleeps briefly, records that it ran, returns its event: the no-loss test's workload."""

import json
import os
import time


def handler(event, context):
    time.sleep(float(os.environ.get("SLEEP_SECONDS", "0.01")))
    with open(os.environ["RUNS_FILE"], "a") as f:
        f.write(json.dumps({"request_id": context.aws_request_id}) + "\n")
    return event
