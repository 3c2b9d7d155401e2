"""The sandbox host: the executor's sandboxes in a child process of their own."""

from eventinvoke.executor.host.pool import HostedPool, SandboxHostError

__all__ = ["HostedPool", "SandboxHostError"]
