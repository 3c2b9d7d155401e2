"""Signing gRPC calls with AWS credentials (Signature Version 4), as the servers expect.

A call is signed as the request ``POST https://eventinvoke/<package.Service>/<Method>`` with an
empty body, service ``lambda``, any region, at the call's time; the ``authorization`` and
``x-amz-date`` headers that signing produces travel as the call's metadata. Any AWS SDK's
signer does the same in another language (SECURITY.md shows it).

Credentials come from the standard AWS places, as the AWS CLI finds them: given explicitly,
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, or a profile of the shared credentials and
config files (``AWS_PROFILE``, else ``default``). Not the instance-metadata or container
providers: a client on a laptop would wait on them at every start.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

# The host a call's signature names: fixed, so that the proxies and meshes between client and
# server, which rewrite :authority, do not break it.
GRPC_HOST = "eventinvoke"
SERVICE = "lambda"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never a secret in a log line or a traceback
        return f"Keys({self.access_key_id!r})"


def find_keys(profile: str | None = None) -> Keys | None:
    """The caller's AWS credentials from the environment or the shared files; None if none."""
    if profile is None:
        access, secret = (
            os.environ.get("AWS_ACCESS_KEY_ID"),
            os.environ.get("AWS_SECRET_ACCESS_KEY"),
        )
        if access and secret:
            return Keys(access, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
        if not any(path.exists() for path in _shared_files()):
            return None
    import botocore.session  # only when there are files to read: it takes a tenth of a second

    session = botocore.session.Session(profile=profile)
    resolver = session.get_component("credential_provider")
    for name in ("container-role", "iam-role"):  # network lookups: see the module's docstring
        resolver.remove(name)
    found = resolver.load_credentials()
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    return Keys(frozen.access_key, frozen.secret_key, frozen.token or None)


def _shared_files() -> list[Path]:
    return [
        Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser(),
        Path(os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")).expanduser(),
    ]


def sign(keys: Keys, method: str, region: str = DEFAULT_REGION) -> tuple[tuple[str, str], ...]:
    """The metadata that authenticates a call of ``method`` (``/eventinvoke.v1.Invoker/Invoke``)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=f"https://{GRPC_HOST}{method}", data=b"")
    credentials = Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    metadata = [
        ("authorization", request.headers["Authorization"]),
        ("x-amz-date", request.headers["X-Amz-Date"]),
    ]
    if keys.session_token:
        metadata.append(("x-amz-security-token", keys.session_token))
    return tuple(metadata)


class _Signatures:
    """One signature per method and second: a signature names its second, so calls within it
    share one (signing costs tens of microseconds)."""

    def __init__(self, keys: Keys, now: Callable[[], datetime.datetime]) -> None:
        self.keys = keys
        self.now = now
        self._cache: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}

    def metadata(self, method: str | bytes) -> tuple[tuple[str, str], ...]:
        name = method.decode() if isinstance(method, bytes) else method
        second = self.now().strftime("%Y%m%dT%H%M%S")
        cached = self._cache.get(name)
        if cached is None or cached[0] != second:
            cached = (second, sign(self.keys, name))
            self._cache[name] = cached
        return cached[1]


def _with_metadata(details: Any, extra: tuple[tuple[str, str], ...], factory: Any) -> Any:
    return factory(
        method=details.method,
        timeout=details.timeout,
        metadata=(*tuple(details.metadata or ()), *extra),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class AsyncSigner(grpc.aio.UnaryUnaryClientInterceptor):
    """Signs every unary call of a ``grpc.aio`` channel."""

    def __init__(self, keys: Keys) -> None:
        self._signatures = _Signatures(keys, _utc_now)

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        extra = self._signatures.metadata(details.method)
        details = _with_metadata(details, extra, grpc.aio.ClientCallDetails)
        return await continuation(
            details._replace(metadata=grpc.aio.Metadata(*details.metadata)), request
        )


class _SyncDetails(grpc.ClientCallDetails):  # grpc's sync details type is abstract
    def __init__(self, **fields: Any) -> None:
        self.compression = None
        for name, value in fields.items():
            setattr(self, name, value)


class Signer(grpc.UnaryUnaryClientInterceptor):
    """Signs every unary call of a blocking channel (``grpc.intercept_channel``)."""

    def __init__(self, keys: Keys) -> None:
        self._signatures = _Signatures(keys, _utc_now)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        extra = self._signatures.metadata(details.method)
        return continuation(_with_metadata(details, extra, _SyncDetails), request)
