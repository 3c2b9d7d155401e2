"""The OnSuccess destination: appends ``<request id> <time.time()>`` to $BENCH_COLLECT_FILE.

The request id is the *original* invocation's (from the destination record's requestContext),
so the bench can match it with the time the client sent that invocation. One short ``write``
on an O_APPEND file is atomic, so concurrent collectors never interleave lines.
"""

import os
import time


def handler(event, context):  # type: ignore[no-untyped-def]
    line = f"{event['requestContext']['requestId']} {time.time():.6f}\n"
    fd = os.open(os.environ["BENCH_COLLECT_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return None
