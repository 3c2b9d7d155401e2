"""Fuzzing, bounded in time (issue #16): what parses hostile input answers with a clear error or
a result, never another exception.

Property-based tests (hypothesis) of the gateway's request parsing, SigV4 verification, ARN
parsing, zip checking and unpacking, record rendering and the lineage metadata; then random
bytes thrown at a running server's gRPC methods and HTTP routes, which keeps serving.

The ``ci`` profile (the default) keeps the whole module under a minute on a shared CI core;
``HYPOTHESIS_PROFILE=deep`` runs a hundred times as many examples, to hunt locally.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from gateway.harness import GatewaySuite, run_gateway_suite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventinvoke.api import records as api_records
from eventinvoke.api.constraints import plugin_destination, problems
from eventinvoke.client import ServiceError
from eventinvoke.core import auth
from eventinvoke.core.arn import Partition, parse_function_name
from eventinvoke.core.errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceNotFoundException,
    ValidationException,
)
from eventinvoke.core.model import ExecutionRecord, Lineage
from eventinvoke.core.packaging import unsafe_entry
from eventinvoke.executor.code import UnsafePackageError, _unpack
from eventinvoke.executor.records import error_fields
from eventinvoke.gateway import rest
from eventinvoke.gateway.errors import ERRORS
from eventinvoke.invoker.functions import UNREADABLE_ZIP
from eventinvoke.v1 import record_pb2

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("EVENTINVOKE_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep",
    max_examples=15000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROUTES = rest.routes()
TEXT = st.text(max_size=300)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=30,
)


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BODIES = (
    st.binary(max_size=2000)
    | JSON.map(lambda value: json.dumps(value).encode())
    | st.integers(min_value=900, max_value=6000).map(_deep)
)


# --- the gateway's request parsing -----------------------------------------------------------


@given(
    route=st.sampled_from(ROUTES),
    path_params=st.dictionaries(st.sampled_from(["FunctionName", "Name", "Qualifier"]), TEXT),
    query=st.dictionaries(
        st.sampled_from(["Qualifier", "Marker", "MaxItems", "FunctionVersion", "Publish"]) | TEXT,
        TEXT,
        max_size=4,
    ),
    headers=st.dictionaries(
        st.sampled_from(["X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context"]) | TEXT,
        TEXT,
        max_size=4,
    ),
    body=BODIES,
)
def test_rest_parse_gives_members_or_an_aws_error(
    route: rest.Route,
    path_params: dict[str, str],
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> None:
    request = rest.HttpRequest(route.method, path_params, query, headers, body)
    try:
        params = rest.parse(route.operation, request)
    except ServiceError as error:
        assert error.code in ERRORS
        assert 400 <= error.http_status < 500
        return
    assert isinstance(params, dict)
    problems(route.operation, params, allow=plugin_destination)  # the checks that follow


# --- SigV4 verification ----------------------------------------------------------------------

KEYS = auth.Credential("AKIDFUZZ", "fuzz-secret", "admin")
DATES = st.one_of(
    TEXT,
    st.datetimes(
        min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31)
    ).map(lambda moment: moment.strftime("%Y%m%dT%H%M%SZ")),
)
CREDENTIAL = st.builds(
    lambda key, date, region, service: f"{key}/{date}/{region}/{service}/aws4_request",
    st.sampled_from(["AKIDFUZZ", "AKIDOTHER", ""]) | TEXT,
    DATES.map(lambda date: date[:8]),
    TEXT,
    TEXT,
)
AUTHORIZATION = st.one_of(
    TEXT,
    st.builds(
        lambda credential, signed, signature: (
            f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, "
            f"Signature={signature}"
        ),
        CREDENTIAL,
        st.sampled_from(["host;x-amz-date", "host", "x-amz-content-sha256;x-amz-date"]) | TEXT,
        st.text("0123456789abcdef", max_size=64),
    ),
)


@given(
    authorization=st.none() | AUTHORIZATION,
    amz_date=st.none() | DATES,
    query=st.dictionaries(
        st.sampled_from(["X-Amz-Signature", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires"])
        | TEXT,
        st.text(max_size=40) | st.integers(min_value=0, max_value=10**30).map(str),
        max_size=5,
    ),
    extra=st.dictionaries(st.sampled_from(["host", "x-amz-content-sha256"]), TEXT, max_size=2),
    body=st.binary(max_size=100),
)
def test_sigv4_verification_gives_a_credential_or_an_auth_error(
    authorization: str | None,
    amz_date: str | None,
    query: dict[str, str],
    extra: dict[str, str],
    body: bytes,
) -> None:
    from urllib.parse import urlencode

    headers = dict(extra)
    if authorization is not None:
        headers["authorization"] = authorization
    if amz_date is not None:
        headers["x-amz-date"] = amz_date
    request = auth.SignedRequest("POST", "/2015-03-31/functions", urlencode(query), headers, body)
    verifier = auth.Verifier([KEYS])
    try:
        caller = verifier.verify(request)
    except auth.AUTH_ERRORS:
        return
    assert caller == KEYS  # only a real signature passes, and hypothesis cannot forge one


def test_sigv4_verification_passes_a_signature_botocore_made() -> None:
    """The property above holds because nothing passes; this proves a real signature does."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = AWSRequest(method="POST", url="https://h/2015-03-31/functions", data=b"{}")
    SigV4Auth(Credentials("AKIDFUZZ", "fuzz-secret"), "lambda", "us-east-1").add_auth(signed)
    headers = {key.lower(): value for key, value in signed.headers.items()}
    headers["host"] = "h"
    request = auth.SignedRequest("POST", "/2015-03-31/functions", "", headers, b"{}")
    assert auth.Verifier([KEYS]).verify(request) == KEYS


