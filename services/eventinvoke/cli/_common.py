"""What every client command shares: options, output, and errors turned into AWS CLI exits."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from eventinvoke.cli import output, params
from eventinvoke.client import (
    DEFAULT_ENDPOINT,
    AsyncClient,
    Client,
    EndpointConnectionError,
    EventInvokeError,
    ParamValidationError,
    ServiceError,
)
from eventinvoke.client._transport import ADDRESSES, Service

# The AWS CLI's exit codes.
EXIT_PARAMETER_ERROR = 252
EXIT_SERVICE_ERROR = 254
EXIT_OTHER_ERROR = 255


@dataclass(frozen=True)
class GlobalOptions:
    """The group's global options, handed to every command."""

    endpoint: str = DEFAULT_ENDPOINT
    router_endpoint: str | None = None
    executor_endpoint: str | None = None
    output: str = "json"
    query: ParsedResult | None = None
    profile: str | None = None
    debug: bool = False

    def client(self) -> Client:
        return Client(self.endpoint, **self._where())

    def async_client(self) -> AsyncClient:
        return AsyncClient(self.endpoint, **self._where())

    def _where(self) -> dict[str, Any]:
        return {
            "router_endpoint": self.router_endpoint,
            "executor_endpoint": self.executor_endpoint,
            "profile": self.profile,
        }


def echo_response(value: Any) -> None:
    """Print a response as the AWS CLI does: without boto3's ResponseMetadata, through --query,
    in the --output format. Every command that prints a response prints it here."""
    ctx = click.get_current_context()
    options = ctx.find_object(GlobalOptions) or GlobalOptions()
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "ResponseMetadata"}
    if options.query is not None:
        try:
            value = options.query.search(value)
        except JMESPathError as exc:  # e.g. a function given the wrong type
            raise ParameterError(
                f"Bad value for --query {options.query.expression}: {exc}"
            ) from None
    # A table's title is the AWS operation's name: get-function-configuration ->
    # GetFunctionConfiguration.
    title = "".join(word.capitalize() for word in (ctx.info_name or "").split("-"))
    width = shutil.get_terminal_size().columns
    click.echo(output.render(value, options.output, title, width), nl=False)


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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            # A bad global option (``--output xml``) is a parameter error too.
            raise AwsUsageError(exc.format_message(), exc.ctx) from exc

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
            options = ctx.find_object(GlobalOptions)
            if options is not None and options.debug:
                raise
            raise OtherFailure(f"{type(exc).__name__}: {exc}") from exc


# --- option callbacks: local input errors become click usage errors ----------------------------


_Callback = Callable[[click.Context, click.Parameter, Any], Any]


def converting(convert: Callable[[str], Any]) -> _Callback:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return convert(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None

    return callback


structure = converting(params.parse_structure)
blob = converting(params.read_blob)
code = converting(params.read_code)
timestamp = converting(params.parse_timestamp)

function_name_option = click.option(
    "--function-name", required=True, help="Name, name:qualifier, or full or partial ARN."
)
qualifier_option = click.option("--qualifier", default="", help="A version, an alias or $LATEST.")
marker_option = click.option("--marker", default=None, help="NextMarker of the previous page.")
max_items_option = click.option("--max-items", type=int, default=None, help="Page size.")


# --- global options: on the group, and after any client command, as the AWS CLI takes them -----


def _query(ctx: click.Context, param: click.Parameter, value: str | None) -> ParsedResult | None:
    if value is None:
        return None
    try:
        return jmespath.compile(value)
    except JMESPathError as exc:
        raise ParameterError(f"Bad value for --query {value}: {exc}") from None


def _endpoint(service: Service, *aliases: str, help: str) -> dict[str, Any]:
    where = ADDRESSES[service]
    return {"decls": (where.option, *aliases), "envvar": where.envvar, "help": help}


# GlobalOptions field -> the option's names and what it takes. Given after a command, a global
# option overrides the group's value for that command.
_GLOBAL_OPTIONS: dict[str, dict[str, Any]] = {
    "endpoint": _endpoint(
        "invoker", "--endpoint-url", help="The Invoker's gRPC address, host:port."
    ),
    "router_endpoint": _endpoint(
        "router", help="The Router's gRPC address; defaults to --endpoint."
    ),
    "executor_endpoint": _endpoint(
        "executor",
        help="The Executor's gRPC address (function logs live there); defaults to --endpoint.",
    ),
    "output": {
        "decls": ("--output",),
        "type": click.Choice(output.FORMATS),
        "help": "How responses print, as with the AWS CLI: json, text or table.",
    },
    "query": {
        "decls": ("--query",),
        "callback": _query,
        "help": "A JMESPath expression applied to each response, as with the AWS CLI.",
    },
    "profile": {
        "decls": ("--profile",),
        "help": "Sign calls with this profile's credentials from the AWS CLI's files (else "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the default profile).",
    },
}


def global_options(group: Any) -> Any:
    """Decorate the group with the global options; its callback gets them by their names in
    GlobalOptions."""
    defaults = {field.name: field.default for field in dataclasses.fields(GlobalOptions)}
    for field, option in reversed(_GLOBAL_OPTIONS.items()):
        group = click.option(
            *option["decls"],
            field,
            envvar=option.get("envvar"),
            show_envvar="envvar" in option,
            default=defaults[field],
            show_default=True,
            type=option.get("type"),
            callback=option.get("callback"),
            help=option["help"],
        )(group)
    return group


def _override(field: str, convert: _Callback | None) -> _Callback:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        if convert is not None:
            value = convert(ctx, param, value)
        ctx.obj = dataclasses.replace(ctx.ensure_object(GlobalOptions), **{field: value})

    return callback


def pass_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Hand a client command the GlobalOptions, after applying the global options given after the
    command's name (``eventinvoke list-functions --output text``)."""
    command = click.make_pass_decorator(GlobalOptions, ensure=True)(command)
    for field, option in reversed(_GLOBAL_OPTIONS.items()):
        command = click.option(
            *option["decls"],
            f"global_{field}",  # click keys values by name: keep clear of the command's own
            type=option.get("type"),
            expose_value=False,
            callback=_override(field, option.get("callback")),
            help=option["help"],
        )(command)
    return command
