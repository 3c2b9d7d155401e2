"""Tries what an isolated function must not do, and reports what it could (tests/security).

The event names what to try: files to read, directories to list and write into, processes to
signal and whose environment to read, Runtime APIs to take an event from. Every answer is
"ok" or the name of the error that stopped it.
"""

import os
import socket


def _try(action):
    try:
        action()
    except OSError as error:
        return type(error).__name__
    return "ok"


def _read(path):
    with open(path, "rb") as f:
        f.read(1)


def _write_into(directory):
    with open(os.path.join(directory, "written-by-a-function"), "w") as f:
        f.write("x")


def _take_event(address):
    """GET /next from a Runtime API: "ok" only if an answer came back."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        if not sock.recv(1024):
            raise ConnectionResetError("closed without an answer")


def _tmp():
    path = os.path.join(os.environ["TMPDIR"], "scratch")
    with open(path, "w") as f:
        f.write("mine")
    with open(path) as f:
        assert f.read() == "mine"


def handler(event, context):
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "pid": os.getpid(),
        "environ": dict(os.environ),
        "tmp": _try(_tmp),
        "read": {path: _try(lambda p=path: _read(p)) for path in event.get("read", [])},
        "list": {path: _try(lambda p=path: os.listdir(p)) for path in event.get("list", [])},
        "write": {path: _try(lambda p=path: _write_into(p)) for path in event.get("write", [])},
        "signal": {str(pid): _try(lambda p=pid: os.kill(p, 0)) for pid in event.get("signal", [])},
        "take": {api: _try(lambda a=api: _take_event(a)) for api in event.get("take", [])},
    }
