"""The gateway tests' fixture: a module-wide suite with its HTTP gateway (see harness.py)."""

from gateway.harness import gateway

__all__ = ["gateway"]
