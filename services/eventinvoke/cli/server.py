"""Server commands: ``up`` runs the whole suite in one process, ``serve ROLE`` one service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

ROLES = ("invoker", "executor", "router", "gateway")


def _server_options(command: Any) -> Any:
    """Flags shared by ``up`` and ``serve``; each is also read from EVENTINVOKE_<NAME>."""
    options = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="A TOML settings file (also EVENTINVOKE_CONFIG).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(path_type=Path, file_okay=False),
            help="Where the embedded backend keeps its files [./.eventinvoke].",
        ),
        click.option("--listen", help="gRPC listen address [127.0.0.1:50051]."),
        click.option(
            "--http-listen", help="The Lambda REST API gateway's HTTP address [127.0.0.1:9001]."
        ),
        click.option(
            "--time-scale",
            type=float,
            help="Multiply every policy duration: retry delays, event age [1.0].",
        ),
        click.option("--region", help="Region in ARNs [us-east-1]."),
        click.option("--account", help="Account id in ARNs [000000000000]."),
        click.option("--invoker-endpoint", help="The Invoker's address, when not in this process."),
        click.option(
            "--executor-endpoint", help="The Executor's address, when not in this process."
        ),
        click.option(
            "--router-endpoint",
            "router_peer",
            help="The Router's address, when not in this process.",
        ),
        click.option("--log-format", type=click.Choice(["auto", "json", "console"])),
        click.option(
            "--log-level",
            type=click.Choice(["debug", "info", "warning", "error"]),
            help="info logs a line per RPC and per settled event [info].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run(roles: tuple[str, ...], config_file: Path | None, flags: dict[str, Any]) -> None:
    # Imported here so that client commands start fast.
    from eventinvoke.app import Suite
    from eventinvoke.server.config import Settings
    from eventinvoke.server.logs import configure_logging
    from eventinvoke.server.loop import run_event_loop

    flags["router_endpoint"] = flags.pop("router_peer", None)
    try:
        settings = Settings.load(flags, config_file=config_file)
    except (OSError, ValueError, TypeError) as error:
        raise click.UsageError(f"bad configuration: {error}") from None
    configure_logging(settings.log_format, settings.log_level)
    try:
        run_event_loop(Suite(settings, roles).run_until_signalled())
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        pass


def register(group: click.Group) -> None:
    """Add ``up`` and ``serve`` to the CLI."""

    @group.command("up")
    @_server_options
    def up(config_file: Path | None, **flags: Any) -> None:
        """Run the whole suite (Invoker, Executor, Router, HTTP gateway) in one process."""
        _run(ROLES, config_file, flags)

    @group.command("serve")
    @click.argument("role", type=click.Choice(ROLES))
    @_server_options
    def serve(role: str, config_file: Path | None, **flags: Any) -> None:
        """Run one service; reach its peers with the --*-endpoint flags."""
        _run((role,), config_file, flags)
