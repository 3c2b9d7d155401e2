"""Handlers the sandbox tests run; each is named by the behaviour it shows."""

import os
import time


def echo(event, context):
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "client_context": context.client_context,
        "pid": os.getpid(),
    }


def nothing(event, context):
    print("returning nothing")


def boom(event, context):
    raise ValueError("boom")


def sleep(event, context):
    time.sleep(event.get("seconds", 30))
    return "woke"


def exit3(event, context):
    os._exit(3)


def env(event, context):
    return {
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
        },
    }


def chatty(event, context):
    print("x" * event.get("bytes", 0))
    print("hello from the function")
    return "ok"


def big(event, context):
    return "x" * 7_000_000


def unserialisable(event, context):
    return object()
