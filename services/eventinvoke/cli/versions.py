"""Version and alias commands, named, flagged and printed like ``aws lambda``'s."""

from __future__ import annotations

import click

from eventinvoke.cli._common import (
    Settings,
    echo_response,
    function_name_option,
    marker_option,
    max_items_option,
    pass_settings,
)


@click.command("publish-version")
@function_name_option
@click.option("--description", default="", help="The version's description ($LATEST's if empty).")
@click.option("--code-sha256", default=None, help="Publish only if $LATEST has this CodeSha256.")
@click.option("--revision-id", default=None, help="Publish only if $LATEST has this RevisionId.")
@pass_settings
def publish_version(
    settings: Settings,
    function_name: str,
    description: str,
    code_sha256: str | None,
    revision_id: str | None,
) -> None:
    """Publish $LATEST as a new version."""
    with settings.client() as client:
        echo_response(
            client.publish_version(
                function_name,
                description=description,
                code_sha256=code_sha256,
                revision_id=revision_id,
            )
        )


@click.command("list-versions-by-function")
@function_name_option
@max_items_option
@marker_option
@pass_settings
def list_versions_by_function(
    settings: Settings, function_name: str, max_items: int | None, marker: str | None
) -> None:
    """List $LATEST and the published versions of a function."""
    with settings.client() as client:
        echo_response(
            client.list_versions_by_function(function_name, marker=marker, max_items=max_items)
        )


@click.command("create-alias")
@function_name_option
@click.option("--name", required=True, help="The alias name.")
@click.option("--function-version", required=True, help="A version number or $LATEST.")
@click.option("--description", default="")
@pass_settings
def create_alias(
    settings: Settings, function_name: str, name: str, function_version: str, description: str
) -> None:
    """Create an alias for a version."""
    with settings.client() as client:
        echo_response(
            client.create_alias(function_name, name, function_version, description=description)
        )


@click.command("get-alias")
@function_name_option
@click.option("--name", required=True, help="The alias name.")
@pass_settings
def get_alias(settings: Settings, function_name: str, name: str) -> None:
    """Show an alias."""
    with settings.client() as client:
        echo_response(client.get_alias(function_name, name))


@click.command("update-alias")
@function_name_option
@click.option("--name", required=True, help="The alias name.")
@click.option("--function-version", default=None, help="The version to point at.")
@click.option("--description", default=None)
@pass_settings
def update_alias(
    settings: Settings,
    function_name: str,
    name: str,
    function_version: str | None,
    description: str | None,
) -> None:
    """Point an alias at another version, or change its description."""
    with settings.client() as client:
        echo_response(
            client.update_alias(
                function_name, name, function_version=function_version, description=description
            )
        )


@click.command("delete-alias")
@function_name_option
@click.option("--name", required=True, help="The alias name.")
@pass_settings
def delete_alias(settings: Settings, function_name: str, name: str) -> None:
    """Delete an alias."""
    with settings.client() as client:
        client.delete_alias(function_name, name)


@click.command("list-aliases")
@function_name_option
@click.option("--function-version", default=None, help="Only aliases of this version.")
@max_items_option
@marker_option
@pass_settings
def list_aliases(
    settings: Settings,
    function_name: str,
    function_version: str | None,
    max_items: int | None,
    marker: str | None,
) -> None:
    """List a function's aliases."""
    with settings.client() as client:
        echo_response(
            client.list_aliases(
                function_name,
                function_version=function_version,
                marker=marker,
                max_items=max_items,
            )
        )


def register(group: click.Group) -> None:
    for command in (
        publish_version,
        list_versions_by_function,
        create_alias,
        get_alias,
        update_alias,
        delete_alias,
        list_aliases,
    ):
        group.add_command(command)
