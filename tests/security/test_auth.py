"""Authenticated APIs: with credentials configured, every HTTP request must carry a valid AWS
Signature Version 4 and every gRPC call the same credentials, and a role allows only its
operations. The attacks of the security review are replayed and refused; the AWS CLI, boto3
and the Python client keep working with the right keys."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import boto3
import grpc
import pytest
import yarl
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import FUNCTIONS, read_lines, wait_for, zip_dir
from gateway.harness import AWS, GatewaySuite, http, run_gateway_suite
from processes import EVENTINVOKE, SuiteProcess, free_port

from eventinvoke.client import (
    AccessDeniedException,
    AsyncClient,
    Client,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from eventinvoke.core.auth import SIGNATURE_MISMATCH, Credential
from eventinvoke.server.config import Auth
from eventinvoke.v1 import router_service_pb2, router_service_pb2_grpc

ADMIN = ("AKIDADMIN", "admin-secret")
INVOKER = ("AKIDINVOKE", "invoke-secret")
SERVICE = ("AKIDSERVICE", "service-secret")
AUTH = Auth(
    (
        Credential(*ADMIN, "admin"),
        Credential(*INVOKER, "invoke"),
        Credential(*SERVICE, "service"),
    )
)
AS_TEXT = ",".join(f"{c.access_key_id}:{c.secret_access_key}:{c.role}" for c in AUTH.credentials)
FUNCTION = "/2015-03-31/functions/{}"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewaySuite]:
    running = None
    for running in run_gateway_suite(tmp_path_factory.mktemp("secured"), auth=AUTH):
        running.deploy("guarded", "echo")
        yield running


def _lambda(url: str, keys: tuple[str, str]) -> object:
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _signed_headers(url: str, method: str, keys: tuple[str, str], when: str) -> dict[str, str]:
    """Headers of a request signed at ``when`` (yyyymmddThhmmssZ), with botocore's signer."""
    request = AWSRequest(method=method, url=url, data=b"", headers={"X-Amz-Date": when})
    request.context["timestamp"] = when
    signer = SigV4Auth(Credentials(*keys), "lambda", "us-east-1")
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = f"{keys[0]}/{when[:8]}/us-east-1/lambda/aws4_request"
    return {
        "X-Amz-Date": when,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, "
        f"Signature={signature}",
    }


# --- HTTP ---------------------------------------------------------------------------------