# --- ARN parsing -----------------------------------------------------------------------------

NAMES = st.one_of(
    TEXT,
    st.builds(
        lambda region, account, name, qualifier: (
            f"arn:aws:lambda:{region}:{account}:function:{name}"
            + (f":{qualifier}" if qualifier else "")
        ),
        st.sampled_from(["us-east-1", "eu-west-1", "", "x"]) | TEXT,
        st.sampled_from(["000000000000", "111111111111", ""]) | TEXT,
        st.from_regex(r"[a-zA-Z0-9_.-]{1,70}", fullmatch=True) | TEXT,
        st.none() | st.sampled_from(["$LATEST", "1", "live"]) | TEXT,
    ),
)


@given(value=NAMES, qualifier=st.none() | TEXT)
def test_arn_parsing_gives_a_ref_or_awss_error(value: str, qualifier: str | None) -> None:
    try:
        ref = parse_function_name(value, qualifier)
    except (ValidationException, InvalidParameterValueException):
        return
    assert ref.name and ref.name in value
    try:
        here = Partition().parse(value, qualifier, invoke=True)
    except ResourceNotFoundException as error:
        assert ref.region not in (None, "us-east-1") or ref.account not in (None, "000000000000")
        assert len(error.message) < 400
        return
    assert here.name == ref.name
    assert here.region in (None, "us-east-1") and here.account in (None, "000000000000")


# --- a chain's lineage, as the Router's Invoke carries it --------------------------------------


@given(
    text=TEXT | st.builds(lambda chain, depth: f"{chain}:{depth}", TEXT, st.integers(-5, 10**10))
)
def test_lineage_decoding_gives_a_lineage_or_a_value_error(text: str) -> None:
    try:
        lineage = Lineage.decode(text)
    except ValueError:
        return
    assert Lineage.decode(lineage.encode()) == lineage
    assert 0 < len(lineage.chain_id) <= 128 and 1 <= lineage.depth < 10**9


# --- zip checking and unpacking --------------------------------------------------------------

ENTRY_NAMES = st.one_of(
    st.from_regex(r"[a-z]{1,4}(/[a-z]{1,4}){0,2}/?", fullmatch=True),
    st.sampled_from(["../x", "/etc/x", "a/../../x", "C:/x", "a\\..\\..\\x", ".", "./a", "a//b"]),
    st.text(max_size=30),
)
ENTRIES = st.lists(
    st.tuples(
        ENTRY_NAMES,
        st.binary(max_size=64),
        st.sampled_from([0o100644, 0o100755, 0o120777, 0o040755, 0o104755, 0o020644, 0, 0o777]),
        st.none() | st.sampled_from(["a", "../..", "/etc", "b/c", "..", "a/../../x"]),
    ),
    max_size=8,
)


