"""``eventinvoke deploy TEMPLATE``: ``aws cloudformation deploy`` for a template's Lambda
resources, applied through the client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from eventinvoke.cli._common import (
    GlobalOptions,
    ParameterError,
    ServiceFailure,
    _service_error,
    echo_response,
    pass_options,
)

if TYPE_CHECKING:
    from eventinvoke.deploy import DeployResult

# eventinvoke.deploy (and YAML) is imported by the command alone: every server process starts
# through this CLI, and needs neither (1.5 MB of memory each).


def _overrides(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> dict[str, str]:
    from eventinvoke.deploy import parse_overrides

    try:
        return parse_overrides(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@click.command("deploy")
@click.argument("template", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--parameter-overrides",
    multiple=True,
    callback=_overrides,
    help="Key=Value; repeat the option or give several values after it.",
)
@click.option(
    "--stack-name",
    help="Names generated functions (<stack>-<LogicalId>); default: the template's file name.",
)
@click.option(
    "--dry-run", is_flag=True, help="Validate and show what would change; change nothing."
)
@pass_options
def deploy_command(
    options: GlobalOptions,
    template: Path,
    parameter_overrides: dict[str, str],
    stack_name: str | None,
    dry_run: bool,
) -> None:
    """Apply TEMPLATE's Lambda resources (CloudFormation or SAM); validated whole first."""
    from eventinvoke.deploy import DeployError, TemplateError, deploy

    async def run() -> DeployResult:
        async with options.async_client() as client:
            return await deploy(
                client,
                template,
                stack_name=stack_name,
                overrides=parameter_overrides,
                dry_run=dry_run,
            )

    try:
        result = asyncio.run(run())
    except TemplateError as exc:
        # What CloudFormation answers for a template it will not deploy.
        raise ServiceFailure(
            f"An error occurred ({exc.code}) when calling the ValidateTemplate operation: {exc}"
        ) from exc
    except DeployError as exc:
        lines = [_service_error(exc.error), f"Failed at resource {exc.logical_id}."]
        lines += [f"Rolled back: {what}" for what in exc.rolled_back]
        lines += [f"Not rolled back: {what}" for what in exc.left]
        raise ServiceFailure("\n".join(lines)) from exc
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    echo_response(result.to_dict())


def register(group: click.Group) -> None:
    group.add_command(deploy_command)


__all__ = ["ParameterError", "register"]
