"""Behaves as the event says, and logs every attempt to $RUNS_FILE.

{"mode": "fail"} raises; {"mode": "fail_once"} fails on its first attempt for a request id and
succeeds after; {"mode": "sleep"} succeeds; {"mode": "exit"} kills the runtime. With
"seconds": n, every attempt first sleeps n seconds.
"""

import json
import os
import time


def handler(event, context):
    runs = os.environ["RUNS_FILE"]
    previous = 0
    if os.path.exists(runs):
        with open(runs) as f:
            previous = sum(
                1 for line in f if json.loads(line)["request_id"] == context.aws_request_id
            )
    with open(runs, "a") as f:
        f.write(json.dumps({"request_id": context.aws_request_id, "at": time.time()}) + "\n")
    mode = event.get("mode")
    time.sleep(event.get("seconds", 0))
    if mode == "fail":
        raise ValueError("intentional failure")
    if mode == "fail_once" and previous == 0:
        raise ValueError("first attempt fails")
    if mode == "exit":
        os._exit(3)
    return {"ok": True, "attempt": previous + 1}
