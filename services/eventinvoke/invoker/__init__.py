"""The Invoker: invocation, function management, asynchronous-invocation settings."""
