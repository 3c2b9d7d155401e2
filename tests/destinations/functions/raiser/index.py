"""Raises with the event's "error" text when it has one; otherwise returns {"ok": true}.

With $RUNS_FILE set, appends one JSON line per run (so tests can count executions).
"""

import json
import os


def handler(event, context):
    runs = os.environ.get("RUNS_FILE")
    if runs:
        with open(runs, "a") as f:
            f.write(json.dumps({"request_id": context.aws_request_id}) + "\n")
    if isinstance(event, dict) and "error" in event:
        raise ValueError(event["error"])
    return {"ok": True}
