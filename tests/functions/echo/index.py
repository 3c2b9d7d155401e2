"""Returns what it saw: the event, the request id and the invoked ARN.

With $RUNS_FILE set, also appends one JSON line per run (so tests can tell whether it ran).
"""

import json
import os


def handler(event, context):
    seen = {
        "event": event,
        "request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "function_version": context.function_version,
    }
    runs = os.environ.get("RUNS_FILE")
    if runs:
        with open(runs, "a") as f:
            f.write(json.dumps({"request_id": context.aws_request_id, "event": event}) + "\n")
    return seen
