"""Server commands: ``up`` runs the whole suite in one process, ``serve ROLE`` one service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eventinvoke.server import config

ROLES = ("invoker", "executor", "router", "gateway")


def _option(name: str, flag: str, default: Any, help_text: str) -> Any:
    """A setting's flag, derived from its declaration. Values stay text (or a bool): the one
    parser in ``Settings.load`` reads them, as it reads variables and the TOML file."""
    shown = f"{help_text} [{config.variable(name)}; default: {config.shown(default)}]"
    what = config.kind(name)
    if what == "bool":
        negative = "--no-" + flag[2:]
        return click.option(f"{flag}/{negative}", name, default=None, help=shown)
    if what == "choice":
        metavar = "[" + "|".join(config.choices(name)) + "]"
    else:
        metavar = {
            "int": "N",
            "float": "X",
            "path": "DIR",
            "list": "A,B",
            "table": "JSON",
            "credentials": "KEY_ID:SECRET:ROLE,...",
        }.get(what, "TEXT")
    return click.option(flag, name, metavar=metavar, help=shown)


def _server_options(command: Any) -> Any:
    """Every setting as a flag, plus --config; flags win over variables and the file."""
    options = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(path_type=Path, dir_okay=False),
            help=f"A TOML settings file [{config.CONFIG_VARIABLE}].",
        ),
        *(_option(*spec) for spec in config.fields()),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run(roles: tuple[str, ...], config_file: Path | None, flags: dict[str, Any]) -> None:
    # Imported here so that client commands start fast.
    from eventinvoke.app import Suite
    from eventinvoke.backends import BackendUnavailable
    from eventinvoke.server.logs import configure_logging
    from eventinvoke.server.loop import run_event_loop

    try:
        settings = config.Settings.load(flags, config_file=config_file)
    except config.SettingError as error:
        raise click.ClickException(str(error)) from None
    configure_logging(settings.log_format, settings.log_level)
    try:
        run_event_loop(Suite(settings, roles).run_until_signalled())
    except (ValueError, OSError, BackendUnavailable) as error:
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
