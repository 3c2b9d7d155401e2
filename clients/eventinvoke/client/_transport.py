"""What the sync and asyncio clients share about reaching a server."""

from __future__ import annotations

DEFAULT_ENDPOINT = "127.0.0.1:50051"

# Synchronous payloads reach 6 MB and deployment packages more; gRPC's default limit is 4 MiB.
_MESSAGE_LIMIT = 64 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", _MESSAGE_LIMIT),
    ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
]


def target(endpoint: str) -> str:
    """The gRPC target for an endpoint, accepting AWS-style ``http://host:port/`` as well."""
    return endpoint.removeprefix("http://").rstrip("/")