def _zip(entries: list[tuple[str, bytes, int, str | None]]) -> bytes:
    warnings.simplefilter("ignore", UserWarning)  # duplicate names are part of the attack
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, mode, link in entries:
            if not name:
                continue
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 if link else mode) << 16
            archive.writestr(info, link.encode() if link else data)
    return buffer.getvalue()


def _inside(root: Path) -> Iterator[Path]:
    for directory, names, files in os.walk(root):
        for name in names + files:
            yield Path(directory) / name


@given(
    package=st.one_of(ENTRIES.map(_zip), st.binary(max_size=500)),
    corrupt=st.none() | st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=8)),
)
def test_a_package_is_refused_or_unpacked_inside_its_directory(
    package: bytes, corrupt: tuple[int, bytes] | None
) -> None:
    if corrupt is not None and package:
        at, noise = corrupt
        at %= len(package)
        package = package[:at] + noise + package[at + len(noise) :]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        outside = root / "outside"
        outside.mkdir()
        (outside / "keep").write_text("keep")
        target = root / "code" / "fn"
        try:
            with zipfile.ZipFile(io.BytesIO(package)) as archive:
                unsafe_entry(archive)
        except UNREADABLE_ZIP:
            pass
        try:
            _unpack(package, target)
        except (UnsafePackageError, *UNREADABLE_ZIP):  # the executor fails the event
            pass
        assert sorted(p.name for p in outside.iterdir()) == ["keep"]
        assert (outside / "keep").read_text() == "keep"
        assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) in (
            ["code", "outside"],
            ["outside"],
        )
        if target.is_dir():
            real_root = os.path.realpath(target)
            for path in _inside(target):
                real = os.path.realpath(path)
                assert real == real_root or real.startswith(real_root + os.sep), path
                mode = path.lstat().st_mode
                assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), path


# --- record rendering ------------------------------------------------------------------------

PAYLOADS = st.one_of(BODIES, JSON.map(lambda value: json.dumps(value).encode()))


@given(
    request_payload=PAYLOADS,
    response_payload=st.none() | PAYLOADS,
    function_error=st.none() | st.sampled_from(["Unhandled", "Handled"]) | TEXT,
    condition=st.sampled_from(["Success", "RetriesExhausted", "EventAgeExceeded"]) | TEXT,
)
def test_a_record_renders_whatever_the_payloads(
    request_payload: bytes,
    response_payload: bytes | None,
    function_error: str | None,
    condition: str,
) -> None:
    record = ExecutionRecord(
        request_id="r",
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
        condition=condition,
        approximate_invoke_count=1,
        request_payload=request_payload,
        timestamp=datetime.datetime.now(datetime.UTC),
        executed_version="$LATEST" if response_payload is not None else None,
        function_error=function_error,
        response_payload=response_payload,
    )
    # Always JSON, whatever the payloads held (NaN and Infinity are not): UTF-8, no constants.
    rendered = json.loads(record.to_json_bytes().decode(), parse_constant=_not_json)
    assert record.to_json() == record.to_json_bytes().decode()
    assert rendered["requestContext"]["condition"] == condition
    assert isinstance(record.error_message, str)
    fields = error_fields(function_error, response_payload)
    assert set(fields) <= {"error_type", "error_message"}

    message = record_pb2.ExecutionRecord(
        version="1.0", request_payload=request_payload, response_payload=response_payload
    )
    as_dict = api_records.execution_record_to_dict(message)
    json.dumps(as_dict)


def _not_json(token: str) -> None:
    raise ValueError(f"{token} is not JSON")


# --- a running server, and random bytes ------------------------------------------------------

