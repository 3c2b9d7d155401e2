"""Execution records as destinations receive them, and the request ids of the events they
become when their destination is a function of the suite."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from eventinvoke.app.local import follow_up_id
from eventinvoke.core.model import ExecutionRecord
from eventinvoke.invoker.invocations import new_request_id, uuid_text

ARN = "arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST"


def record(response_payload: bytes) -> ExecutionRecord:
    return ExecutionRecord(
        request_id="3f1e2d4c-0000-4000-8000-000000000001",
        function_arn=ARN,
        condition="Success",
        approximate_invoke_count=1,
        request_payload=b'{"k": "v\xc3\xa9"}',
        timestamp=datetime(2019, 11, 24, 23, 8, 25, 651000, tzinfo=UTC),
        executed_version="$LATEST",
        response_payload=response_payload,
    )


def strict(data: bytes) -> object:
    """Parse as JSON and nothing more: no NaN, no Infinity, UTF-8 only."""

    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def test_a_record_is_compact_json_in_awss_field_order() -> None:
    assert record(b'{"ok": [1, 2.5, 1e-07]}').to_json() == (
        '{"version":"1.0","timestamp":"2019-11-24T23:08:25.651Z","requestContext":'
        '{"requestId":"3f1e2d4c-0000-4000-8000-000000000001","functionArn":'
        f'"{ARN}","condition":"Success","approximateInvokeCount":1}},'
        '"requestPayload":{"k":"vé"},"responseContext":{"statusCode":200,'
        '"executedVersion":"$LATEST"},"responsePayload":{"ok":[1,2.5,1e-7]}}'
    )


@pytest.mark.parametrize("payload", [b'{"x": NaN}', b"[Infinity]", b"[-Infinity]", b"[1e400]"])
def test_a_payload_python_reads_but_json_does_not_hold_is_carried_as_its_text(
    payload: bytes,
) -> None:
    rendered = strict(record(payload).to_json_bytes())
    assert rendered["responsePayload"] == payload.decode()  # type: ignore[index]


def test_integers_past_64_bits_are_written_exactly() -> None:
    big = 2**64 * 12345 + 7
    rendered = strict(record(b'{"big": %d}' % big).to_json_bytes())
    assert rendered["responsePayload"] == {"big": big}  # type: ignore[index]


@pytest.mark.parametrize(
    "number", [2**63 - 1, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, -(10**18), 10**30]
)
def test_integers_at_and_past_64_bits_keep_every_digit(number: int) -> None:
    rendered = strict(record(b"[%d, 0.5]" % number).to_json_bytes())
    assert rendered["responsePayload"] == [number, 0.5]  # type: ignore[index]
    assert b"[%d]" % number in record(b"[%d]" % number).to_json_bytes()


def test_a_lone_surrogate_is_written_as_its_escape() -> None:
    data = record(b'"\\ud800 \xc3\xa9"').to_json_bytes()
    assert b'"responsePayload":"\\ud800 \\u00e9"' in data
    assert strict(data)["responsePayload"] == "\ud800 é"  # type: ignore[index]


@pytest.mark.parametrize("depth", [300, 5000])
def test_deep_nesting_is_written_whole_or_as_text(depth: int) -> None:
    payload = b"[" * depth + b"]" * depth
    rendered = strict(record(payload).to_json_bytes())["responsePayload"]  # type: ignore[index]
    # Past what Python's stack can parse, the payload is carried as its text.
    if isinstance(rendered, str):
        assert rendered == payload.decode()
    else:
        for _ in range(depth - 1):
            (rendered,) = rendered
        assert rendered == []


def test_a_follow_up_id_is_the_version_5_uuid_of_request_kind_and_target() -> None:
    # Stable across releases: a settle repeated after a crash and an upgrade must queue the
    # same follow-up again, which the queue then skips.
    namespace = uuid.UUID("5f3c1f53-52a4-4a8e-9d6b-0c5a3b1f2e7d")
    target = "arn:aws:lambda:us-east-1:000000000000:function:collector"
    for request_id in ("3f1e2d4c-0000-4000-8000-000000000001", str(uuid.uuid4()), "é"):
        rec = ExecutionRecord(request_id, ARN, "Success", 1, b"{}", datetime.now(UTC))
        for kind in ("OnSuccess", "OnFailure"):
            expected = uuid.uuid5(namespace, f"{request_id}/{kind}/{target}")
            assert follow_up_id(rec, target, kind) == str(expected)


def test_request_ids_are_the_uuid_text_of_their_bits() -> None:
    # What follow-up ids and new request ids are both built with.
    for bits in (0, 2**128 - 1, 0x0123456789ABCDEF0123456789ABCDEF):
        for version in (4, 5):
            assert uuid_text(bits, version) == str(uuid.UUID(int=bits, version=version))
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert {uuid.UUID(i).version for i in ids} == {4}