def test_boto3_with_the_right_keys_works_and_a_role_allows_only_its_operations(
    secured: GatewaySuite,
) -> None:
    admin, invoker = _lambda(secured.url, ADMIN), _lambda(secured.url, INVOKER)

    created = admin.create_function(  # type: ignore[attr-defined]
        FunctionName="by-admin",
        Runtime="python3.11",
        Handler="index.handler",
        Role="arn:aws:iam::000000000000:role/r",
        Code={"ZipFile": zip_dir(FUNCTIONS / "echo")},
    )
    ran = invoker.invoke(FunctionName="by-admin", Payload=b'{"k": 1}')  # type: ignore[attr-defined]
    with pytest.raises(ClientError) as denied:
        invoker.delete_function(FunctionName="by-admin")  # type: ignore[attr-defined]

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert ran["StatusCode"] == 200
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert denied.value.response["Error"]["Message"].startswith(
        "User: AKIDINVOKE is not authorized to perform: lambda:DeleteFunction"
    )
    assert admin.get_function(FunctionName="by-admin")["Configuration"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("keys", "code", "message"),
    [
        (("AKIDADMIN", "wrong"), "InvalidSignatureException", SIGNATURE_MISMATCH),
        (
            ("AKIDNOBODY", "x"),
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    ],
)
def test_a_wrong_secret_or_an_unknown_key_is_403(
    secured: GatewaySuite, keys: tuple[str, str], code: str, message: str
) -> None:
    with pytest.raises(ClientError) as refused:
        _lambda(secured.url, keys).list_functions()  # type: ignore[attr-defined]

    assert refused.value.response["Error"] == {"Code": code, "Message": message}
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


async def test_an_unsigned_delete_is_refused_and_deletes_nothing(secured: GatewaySuite) -> None:
    response = await http(secured.url, "DELETE", FUNCTION.format("guarded"))

    assert response.status == 403
    assert response.headers["X-Amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.json() == {"Type": "User", "message": "Missing Authentication Token"}
    assert secured.client.get_function("guarded")["Configuration"]["FunctionName"] == "guarded"


async def test_a_signature_from_2000_is_expired(secured: GatewaySuite) -> None:
    url = secured.url + FUNCTION.format("guarded") + "/invocations"
    headers = _signed_headers(url, "POST", ADMIN, "20000101T000000Z")

    response = await http(
        secured.url, "POST", FUNCTION.format("guarded") + "/invocations", b"", headers
    )

    assert response.status == 403
    assert response.headers["X-Amzn-ErrorType"] == "InvalidSignatureException"
    assert response.json()["message"].startswith(
        "Signature expired: 20000101T000000Z is now earlier than "
    )


async def test_a_presigned_url_works_and_its_changed_copy_does_not(secured: GatewaySuite) -> None:
    url = _lambda(secured.url, ADMIN).generate_presigned_url(  # type: ignore[attr-defined]
        "get_function", Params={"FunctionName": "guarded"}, ExpiresIn=60
    )
    async with aiohttp.ClientSession() as session:
        # encoded: aiohttp would otherwise re-quote the signed query string
        async with session.get(yarl.URL(url, encoded=True)) as good:
            good_status, good_body = good.status, await good.json()
        changed_url = yarl.URL(url.replace("/guarded", "/by-admin"), encoded=True)
        async with session.get(changed_url) as changed:
            changed_status = changed.status
            changed_type = changed.headers["X-Amzn-ErrorType"]

    assert good_status == 200
    assert good_body["Configuration"]["FunctionName"] == "guarded"
    assert (changed_status, changed_type) == (403, "InvalidSignatureException")


def test_the_aws_cli_signs_with_its_environment(secured: GatewaySuite) -> None:
    env = secured.aws_env()
    command = [
        AWS,
        "lambda",
        "get-function",
        "--function-name",
        "guarded",
        "--endpoint-url",
        secured.url,
    ]
    right = subprocess.run(
        command,
        env={**env, "AWS_ACCESS_KEY_ID": INVOKER[0], "AWS_SECRET_ACCESS_KEY": INVOKER[1]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    wrong = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert right.returncode == 0, right.stderr
    assert '"FunctionName": "guarded"' in right.stdout
    assert wrong.returncode != 0
    assert "UnrecognizedClientException" in wrong.stderr


# --- gRPC ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "error"),
    [
        (False, MissingAuthenticationTokenException),
        (("AKIDADMIN", "wrong"), InvalidSignatureException),
        (("AKIDNOBODY", "x"), UnrecognizedClientException),
    ],
)
def test_grpc_without_or_with_wrong_credentials_is_unauthenticated(
    secured: GatewaySuite, credentials: object, error: type[Exception]
) -> None:
    client = Client(secured.address, credentials=credentials)  # type: ignore[arg-type]
    with client, pytest.raises(error) as refused:
        client.invoke("guarded", b"{}", invocation_type="Event")

    assert refused.value.http_status == 403  # type: ignore[attr-defined]


def test_an_invoke_role_may_invoke_and_read_but_not_manage_or_reach_internal_rpcs(
    secured: GatewaySuite,
) -> None:
    with Client(secured.address, credentials=INVOKER) as client:
        accepted = client.invoke("guarded", b"{}", invocation_type="Event")
        listed = client.list_functions()
        with pytest.raises(AccessDeniedException):
            client.delete_function("guarded")
        with pytest.raises(AccessDeniedException):
            client.list_failed_deliveries()
        with pytest.raises(AccessDeniedException):
            client.get_failed_delivery("any")
        with pytest.raises(AccessDeniedException):
            client.redrive_failed_deliveries()
        with pytest.raises(AccessDeniedException):
            client.purge_failed_deliveries()
    with Client(secured.address, credentials=SERVICE) as service:
        service.list_failed_deliveries()  # the internal store is the services' to read
        assert service.redrive_failed_deliveries() == {"RedrivenCount": 0}

    assert accepted["StatusCode"] == 202
    assert "guarded" in [f["FunctionName"] for f in listed["Functions"]]


def test_a_made_up_record_through_route_is_permission_denied(secured: GatewaySuite) -> None:
    """The Router's internal RPC, called directly with an invoke-role credential."""
    from eventinvoke.client.signing import Keys, Signer

    channel = grpc.intercept_channel(grpc.insecure_channel(secured.address), Signer(Keys(*INVOKER)))
    with channel, pytest.raises(grpc.RpcError) as refused:
        router_service_pb2_grpc.RouterStub(channel).Route(
            router_service_pb2.RouteRequest(), timeout=10
        )

    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]


async def test_the_client_takes_keys_from_the_aws_environment(
    secured: GatewaySuite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", INVOKER[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", INVOKER[1])

    async with AsyncClient(secured.address) as client:
        answer = await client.get_function("guarded")

    assert answer["Configuration"]["FunctionName"] == "guarded"


async def test_the_client_takes_keys_from_a_profile(
    secured: GatewaySuite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[ops]\naws_access_key_id = {INVOKER[0]}\naws_secret_access_key = {INVOKER[1]}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_PROFILE", "ops")

    async with AsyncClient(secured.address) as client:
        answer = await client.get_function("guarded")

    assert answer["Configuration"]["FunctionName"] == "guarded"


# --- services calling each other, and safe defaults -------------------------------------------


async def test_split_services_sign_their_calls_to_each_other(tmp_path: Path) -> None:
    """One service per process, credentials configured: a sync invoke (Invoker -> Executor)
    and an Event invoke whose record goes to a function destination all pass."""
    env = {
        "EVENTINVOKE_TIME_SCALE": "0.01",
        "EVENTINVOKE_LOG_FORMAT": "json",
        "EVENTINVOKE_AUTH": AS_TEXT,
    }
    data = ["--data-dir", str(tmp_path / "data")]
    invoker, executor, router = (f"127.0.0.1:{free_port()}" for _ in range(3))
    peers = ["--invoker-endpoint", invoker, "--executor-endpoint", executor]
    processes = [
        SuiteProcess(["serve", role, *data, *peers], tmp_path / f"{role}.log", env)
        for role in ("router", "executor", "invoker")
    ]
    records = tmp_path / "records.jsonl"
    records.touch()
    try:
        for process, address in zip(processes, (router, executor, invoker), strict=True):
            process.start(address)
        async with AsyncClient(invoker, credentials=ADMIN) as client:
            await client.create_function(
                "collector",
                "python3.11",
                "index.handler",
                zip_dir(FUNCTIONS / "collector"),
                environment={"Variables": {"COLLECT_FILE": str(records)}},
            )
            await client.create_function(
                "echo", "python3.11", "index.handler", zip_dir(FUNCTIONS / "echo")
            )
            await client.put_function_event_invoke_config(
                "echo",
                destination_config={
                    "OnSuccess": {
                        "Destination": "arn:aws:lambda:us-east-1:000000000000:function:collector"
                    }
                },
            )
            sync = await client.invoke("echo", b'{"n": 1}')
            event = await client.invoke("echo", b'{"n": 2}', invocation_type="Event")
            await wait_for(lambda: len(read_lines(records)) >= 1, timeout=30)
    finally:
        for process in processes:
            process.cleanup()

    assert sync["StatusCode"] == 200
    [record] = read_lines(records)
    assert record["event"]["requestContext"]["requestId"] == event["ResponseMetadata"]["RequestId"]


def test_off_loopback_without_credentials_it_refuses_to_start_unless_insecure(
    tmp_path: Path,
) -> None:
    listen = f"0.0.0.0:{free_port()}"
    args = ["up", "--data-dir", str(tmp_path / "data"), "--http-listen", f"127.0.0.1:{free_port()}"]
    refused = subprocess.run(
        [EVENTINVOKE, *args, "--listen", listen], capture_output=True, text=True, timeout=60
    )

    assert refused.returncode != 0
    assert f"listen {listen} is not a loopback address and no credentials are configured" in (
        refused.stdout + refused.stderr
    )
    for extra, env in ((["--insecure"], {}), ([], {"EVENTINVOKE_AUTH": AS_TEXT})):
        server = SuiteProcess([*args, *extra], tmp_path / f"up{len(env)}.log", env)
        try:
            server.start(listen)  # serving: it answers health checks on that address
        finally:
            assert server.terminate() == 0
