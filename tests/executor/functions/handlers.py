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


def self_view(event, context):
    """What a function can see of its own process, to compare a forked sandbox with an
    exec'd one."""
    import sys

    def read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError as e:
            return type(e).__name__

    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError as e:
            fds[fd] = type(e).__name__
    umask = os.umask(0)
    os.umask(umask)
    ppid = os.getppid()
    return {
        "pid": os.getpid(),
        "ppid": ppid,
        "parent_cmdline": read(f"/proc/{ppid}/cmdline"),
        "parent_environ": read(f"/proc/{ppid}/environ"),
        "parent_mem": read(f"/proc/{ppid}/mem"),
        "leads_session": os.getsid(0) == os.getpid() == os.getpgid(0),
        "environ": dict(os.environ),
        "proc_environ": read("/proc/self/environ"),
        "cmdline": read("/proc/self/cmdline"),
        "status": read("/proc/self/status"),
        "argv": sys.argv,
        "orig_argv": sys.orig_argv,
        "path": sys.path,
        "flags": str(sys.flags),
        "encoding": [sys.stdout.encoding, sys.getfilesystemencoding()],
        "main": getattr(sys.modules["__main__"], "__file__", None),
        "fds": fds,
        "cwd": os.getcwd(),
        "umask": umask,
        "ids": [os.getresuid(), os.getresgid(), os.getgroups()],
    }


def reader(event, context):
    """Each path's first bytes' length, or the error reading it gave."""
    found = {}
    for path in event["paths"]:
        try:
            with open(path, "rb") as f:
                found[path] = len(f.read(64))
        except OSError as e:
            found[path] = type(e).__name__
    return found


def modules(event, context):
    import sys

    return sorted(sys.modules)


def logs(event, context):
    import logging  # first imported here, after the runtime started: its format still applies

    logging.getLogger("app").warning("warned about %s", event["about"])
    logging.getLogger("app").info("below the root logger's level: not written")
    return "ok"


def runtime_modules(event, context):
    import sys

    return sorted(name for name in ("logging", "traceback", "typing") if name in sys.modules)
