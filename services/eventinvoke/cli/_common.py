"""What every client command shares: settings, output, and errors turned into AWS CLI exits."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from eventinvoke.cli import params
from eventinvoke.client import (
    Client,
    EndpointConnectionError,
    EventInvokeError,
    ParamValidationError,
    ServiceError,
)

# The AWS CLI's exit codes.
EXIT_PARAMETER_ERROR = 252
EXIT_SERVICE_ERROR = 254
EXIT_OTHER_ERROR = 255


@dataclass(frozen=True)
class Settings:
    """The group's global options, handed to every command."""

    endpoint: str
    router_endpoint: str | None = None
    debug: bool = False

    def client(self) -> Client:
        return Client(self.endpoint, router_endpoint=self.router_endpoint)


pass_settings = click.make_pass_decorator(Settings)


def echo_json(value: Any) -> None:
    """Print like the AWS CLI: 4-space JSON, without boto3's ResponseMetadata."""
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "ResponseMetadata"}
    click.echo(json.dumps(value, indent=4, ensure_ascii=False))


class CliError(click.ClickException):
    """An error printed as the AWS CLI prints it: the message alone on stderr."""

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


class ParameterError(CliError):
    exit_code = EXIT_PARAMETER_ERROR


class ServiceFailure(CliError):
    exit_code = EXIT_SERVICE_ERROR


class OtherFailure(CliError):
    exit_code = EXIT_OTHER_ERROR


class AwsUsageError(click.UsageError):
    """A click usage error (with the usage lines) under the AWS CLI's parameter exit code."""

    exit_code = EXIT_PARAMETER_ERROR


def _service_error(exc: ServiceError) -> str:
    return (
        f"An error occurred ({exc.code}) when calling the {exc.operation_name} operation: "
        f"{exc.message}"
    )


# Client exception -> CLI failure and its message. The one place client errors become exits.
_ERRORS: list[tuple[type[EventInvokeError], type[CliError], Callable[[Any], str]]] = [
    (ServiceError, ServiceFailure, _service_error),
    (EndpointConnectionError, OtherFailure, str),
    (ParamValidationError, ParameterError, str),
]


def cli_error(exc: EventInvokeError) -> CliError:
    for cls, failure, render in _ERRORS:
        if isinstance(exc, cls):
            return failure(render(exc))
    return OtherFailure(str(exc))


class AwsGroup(click.Group):
    """A group whose commands fail like the AWS CLI's: a message and an exit code, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AwsUsageError:
            raise
        except click.UsageError as exc:
            # Bad arguments to a command are the AWS CLI's parameter errors.
            raise AwsUsageError(exc.format_message(), exc.ctx) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except EventInvokeError as exc:
            raise cli_error(exc) from exc
        except Exception as exc:
            settings = ctx.find_object(Settings)
            if settings is not None and settings.debug:
                raise
            raise OtherFailure(f"{type(exc).__name__}: {exc}") from exc


# --- option callbacks: local input errors become click usage errors ----------------------------


_Callback = Callable[[click.Context, click.Parameter, Any], Any]


def _converting(convert: Callable[[str], Any]) -> _Callback:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return convert(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None

    return callback


structure = _converting(params.parse_structure)
blob = _converting(params.read_blob)
code = _converting(params.read_code)

function_name_option = click.option(
    "--function-name", required=True, help="Name, name:qualifier, or full or partial ARN."
)
qualifier_option = click.option("--qualifier", default="", help="A version, an alias or $LATEST.")
marker_option = click.option("--marker", default=None, help="NextMarker of the previous page.")
max_items_option = click.option("--max-items", type=int, default=None, help="Page size.")