GRPC_METHODS = [
    f"/eventinvoke.v1.{service}/{method}"
    for service, methods in {
        "Invoker": [
            "Invoke", "InvokeBatch", "CreateFunction", "GetFunction", "ListFunctions",
            "UpdateFunctionConfiguration", "UpdateFunctionCode", "DeleteFunction",
            "PublishVersion", "CreateAlias", "PutFunctionEventInvokeConfig",
            "ListFunctionEventInvokeConfigs", "PutFunctionConcurrency",
        ],
        "Executor": ["Execute", "GetFunctionLogs"],
        "Router": [
            "Route", "ListFailedDeliveries", "GetFailedDelivery", "RedriveFailedDeliveries",
            "PurgeFailedDeliveries",
        ],
    }.items()
    for method in methods
]  # fmt: skip
CLEAR = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewaySuite]:
    for suite in run_gateway_suite(tmp_path_factory.mktemp("fuzzed")):
        suite.deploy("echo", "echo")
        yield suite


def _still_serving(suite: GatewaySuite) -> None:
    answer = suite.client.invoke("echo", b'{"after": "fuzz"}')
    assert answer["StatusCode"] == 200
    assert json.loads(answer["Payload"])["event"] == {"after": "fuzz"}


def test_random_bytes_at_every_grpc_method_get_clear_answers(running: GatewaySuite) -> None:
    answers: dict[str, set[str]] = {}
    with grpc.insecure_channel(running.address) as channel:

        @settings(max_examples=60)
        @given(method=st.sampled_from(GRPC_METHODS), data=st.binary(max_size=3000))
        def throw(method: str, data: bytes) -> None:
            call = channel.unary_unary(method)
            try:
                call(data, timeout=10)
                code = grpc.StatusCode.OK
            except grpc.RpcError as error:
                code = error.code()
                assert len(error.details() or "") < 3000
            assert code in CLEAR, (method, data, code)
            answers.setdefault(method, set()).add(code.name)

        throw()
    _still_serving(running)


async def test_random_requests_at_every_http_route_get_clear_answers(
    running: GatewaySuite,
) -> None:
    statuses: list[int] = []
    async with aiohttp.ClientSession() as session:

        async def send(route: rest.Route, name: str, body: bytes, headers: dict[str, str]) -> None:
            path = route.path.replace("{FunctionName}", name or "x").replace("{Name}", "a")
            async with session.request(
                route.method, running.url + path, data=body, headers=headers
            ) as response:
                await response.read()
                statuses.append(response.status)
                assert response.status < 500, (route, name, body[:100], response.status)
                if response.status >= 400:
                    assert response.headers.get("X-Amzn-ErrorType") in ERRORS

        cases = _http_cases()
        for case in cases:
            await send(*case)
    assert statuses
    _still_serving(running)


def _http_cases() -> list[tuple[rest.Route, str, bytes, dict[str, str]]]:
    """Examples drawn by hypothesis up front (its runner is synchronous; the requests are not)."""
    drawn: list[tuple[rest.Route, str, bytes, dict[str, str]]] = []
    safe_text = st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
        min_size=1,
        max_size=60,
    )

    @settings(max_examples=80)
    @given(
        route=st.sampled_from(ROUTES),
        name=safe_text,
        body=BODIES,
        headers=st.dictionaries(
            st.sampled_from(["X-Amz-Invocation-Type", "X-Amz-Log-Type", "Content-Type"]),
            st.sampled_from(["Event", "RequestResponse", "DryRun", "Tail", "x", ""]),
            max_size=3,
        ),
    )
    def draw(route: rest.Route, name: str, body: bytes, headers: dict[str, str]) -> None:
        drawn.append((route, name, body, headers))

    draw()
    return drawn


def test_an_error_raised_anywhere_is_a_lambda_error() -> None:
    """The fuzzers above accept only these: AWS's names, mapped by the error tables."""
    for error in (auth.AccessDeniedException, ValidationException, ResourceNotFoundException):
        assert issubclass(error, LambdaError)
        assert error.__name__ in ERRORS
    assert all(issubclass(error, LambdaError) for error in auth.AUTH_ERRORS)
    for code in (
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
    ):
        assert code in ERRORS
