"""Handlers for the memory-limit tests."""

import os
import subprocess
import sys


def hog(event, context):
    data = b"x" * (int(event.get("mb", 0)) * 1024 * 1024)  # written: resident at once
    return {"allocated": len(data), "pid": os.getpid()}


def child_hog(event, context):
    """The memory is taken by a child process: the limit covers the sandbox's process tree."""
    code = f"data = b'x' * ({int(event['mb'])} * 1024 * 1024); import time; time.sleep(5)"
    subprocess.run([sys.executable, "-c", code], check=False)
    return "child done"
