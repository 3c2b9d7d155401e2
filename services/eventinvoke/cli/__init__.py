"""The ``eventinvoke`` command: AWS CLI-style client commands plus the server commands.

Client commands mirror ``aws lambda``'s names, flags, output (``--output``, ``--query``) and exit
codes, so what you know from ``aws lambda ... --endpoint-url`` works here against an Invoker's gRPC
address.
"""

from __future__ import annotations

from typing import Any

import click

from eventinvoke.cli import bench, cluster, commands, logs, server
from eventinvoke.cli import deploy as deploy_cli
from eventinvoke.cli._common import AwsGroup, GlobalOptions, global_options


@click.group(cls=AwsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, **options: Any) -> None:
    """Self-hosted asynchronous function invocation with Lambda-style Destinations."""
    ctx.obj = GlobalOptions(debug=debug, **options)


commands.register(cli)
logs.register(cli)
server.register(cli)
cluster.register(cli)
bench.register(cli)
deploy_cli.register(cli)


def main() -> None:
    cli(prog_name="eventinvoke")


__all__ = ["cli", "main"]
