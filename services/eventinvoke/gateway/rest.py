"""The REST protocol of AWS's model ("rest-json"), both ways, for any operation the model has.

A request's members are read from where the model places them: the path (``location: uri``),
the query string, headers, the raw body (the input's ``payload`` member, a blob: Invoke's
Payload) or the JSON body (every other member, blobs base64-encoded). An answer goes out the
same way: the ``statusCode`` member as the status, header members as headers, the payload
member as the raw body, the rest as a JSON body.

Pure functions over plain values, so a test can put botocore's own serialiser in front of
``parse`` and its parser behind ``render``: what boto3 sends, this reads; what this writes, boto3
reads back.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eventinvoke.api.model import Model, lambda_model
from eventinvoke.api.operations import BY_NAME
from eventinvoke.gateway.errors import gateway_error

# What JSON carries for each of the model's scalar types (bool is not an int here).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "double": (int, float),
    "float": (int, float),
    "timestamp": (int, float, str),
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
}
PARSE_ERROR = "Could not parse request body into json: Could not parse payload into json: "


@dataclass
class HttpRequest:
    """An HTTP request, as the router matched it (path labels decoded)."""

    method: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # aiohttp's syntax, which is the model's: /2015-03-31/functions/{FunctionName}
    operation: str


def routes(model: Model | None = None) -> list[Route]:
    """A route per operation of the table that the model gives an HTTP binding, with and
    without a trailing slash (the AWS CLI and the SDKs send one for some operations)."""
    model = model or lambda_model()
    found = []
    for name in BY_NAME:
        if name not in model.operation_names:
            continue
        operation = model.operation(name)
        if not operation.http_method:  # eventinvoke's own: gRPC only
            continue
        path = operation.request_uri.split("?")[0].rstrip("/") or "/"
        found.append(Route(operation.http_method, path, name))
        found.append(Route(operation.http_method, path + "/", name))
    return found


# --- requests ----------------------------------------------------------------------------------


def parse(operation: str, request: HttpRequest, model: Model | None = None) -> dict[str, Any]:
    """The operation's input members from ``request``, AWS-shaped (blobs as bytes); members
    the request does not give are left out. Members not in the model are ignored, as AWS
    ignores them; a value of the wrong JSON type is refused."""
    model = model or lambda_model()
    structure = model.operation(operation).input
    if structure is None:
        return {}
    shape = model.shape(structure)
    payload = shape.get("payload")
    params: dict[str, Any] = {}
    body: dict[str, Any] | None = None
    for name, member, member_shape in model.members(structure):
        location = member.get("location")
        where = member.get("locationName", name)
        if location == "uri":
            if where in request.path_params:
                params[name] = request.path_params[where]
        elif location in ("querystring", "header"):
            source = request.query if location == "querystring" else request.headers
            if where in source:
                params[name] = _from_text(source[where], member_shape, name)
        elif name == payload:
            if member_shape["type"] == "blob":
                params[name] = request.body
            else:
                params[name] = _from_json(model, member["shape"], json_body(request.body), name)
        else:
            if body is None:
                body = json_body(request.body)
            if name in body and body[name] is not None:
                params[name] = _from_json(model, member["shape"], body[name], name)
    return params


def json_body(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object; an empty body is ``{}``."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise gateway_error(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        ) from None
    except RecursionError:  # nested deeper than Python's stack: no request of the model is
        raise gateway_error(
            "InvalidRequestContentException",
            "Could not parse request body into json: the body is nested too deeply",
        ) from None
    if not isinstance(body, dict):
        raise gateway_error(
            "InvalidRequestContentException",
            "Could not parse request body into json: the body must be a JSON object",
        )
    return body


def _from_text(text: str, shape: dict[str, Any], name: str) -> Any:
    """A query-string or header value, typed as its shape says."""
    kind = shape["type"]
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise gateway_error(
                "InvalidParameterValueException", f"Invalid value for {name}: {text[:100]}"
            ) from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise gateway_error(
                "InvalidParameterValueException", f"Invalid value for {name}: {text[:100]}"
            )
        return text.lower() == "true"
    return text


def _from_json(model: Model, shape_name: str, value: Any, path: str) -> Any:
    """A JSON value as the member's shape: types checked, blobs decoded, unknown members of a
    structure dropped (``None`` members too: JSON's null is "not given")."""
    shape = model.shape(shape_name)
    kind = shape["type"]
    _check_type(value, kind, path)
    if kind == "blob":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise gateway_error(
                "InvalidRequestContentException", f"{PARSE_ERROR}{path} is not valid base64"
            ) from None
    if kind == "structure":
        members = shape.get("members", {})
        return {
            key: _from_json(model, members[key]["shape"], item, f"{path}.{key}")
            for key, item in value.items()
            if key in members and item is not None
        }
    if kind == "list":
        item_shape = shape["member"]["shape"]
        return [_from_json(model, item_shape, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        value_shape = shape["value"]["shape"]
        return {
            key: _from_json(model, value_shape, item, f"{path}.{key}")
            for key, item in value.items()
        }
    return value


def _check_type(value: Any, kind: str, path: str) -> None:
    expected = _JSON_TYPES.get(kind, (object,))
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        raise gateway_error(
            "InvalidRequestContentException",
            f"{PARSE_ERROR}{path}: expected {kind}, got {_json_type(value)}",
        )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), "object"
    )


# --- answers -----------------------------------------------------------------------------------


def render(
    operation: str, result: Mapping[str, Any] | None, model: Model | None = None
) -> HttpResponse:
    """The HTTP answer for the client's ``result`` (boto3-shaped) of ``operation``."""
    model = model or lambda_model()
    spec = model.operation(operation)
    entry = BY_NAME[operation]
    response = HttpResponse(entry.status or spec.response_code)
    request_id = (result or {}).get("ResponseMetadata", {}).get("RequestId")
    if request_id:
        response.headers["x-amzn-RequestId"] = request_id
    if spec.output is None or result is None:
        return response
    payload = model.shape(spec.output).get("payload")
    body: dict[str, Any] = {}
    for name, member, member_shape in model.members(spec.output):
        if name not in result:
            continue
        value = result[name]
        location = member.get("location")
        if location == "statusCode":
            response.status = int(value)
        elif location == "header":
            response.headers[member["locationName"]] = _to_text(value)
        elif name == payload:
            if member_shape["type"] == "blob":
                response.body = value if isinstance(value, bytes) else str(value).encode()
            else:
                response.body = _dumps(value)
            response.headers["Content-Type"] = "application/json"
        else:
            body[name] = value
    if payload is None and (body or response.status != 204):
        response.body = _dumps(body)
        response.headers["Content-Type"] = "application/json"
    return response


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=_blob).encode()


def _blob(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")
