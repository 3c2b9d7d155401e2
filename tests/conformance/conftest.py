"""Conformance: the same cases through the gRPC client and through the HTTP gateway."""

from gateway.harness import gateway

__all__ = ["gateway"]
