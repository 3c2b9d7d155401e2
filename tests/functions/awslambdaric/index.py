"""A function run by AWS's own Python runtime interface client (awslambdaric).

Its bootstrap (written by the test, which knows the interpreter's path) is
``exec python -m awslambdaric index.handler``: the RIC then drives our Runtime API itself.
"""

import os


def handler(event, context):
    if event.get("fail"):
        raise ValueError("failed under awslambdaric")
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"],
    }
