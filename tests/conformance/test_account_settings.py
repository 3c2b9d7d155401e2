"""GetAccountSettings through both APIs: the limits eventinvoke enforces and what is in use; and
the unzipped-size limit it reports, enforced before anything is unzipped."""

from __future__ import annotations

import io
import zipfile

import pytest
from botocore.exceptions import ClientError
from conftest import FUNCTIONS, zip_dir
from gateway.harness import ROLE, GatewaySuite

from eventinvoke.client import InvalidParameterValueException

UNZIPPED_LIMIT = 262_144_000


def test_account_settings_count_functions_code_and_reservations(gateway: GatewaySuite) -> None:
    lambda_ = gateway.boto3_lambda()
    before = lambda_.get_account_settings()
    package = zip_dir(FUNCTIONS / "echo")
    for name in ("counted-1", "counted-2"):
        lambda_.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": package},
        )
    lambda_.publish_version(FunctionName="counted-1")  # a version's code counts too
    lambda_.put_function_concurrency(FunctionName="counted-2", ReservedConcurrentExecutions=3)

    over_http = lambda_.get_account_settings()
    over_grpc = gateway.client.get_account_settings()

    limit = before["AccountLimit"]["ConcurrentExecutions"]
    assert over_http["AccountLimit"] == {
        "CodeSizeUnzipped": UNZIPPED_LIMIT,
        "ConcurrentExecutions": limit,
        "UnreservedConcurrentExecutions": limit - 3,
    }
    assert over_http["AccountUsage"] == {
        "TotalCodeSize": before["AccountUsage"]["TotalCodeSize"] + 3 * len(package),
        "FunctionCount": before["AccountUsage"]["FunctionCount"] + 2,
    }
    assert {k: v for k, v in over_grpc.items() if k != "ResponseMetadata"} == {
        k: v for k, v in over_http.items() if k != "ResponseMetadata"
    }


def _bomb() -> bytes:
    """A zip of a few hundred KB that would unzip to just over the limit."""
    buffer = io.BytesIO()
    archive = zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)
    with archive, archive.open("index.py", "w", force_zip64=True) as member:
        chunk = b"\0" * (1 << 20)
        for _ in range(UNZIPPED_LIMIT // len(chunk)):
            member.write(chunk)
        member.write(b"\0")
    return buffer.getvalue()


def test_a_package_over_the_unzipped_limit_is_refused(gateway: GatewaySuite) -> None:
    bomb = _bomb()
    message = f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"

    with pytest.raises(ClientError) as over_http:
        gateway.boto3_lambda().create_function(
            FunctionName="too-big",
            Runtime="python3.11",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": bomb},
        )
    with pytest.raises(InvalidParameterValueException) as over_grpc:
        gateway.client.create_function("too-big", "python3.11", "index.handler", bomb)

    assert over_http.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert over_http.value.response["Error"]["Message"] == message
    assert over_grpc.value.message == message
    assert "too-big" not in {
        f["FunctionName"] for f in gateway.client.list_functions()["Functions"]
    }
