"""Asynchronous-invocation commands: event invoke configs and the Router's failed deliveries."""

from __future__ import annotations

from typing import Any

import click

from eventinvoke.cli._common import (
    Settings,
    echo_response,
    function_name_option,
    marker_option,
    max_items_option,
    pass_settings,
    qualifier_option,
    structure,
)


def _settings_options(command: Any) -> Any:
    """The settings Put and Update take, all optional."""
    for option in reversed(
        (
            click.option("--maximum-retry-attempts", type=int, help="0..2"),
            click.option("--maximum-event-age-in-seconds", type=int, help="60..21600"),
            click.option(
                "--destination-config",
                callback=structure,
                help='JSON, e.g. \'{"OnFailure":{"Destination":"arn:aws:sqs:..."}}\'',
            ),
        )
    ):
        command = option(command)
    return command


@click.command("put-function-event-invoke-config")
@function_name_option
@qualifier_option
@_settings_options
@pass_settings
def put_function_event_invoke_config(settings: Settings, **options: Any) -> None:
    """Set a qualifier's async settings, replacing all of them."""
    with settings.client() as client:
        echo_response(client.put_function_event_invoke_config(**options))


@click.command("update-function-event-invoke-config")
@function_name_option
@qualifier_option
@_settings_options
@pass_settings
def update_function_event_invoke_config(settings: Settings, **options: Any) -> None:
    """Change the given async settings of a qualifier, keeping the others."""
    with settings.client() as client:
        echo_response(client.update_function_event_invoke_config(**options))


@click.command("get-function-event-invoke-config")
@function_name_option
@qualifier_option
@pass_settings
def get_function_event_invoke_config(
    settings: Settings, function_name: str, qualifier: str
) -> None:
    """Show a qualifier's async settings."""
    with settings.client() as client:
        echo_response(client.get_function_event_invoke_config(function_name, qualifier))


@click.command("delete-function-event-invoke-config")
@function_name_option
@qualifier_option
@pass_settings
def delete_function_event_invoke_config(
    settings: Settings, function_name: str, qualifier: str
) -> None:
    """Remove a qualifier's async settings."""
    with settings.client() as client:
        client.delete_function_event_invoke_config(function_name, qualifier)


@click.command("list-function-event-invoke-configs")
@function_name_option
@max_items_option
@marker_option
@pass_settings
def list_function_event_invoke_configs(
    settings: Settings, function_name: str, max_items: int | None, marker: str | None
) -> None:
    """List the async settings of every qualifier of a function."""
    with settings.client() as client:
        echo_response(
            client.list_function_event_invoke_configs(
                function_name, marker=marker, max_items=max_items
            )
        )


@click.command("list-failed-deliveries")
@max_items_option
@marker_option
@pass_settings
def list_failed_deliveries(settings: Settings, max_items: int | None, marker: str | None) -> None:
    """List execution records the Router could not deliver (eventinvoke's own command)."""
    with settings.client() as client:
        echo_response(client.list_failed_deliveries(marker=marker, max_items=max_items))


def register(group: click.Group) -> None:
    for command in (
        put_function_event_invoke_config,
        update_function_event_invoke_config,
        get_function_event_invoke_config,
        delete_function_event_invoke_config,
        list_function_event_invoke_configs,
        list_failed_deliveries,
    ):
        group.add_command(command)
