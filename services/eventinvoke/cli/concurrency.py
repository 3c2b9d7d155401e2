"""Reserved concurrency commands, named, flagged and printed like ``aws lambda``'s."""

from __future__ import annotations

import click

from eventinvoke.cli._common import Settings, echo_response, function_name_option, pass_settings


@click.command("put-function-concurrency")
@function_name_option
@click.option(
    "--reserved-concurrent-executions",
    type=int,
    required=True,
    help="Concurrency reserved for the function; 0 stops it from running.",
)
@pass_settings
def put_function_concurrency(
    settings: Settings, function_name: str, reserved_concurrent_executions: int
) -> None:
    """Reserve concurrency for a function (and cap it there)."""
    with settings.client() as client:
        echo_response(
            client.put_function_concurrency(function_name, reserved_concurrent_executions)
        )


@click.command("get-function-concurrency")
@function_name_option
@pass_settings
def get_function_concurrency(settings: Settings, function_name: str) -> None:
    """Show a function's reserved concurrency ({} when it has none)."""
    with settings.client() as client:
        echo_response(client.get_function_concurrency(function_name))


@click.command("delete-function-concurrency")
@function_name_option
@pass_settings
def delete_function_concurrency(settings: Settings, function_name: str) -> None:
    """Remove a function's reserved concurrency."""
    with settings.client() as client:
        client.delete_function_concurrency(function_name)


def register(group: click.Group) -> None:
    for command in (
        put_function_concurrency,
        get_function_concurrency,
        delete_function_concurrency,
    ):
        group.add_command(command)
