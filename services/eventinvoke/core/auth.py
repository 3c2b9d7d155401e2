"""Who is calling, and may they: AWS Signature Version 4, checked with botocore's own signer.

The HTTP gateway receives requests signed as for AWS Lambda (the AWS CLI's and the SDKs'),
in the ``Authorization`` header or in a presigned URL's query string. A gRPC call carries the
same signature in its metadata, computed over a request of a fixed form (``grpc_request``), so
that a client in any language signs it with its AWS SDK's signer. Either way the expected
signature is computed by botocore from the configured secret and compared in constant time;
no cryptography is written here.

Roles say what a credential may call; each operation's role is in the table of operations.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from eventinvoke.client.signing import GRPC_HOST
from eventinvoke.core.errors import LambdaError

Role = Literal["invoke", "admin", "service"]
ROLES: tuple[Role, ...] = ("invoke", "admin", "service")
# AWS refuses a signature dated more than this away from its clock.
MAX_SKEW = datetime.timedelta(minutes=15)
AMZ_DATE = "%Y%m%dT%H%M%SZ"


class AuthenticationError(LambdaError):
    """Who is calling could not be established. ``code`` is AWS's exception name for why:
    MissingAuthenticationTokenException, UnrecognizedClientException,
    InvalidSignatureException or IncompleteSignatureException (all 403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self._code = code

    @property
    def code(self) -> str:
        return self._code


class AccessDeniedException(LambdaError):
    pass


AUTH_ERRORS: tuple[type[LambdaError], ...] = (AuthenticationError,)
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    role: Role = "admin"

    def __repr__(self) -> str:  # never a secret in a log line or a traceback
        return f"Credential({self.access_key_id!r}, role={self.role!r})"


def permits(role: Role, needed: Role) -> bool:
    """``invoke`` operations are anyone's; ``admin`` and ``service`` may call everything (the
    suite's own services call management operations on a user's behalf through the gateway)."""
    return needed == "invoke" or role in ("admin", "service")


def denied(credential: Credential, operation: str, needed: Role) -> AccessDeniedException:
    return AccessDeniedException(
        f"User: {credential.access_key_id} is not authorized to perform: lambda:{operation} "
        f"(its role is {credential.role}; the operation needs {needed})"
    )


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers: the request as it arrived (path and query still encoded)."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]  # case-insensitive lookups (aiohttp's, or lower-cased names)
    body: bytes


def grpc_request(method: str, metadata: Mapping[str, str]) -> SignedRequest:
    """The request a gRPC call's signature covers: ``POST https://eventinvoke/<method>`` with
    an empty body, signed headers ``host`` and ``x-amz-date``; the call's metadata carries
    ``authorization`` and ``x-amz-date``."""
    headers = {key.lower(): value for key, value in metadata.items()}
    headers["host"] = GRPC_HOST
    return SignedRequest("POST", method, "", headers, b"")


_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 +Credential=(?P<credential>[^, ]+), *"
    r"SignedHeaders=(?P<signed>[^, ]+), *Signature=(?P<signature>[0-9a-f]+)"
)


class Verifier:
    """Checks signatures against the configured credentials."""

    def __init__(
        self,
        credentials: Iterable[Credential],
        now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.credentials = {c.access_key_id: c for c in credentials}
        self.now = now

    def verify(self, request: SignedRequest) -> Credential:
        """The credential that signed ``request``; AWS's error when none did."""
        query = dict(parse_qsl(request.raw_query, keep_blank_values=True))
        authorization = request.headers.get("authorization") or request.headers.get("Authorization")
        if authorization:
            match = _AUTHORIZATION.fullmatch(authorization.strip())
            if match is None:
                raise AuthenticationError(
                    "IncompleteSignatureException",
                    "Authorization header requires 'Credential', 'SignedHeaders' and "
                    "'Signature' parameters (AWS4-HMAC-SHA256).",
                )
            credential, signed, signature = match["credential"], match["signed"], match["signature"]
            amz_date = _header(request, "x-amz-date")
            presigned = False
        elif "X-Amz-Signature" in query:
            credential = query.get("X-Amz-Credential", "")
            signed = query.get("X-Amz-SignedHeaders", "host")
            signature = query["X-Amz-Signature"]
            amz_date = query.get("X-Amz-Date", "")
            presigned = True
        else:
            raise AuthenticationError(
                "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        access_key_id, _, scope = credential.partition("/")
        date, region, service = (scope.split("/") + ["", "", ""])[:3]
        known = self.credentials.get(access_key_id)
        if known is None:
            raise AuthenticationError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        signed_at = _parse_date(amz_date)
        if signed_at is None or date != amz_date[:8]:
            raise AuthenticationError(
                "IncompleteSignatureException",
                "Date must be in ISO-8601 'basic format' (X-Amz-Date, yyyyMMddTHHmmssZ) and "
                "match the date of the credential scope.",
            )
        self._check_time(signed_at, query.get("X-Amz-Expires") if presigned else None)
        expected = _signature(
            request, known, amz_date, region, service, signed.split(";"), presigned
        )
        if not hmac.compare_digest(expected, signature):
            raise AuthenticationError("InvalidSignatureException", SIGNATURE_MISMATCH)
        return known

    def _check_time(self, signed_at: datetime.datetime, expires: str | None) -> None:
        now = self.now().replace(microsecond=0)
        shown = now.strftime(AMZ_DATE)
        if expires is not None:
            if not expires.isdigit() or signed_at + datetime.timedelta(seconds=int(expires)) < now:
                raise AuthenticationError(
                    "InvalidSignatureException",
                    "Signature expired: the presigned URL is past its X-Amz-Expires.",
                )
            return
        if signed_at < now - MAX_SKEW:
            raise AuthenticationError(
                "InvalidSignatureException",
                f"Signature expired: {signed_at.strftime(AMZ_DATE)} is now earlier than "
                f"{(now - MAX_SKEW).strftime(AMZ_DATE)} ({shown} - 15 min.)",
            )
        if signed_at > now + MAX_SKEW:
            raise AuthenticationError(
                "InvalidSignatureException",
                f"Signature not yet current: {signed_at.strftime(AMZ_DATE)} is still later than "
                f"{(now + MAX_SKEW).strftime(AMZ_DATE)} ({shown} + 15 min.)",
            )


def _header(request: SignedRequest, name: str) -> str:
    return request.headers.get(name) or request.headers.get(name.title()) or ""


def _parse_date(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(text, AMZ_DATE).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def _signature(
    request: SignedRequest,
    credential: Credential,
    amz_date: str,
    region: str,
    service: str,
    signed_headers: list[str],
    presigned: bool,
) -> str:
    """The signature botocore computes for ``request`` with ``credential``'s secret."""
    # botocore is imported when the first signed request comes, not at start.
    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {name: _header(request, name) for name in signed_headers}
    query = request.raw_query
    if presigned:  # the signature covers the query string without itself
        query = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    url = f"https://{headers.get('host', '')}{request.raw_path}" + (f"?{query}" if query else "")
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    aws_request.context["timestamp"] = amz_date
    keys = Credentials(credential.access_key_id, credential.secret_access_key)
    signer = (SigV4QueryAuth if presigned else SigV4Auth)(keys, service, region)
    declared = headers.get("x-amz-content-sha256")
    unsigned = not declared or declared == "UNSIGNED-PAYLOAD" or presigned
    if not unsigned and declared != hashlib.sha256(request.body).hexdigest():
        return ""  # the body is not the one signed
    canonical = signer.canonical_request(aws_request)
    return str(signer.signature(signer.string_to_sign(aws_request, canonical), aws_request))
