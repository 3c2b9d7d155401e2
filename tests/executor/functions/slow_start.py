"""A function whose sandboxes take long to start (its import sleeps) and whose invocations are
short: a start costs far more than a wait, however loaded the machine is."""

import time

time.sleep(0.4)


def echo(event, context):
    return {"event": event}
