"""The gateway's REST protocol against botocore's own: for every AWS operation of the table, a
request with every member botocore's serialiser can place (path, query string, headers, raw
body, JSON body) reaches the same route and reads back as the same members; an answer with every
member of the output reads back through botocore's parser as the same answer."""

from __future__ import annotations

from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from eventinvoke.api.model import Model, lambda_model
from eventinvoke.api.operations import OPERATIONS, Operation
from eventinvoke.client import AsyncClient, ServiceError
from eventinvoke.gateway import rest
from eventinvoke.gateway.app import create_app

AWS = [operation for operation in OPERATIONS if operation.aws]
BOTOCORE = botocore.session.get_session().get_service_model("lambda")


SCALARS = {"string": "v", "integer": 7, "long": 7, "boolean": True, "double": 1.5, "blob": b"PK"}


def full(model: Model, shape_name: str) -> Any:
    """A value of the shape with every member given (one item per list and map): the protocol
    does not care whether it is valid."""
    shape = model.shape(shape_name)
    kind = shape["type"]
    if kind == "structure":
        return {
            name: full(model, member["shape"])
            for name, member, member_shape in model.members(shape_name)
            if member_shape["type"] != "timestamp" and not member_shape.get("document")
        }
    if kind == "list":
        return [full(model, shape["member"]["shape"])]
    if kind == "map":
        return {"k": full(model, shape["value"]["shape"])}
    if "enum" in shape:
        return shape["enum"][0]
    return SCALARS[kind]


def ids(operation: Operation) -> str:
    return operation.name


@pytest.mark.parametrize("operation", AWS, ids=ids)
async def test_what_botocore_sends_reads_back_the_same(operation: Operation) -> None:
    model = lambda_model()
    structure = model.operation(operation.name).input
    params = full(model, structure) if structure else {}
    serializer = botocore.serialize.create_serializer("rest-json", include_validation=False)
    sent = serializer.serialize_to_request(params, BOTOCORE.operation_model(operation.name))
    app = create_app(AsyncClient("127.0.0.1:1"))  # never called: routing and parsing only
    app.freeze()

    match = await app.router.resolve(make_mocked_request(sent["method"], sent["url_path"], app=app))
    body = sent["body"]
    got = rest.parse(
        operation.name,
        rest.HttpRequest(
            sent["method"],
            match,
            {key: str(value) for key, value in sent["query_string"].items()},
            CIMultiDict(sent["headers"]),
            body.encode() if isinstance(body, str) else body,
        ),
    )

    assert match.handler.operation == operation.name  # type: ignore[attr-defined]
    assert got == params


@pytest.mark.parametrize("operation", AWS, ids=ids)
def test_what_the_gateway_answers_botocore_reads_back(operation: Operation) -> None:
    model = lambda_model()
    output = model.operation(operation.name).output
    members = list(model.members(output)) if output else []
    result = full(model, output) if output else {}
    statuses = [name for name, member, _ in members if member.get("location") == "statusCode"]
    for name in statuses:
        result[name] = 202  # any status the code may carry

    answer = rest.render(operation.name, result)
    parser = botocore.parsers.create_parser("rest-json")
    parsed = parser.parse(
        {"status_code": answer.status, "headers": answer.headers, "body": answer.body},
        BOTOCORE.operation_model(operation.name).output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    # botocore hands a raw (non-streaming) blob body back as text; boto3 wraps it in a stream.
    payload = model.shape(output).get("payload") if output else None
    if payload is not None and isinstance(parsed.get(payload), str):
        parsed[payload] = parsed[payload].encode()

    assert parsed == result
    if not statuses:
        assert answer.status == (operation.status or model.operation(operation.name).response_code)


def _request(body: bytes = b"", query: dict[str, str] | None = None) -> rest.HttpRequest:
    return rest.HttpRequest("PUT", {"FunctionName": "f"}, query or {}, CIMultiDict(), body)


@pytest.mark.parametrize(
    ("operation", "request_", "code", "message"),
    [
        (
            "PutFunctionEventInvokeConfig",
            _request(b'{"DestinationConfig": {"OnSuccess": {"Destination": 5}}}'),
            "InvalidRequestContentException",
            "Could not parse request body into json: Could not parse payload into json: "
            "DestinationConfig.OnSuccess.Destination: expected string, got number",
        ),
        (
            "UpdateFunctionCode",
            _request(b'{"ZipFile": "not base64!"}'),
            "InvalidRequestContentException",
            "Could not parse request body into json: Could not parse payload into json: "
            "ZipFile is not valid base64",
        ),
        (
            "ListVersionsByFunction",
            _request(query={"MaxItems": "ten"}),
            "InvalidParameterValueException",
            "Invalid value for MaxItems: ten",
        ),
        (
            "PutFunctionConcurrency",
            _request(b"[5]"),
            "InvalidRequestContentException",
            "Could not parse request body into json: the body must be a JSON object",
        ),
    ],
)
def test_a_malformed_request_is_refused_in_awss_words(
    operation: str, request_: rest.HttpRequest, code: str, message: str
) -> None:
    with pytest.raises(ServiceError) as refused:
        rest.parse(operation, request_)

    assert (refused.value.code, refused.value.message) == (code, message)


def test_members_outside_the_model_are_ignored_and_nulls_are_not_given() -> None:
    body = b'{"MaximumRetryAttempts": 1, "Colour": "blue", "DestinationConfig": null}'

    params = rest.parse("PutFunctionEventInvokeConfig", _request(body, {"Qualifier": ""}))

    assert params == {"FunctionName": "f", "Qualifier": "", "MaximumRetryAttempts": 1}
