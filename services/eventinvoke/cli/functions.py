"""Function commands, named, flagged and printed like ``aws lambda``'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eventinvoke.cli._common import (
    Settings,
    blob,
    code,
    echo_response,
    function_name_option,
    marker_option,
    max_items_option,
    pass_settings,
    qualifier_option,
    structure,
)


@click.command("invoke")
@function_name_option
@click.option(
    "--invocation-type",
    type=click.Choice(["Event", "RequestResponse", "DryRun"]),
    default="RequestResponse",
    show_default=True,
)
@click.option("--log-type", type=click.Choice(["None", "Tail"]), default="None", show_default=True)
@click.option(
    "--payload", callback=blob, help="JSON inline, file://event.json or fileb://event.json"
)
@qualifier_option
@click.option("--client-context", default="", help="Base64 JSON passed to synchronous invocations.")
@click.option(
    "--cli-binary-format",
    type=click.Choice(["base64", "raw-in-base64-out"]),
    help="Accepted for AWS CLI compatibility; --payload is always raw.",
)
@click.argument("outfile", type=click.Path(dir_okay=False, path_type=Path))
@pass_settings
def invoke(
    settings: Settings,
    function_name: str,
    invocation_type: str,
    log_type: str,
    payload: bytes | None,
    qualifier: str,
    client_context: str,
    cli_binary_format: str | None,
    outfile: Path,
) -> None:
    """Invoke a function; the response payload goes to OUTFILE."""
    with settings.client() as client:
        response = client.invoke(
            function_name,
            payload or b"",
            invocation_type=invocation_type,
            log_type=log_type,
            qualifier=qualifier,
            client_context=client_context,
        )
    outfile.write_bytes(response.get("Payload", b""))
    echo_response({k: v for k, v in response.items() if k != "Payload"})


def _package(code_: bytes | None, zip_file: bytes | None) -> bytes:
    """The deployment package of --code or --zip-file, whichever was given."""
    if code_ is None and zip_file is not None:
        return zip_file
    if zip_file is None and code_ is not None:
        return code_
    raise click.UsageError("Give exactly one of --code and --zip-file.")


_code_option = click.option(
    "--code", "code_", callback=code, help="A directory, fileb://x.zip or x.zip."
)
_zip_file_option = click.option("--zip-file", callback=code, help="fileb://x.zip")


@click.command("create-function")
@function_name_option
@click.option("--runtime", required=True, help="e.g. python3.12, nodejs20.x, provided.al2023")
@click.option("--handler", required=True, help="e.g. index.handler")
@_code_option
@_zip_file_option
@click.option("--role", default="", help="Execution role ARN (stored, not enforced).")
@click.option("--timeout", type=int, help="Seconds.")
@click.option("--memory-size", type=int, help="MB.")
@click.option("--environment", callback=structure, help="'Variables={K=V,K2=V2}' or JSON.")
@click.option("--description", default="")
@click.option("--dead-letter-config", callback=structure, help="TargetArn=ARN or JSON.")
@click.option(
    "--publish/--no-publish", default=False, help="Publish version 1 and show its configuration."
)
@pass_settings
def create_function(
    settings: Settings,
    function_name: str,
    runtime: str,
    handler: str,
    code_: bytes | None,
    zip_file: bytes | None,
    **options: Any,
) -> None:
    """Create a function from a directory or a zip file."""
    package = _package(code_, zip_file)
    with settings.client() as client:
        echo_response(client.create_function(function_name, runtime, handler, package, **options))


@click.command("get-function")
@function_name_option
@qualifier_option
@pass_settings
def get_function(settings: Settings, function_name: str, qualifier: str) -> None:
    """Show a function."""
    with settings.client() as client:
        echo_response(client.get_function(function_name, qualifier))


@click.command("get-function-configuration")
@function_name_option
@qualifier_option
@pass_settings
def get_function_configuration(settings: Settings, function_name: str, qualifier: str) -> None:
    """Show a function's configuration."""
    with settings.client() as client:
        echo_response(client.get_function_configuration(function_name, qualifier))


@click.command("list-functions")
@max_items_option
@marker_option
@pass_settings
def list_functions(settings: Settings, max_items: int | None, marker: str | None) -> None:
    """List functions."""
    with settings.client() as client:
        echo_response(client.list_functions(marker=marker, max_items=max_items))


@click.command("update-function-configuration")
@function_name_option
@click.option("--timeout", type=int, help="Seconds.")
@click.option("--memory-size", type=int, help="MB.")
@click.option("--environment", callback=structure, help="Replaces all variables.")
@click.option("--handler")
@click.option("--runtime")
@click.option("--role")
@click.option("--description")
@click.option("--dead-letter-config", callback=structure, help="TargetArn=ARN; TargetArn= removes.")
@pass_settings
def update_function_configuration(settings: Settings, function_name: str, **options: Any) -> None:
    """Change a function's configuration; options not given stay as they are."""
    with settings.client() as client:
        echo_response(client.update_function_configuration(function_name, **options))


@click.command("update-function-code")
@function_name_option
@_code_option
@_zip_file_option
@click.option(
    "--publish/--no-publish", default=False, help="Publish a version and show its configuration."
)
@pass_settings
def update_function_code(
    settings: Settings,
    function_name: str,
    code_: bytes | None,
    zip_file: bytes | None,
    publish: bool,
) -> None:
    """Replace $LATEST's code with a directory or a zip file; new sandboxes run it."""
    package = _package(code_, zip_file)
    with settings.client() as client:
        echo_response(client.update_function_code(function_name, package, publish=publish))


@click.command("delete-function")
@function_name_option
@click.option("--qualifier", default=None, help="A version number: delete only that version.")
@pass_settings
def delete_function(settings: Settings, function_name: str, qualifier: str | None) -> None:
    """Delete a function (its versions, aliases and event invoke configs), or one version."""
    with settings.client() as client:
        client.delete_function(function_name, qualifier=qualifier)


def register(group: click.Group) -> None:
    for command in (
        invoke,
        create_function,
        get_function,
        get_function_configuration,
        list_functions,
        update_function_configuration,
        update_function_code,
        delete_function,
    ):
        group.add_command(command)
