"""Lambda REST requests (JSON bodies, headers, query strings) to client-call arguments.

Pure functions. Responses need no translation: the client already returns AWS-shaped dicts
(``eventinvoke.api.codec``), which are the REST API's JSON bodies once ``ResponseMetadata``
is dropped. Nested values (Environment, DeadLetterConfig, DestinationConfig) are checked by the
client's own converters; this module checks the top-level types and decodes what JSON carries
differently (base64 zip files).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from eventinvoke.gateway.errors import gateway_error

# The model's enums, in its order (AWS lists them so in ValidationException messages).
INVOCATION_TYPES = ("Event", "RequestResponse", "DryRun")
LOG_TYPES = ("None", "Tail")


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
    if not isinstance(body, dict):
        raise gateway_error(
            "InvalidRequestContentException",
            "Could not parse request body into json: the body must be a JSON object",
        )
    return body


def _field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """``body[name]`` if present and of the JSON type AWS expects (``None`` when absent)."""
    value = body.get(name)
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise gateway_error(
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: "
            f"invalid value for {name}: {value!r}",
        )
    return value


def _zip_file(value: Any, name: str = "ZipFile") -> bytes:
    if not isinstance(value, str):
        raise gateway_error(
            "InvalidParameterValueException", "Please provide a source for function code."
        )
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise gateway_error(
            "InvalidRequestContentException",
            f"Could not parse request body into json: {name} is not valid base64",
        ) from None


def _unsupported_code(code: Mapping[str, Any]) -> None:
    if any(key in code for key in ("S3Bucket", "S3Key", "ImageUri")):
        raise gateway_error(
            "InvalidParameterValueException",
            "Only ZipFile deployment packages are supported (no S3 or container images).",
        )


def enum_header(value: str, field: str, choices: tuple[str, ...]) -> str:
    """An enum-valued header, rejected with AWS's ValidationException message."""
    if value not in choices:
        raise gateway_error(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(choices)}]",
        )
    return value


def int_query(value: str | None, field: str) -> int | None:
    """An integer query parameter (MaxItems)."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise gateway_error(
            "InvalidParameterValueException", f"Invalid value for {field}: {value}"
        ) from None


# --- functions ---------------------------------------------------------------------------------


def create_function_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """CreateFunction's JSON body -> ``AsyncClient.create_function`` arguments.

    Members this engine does not model (Tags, Architectures, TracingConfig, ...) are ignored, as
    AWS ignores unknown ones.
    """
    code = _field(body, "Code", dict) or {}
    _unsupported_code(code)
    args: dict[str, Any] = {
        "publish": bool(_field(body, "Publish", bool)),
        "function_name": _field(body, "FunctionName", str) or "",
        "runtime": _field(body, "Runtime", str) or "",
        "handler": _field(body, "Handler", str) or "",
        "role": _field(body, "Role", str) or "",
        "zip_file": _zip_file(code.get("ZipFile"), "Code.ZipFile"),
        "description": _field(body, "Description", str) or "",
        "timeout": _field(body, "Timeout", int),
        "memory_size": _field(body, "MemorySize", int),
    }
    for key, arg in (("Environment", "environment"), ("DeadLetterConfig", "dead_letter_config")):
        if _field(body, key, dict) is not None:
            args[arg] = body[key]
    return args


def update_function_configuration_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """UpdateFunctionConfiguration's body; absent members stay ``None`` ("unchanged")."""
    return {
        "timeout": _field(body, "Timeout", int),
        "memory_size": _field(body, "MemorySize", int),
        "handler": _field(body, "Handler", str),
        "runtime": _field(body, "Runtime", str),
        "role": _field(body, "Role", str),
        "description": _field(body, "Description", str),
        "environment": _field(body, "Environment", dict),
        "dead_letter_config": _field(body, "DeadLetterConfig", dict),
    }


def update_function_code_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """UpdateFunctionCode's body: ``ZipFile`` (base64) and ``Publish``."""
    _unsupported_code(body)
    return {
        "zip_file": _zip_file(body.get("ZipFile")),
        "publish": bool(_field(body, "Publish", bool)),
    }


# --- versions and aliases ----------------------------------------------------------------------


def publish_version_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """PublishVersion's body (``PublishTo`` is for capacity providers: not modelled)."""
    return {
        "description": _field(body, "Description", str) or "",
        "code_sha256": _field(body, "CodeSha256", str),
        "revision_id": _field(body, "RevisionId", str),
    }


def routing_config(body: Mapping[str, Any]) -> None:
    """Weighted aliases are not supported: a RoutingConfig with weights is refused; an empty one
    (``{}`` or no weights, which AWS reads as "one version") is accepted."""
    config = _field(body, "RoutingConfig", dict)
    if config and _field(config, "AdditionalVersionWeights", dict):
        raise gateway_error(
            "InvalidParameterValueException",
            "RoutingConfig (weighted aliases) is not supported by eventinvoke: an alias points "
            "at exactly one version.",
        )


def create_alias_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """CreateAlias's body."""
    routing_config(body)
    return {
        "name": _field(body, "Name", str) or "",
        "function_version": _field(body, "FunctionVersion", str) or "",
        "description": _field(body, "Description", str) or "",
    }


def update_alias_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """UpdateAlias's body; absent members stay ``None`` ("unchanged"). ``RevisionId`` is the
    gateway's to check (returned separately, not a client argument)."""
    routing_config(body)
    return {
        "function_version": _field(body, "FunctionVersion", str),
        "description": _field(body, "Description", str),
    }


def revision_id(body: Mapping[str, Any]) -> str | None:
    """A body's ``RevisionId`` (optimistic locking), ``None`` when absent."""
    value = _field(body, "RevisionId", str)
    return str(value) if value is not None else None


# --- event invoke configs ----------------------------------------------------------------------


def event_invoke_config_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """Put/UpdateFunctionEventInvokeConfig's body; absent members are not given."""
    return {
        "maximum_retry_attempts": _field(body, "MaximumRetryAttempts", int),
        "maximum_event_age_in_seconds": _field(body, "MaximumEventAgeInSeconds", int),
        "destination_config": _field(body, "DestinationConfig", dict),
    }


def without_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    """A client response as the REST body: everything but ``ResponseMetadata``."""
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}
