"""The client commands, one per operation of the table, built from the model.

A command is named as ``aws lambda`` names it (``get-function-configuration``) and has one option
per request member the gRPC API carries (``--function-name``), typed by the member's shape:
integers, ``--flag/--no-flag`` booleans, blobs read as the AWS CLI reads them (``fileb://``,
``file://`` or inline), structures, lists and maps as JSON or shorthand. Required options and help
texts are the model's. An operation whose answer has a blob payload (Invoke) takes the file to
write it to as its last argument, as the AWS CLI does; timestamps are ISO 8601 or epoch seconds.
``overrides`` holds what the model cannot say (``--code DIR`` beside ``--zip-file``, help texts
where eventinvoke's meaning differs, the question a command that cannot be undone asks first).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from eventinvoke.api.codec import request_slots, snake
from eventinvoke.api.model import Model, lambda_model
from eventinvoke.api.operations import OPERATIONS, Operation
from eventinvoke.cli import overrides
from eventinvoke.cli._common import (
    GlobalOptions,
    blob,
    echo_response,
    pass_options,
    structure,
    timestamp,
)

_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def command_name(operation: str) -> str:
    """``GetFunctionConfiguration`` -> ``get-function-configuration``."""
    return snake(operation).replace("_", "-")


def _option(model: Model, operation: Operation, member: str, shape: str, required: bool) -> Any:
    kind = model.shape(shape)["type"]
    name = f"--{command_name(member)}"
    documentation = model.shape(model.operation(operation.name).input or "")["members"][member]
    help_text = overrides.help_for(operation.name, member) or documentation.get("documentation")
    if "enum" in model.shape(shape):
        help_text = f"{help_text or ''} ({', '.join(model.shape(shape)['enum'])})".strip()
    common: dict[str, Any] = {"required": required, "help": help_text}
    if kind == "boolean":
        return click.option(f"{name}/--no-{name[2:]}", snake(member), default=None, **common)
    if kind in ("integer", "long"):
        return click.option(name, snake(member), type=int, **common)
    if kind == "blob":
        return click.option(name, snake(member), callback=blob, **common)
    if kind == "timestamp":
        return click.option(name, snake(member), callback=timestamp, **common)
    if kind in ("structure", "list", "map"):
        convert = _coercing(model, shape)
        return click.option(name, snake(member), callback=convert, **common)
    return click.option(name, snake(member), **common)


def _coercing(model: Model, shape: str) -> Callable[..., Any]:
    """The structure callback, then shorthand's strings made the numbers and booleans the shape
    says they are (``MaximumRetryAttempts=1``), as the AWS CLI's ``unpack_cli_arg`` does."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        return coerce(model, shape, structure(ctx, param, value))

    return callback


def coerce(model: Model, shape_name: str, value: Any) -> Any:
    shape = model.shape(shape_name)
    kind = shape["type"]
    if kind == "structure" and isinstance(value, dict):
        members = shape.get("members", {})
        return {
            key: coerce(model, members[key]["shape"], item) if key in members else item
            for key, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [coerce(model, shape["member"]["shape"], item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: coerce(model, shape["value"]["shape"], item) for key, item in value.items()}
    if kind in ("integer", "long") and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value  # the request's own check names the member
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _blob_payload(model: Model, operation: Operation) -> str | None:
    """The member of the answer written to OUTFILE: a blob payload (Invoke's ``Payload``)."""
    output = model.operation(operation.name).output
    payload = model.shape(output).get("payload") if output else None
    if payload is None:
        return None
    member = model.shape(output or "")["members"][payload]
    return str(payload) if model.shape(member["shape"])["type"] == "blob" else None


def _prints(model: Model, operation: Operation) -> bool:
    """Whether the answer has anything to show: not for an operation that only says its HTTP
    status (DeleteFunction), as the AWS CLI prints nothing for those."""
    output = model.operation(operation.name).output
    if output is None:
        return False
    members = model.shape(output).get("members", {}).values()
    return any(member.get("location") != "statusCode" for member in members)


def command(operation: Operation) -> click.Command:
    """The command for ``operation``."""
    model = lambda_model()
    structure_name = model.operation(operation.name).input
    required = set(model.required(structure_name)) if structure_name else set()
    members = model.shape(structure_name)["members"] if structure_name else {}
    package = overrides.PACKAGES.get(operation.name)
    decorators: list[_Decorator] = []
    for member, _path in request_slots(operation):
        if member in operation.fixed or (package is not None and member == package.member):
            continue
        shape = members[member]["shape"]
        decorators.append(_option(model, operation, member, shape, member in required))
    if package is not None:
        decorators.extend(package.options())
    payload = _blob_payload(model, operation)
    if payload is not None:
        decorators.append(
            click.argument("outfile", type=click.Path(dir_okay=False, path_type=Path))
        )
    decorators.extend(overrides.EXTRA_OPTIONS.get(operation.name, ()))
    confirm = overrides.CONFIRM.get(operation.name)
    if confirm is not None:
        decorators.append(click.option("--yes", is_flag=True, help="Do not ask for confirmation."))
    prints = _prints(model, operation)

    def run(options: GlobalOptions, outfile: Path | None = None, **values: Any) -> None:
        params: dict[str, Any] = {}
        if package is not None:  # first: its --zip-file may share a member's name
            params[package.member] = package.value(values)
        for member in members:
            if snake(member) in values:
                params[member] = values.pop(snake(member))
        if confirm is not None and not values.pop("yes"):
            given = {member: value for member, value in params.items() if value is not None}
            click.confirm(confirm(given), abort=True, err=True)
        with options.client() as client:
            response = client.call(operation.name, params)
        if outfile is not None and payload is not None:
            outfile.write_bytes(response.pop(payload, b""))
        if prints:
            echo_response(response)

    for decorator in reversed(decorators):
        run = decorator(run)
    help_text = overrides.COMMAND_HELP.get(operation.name)
    help_text = help_text or model.operation(operation.name).documentation
    return click.command(command_name(operation.name), help=help_text)(pass_options(run))


def register(group: click.Group) -> None:
    for operation in OPERATIONS:
        if operation.cli:
            group.add_command(command(operation))
