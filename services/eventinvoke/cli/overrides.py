"""What the client commands say that the model cannot: eventinvoke's ``--code`` beside the AWS
CLI's ``--zip-file``, help texts where eventinvoke's meaning is narrower or differs, and the
question asked before a command that cannot be undone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from eventinvoke.cli._common import blob, code

# (operation or "*", member) -> the option's help, where it says more than the model's.
_HELP: dict[tuple[str, str], str] = {
    ("*", "FunctionName"): "Name, name:qualifier, or full or partial ARN.",
    ("*", "Qualifier"): "A version, an alias or $LATEST.",
    ("*", "Marker"): "NextMarker of the previous page.",
    ("*", "MaxItems"): "Page size.",
    ("*", "Role"): "Execution role ARN (stored, not enforced).",
    ("*", "Environment"): "'Variables={K=V,K2=V2}' or JSON; replaces all variables.",
    ("*", "DeadLetterConfig"): "TargetArn=ARN or JSON; TargetArn= removes it.",
    ("*", "DestinationConfig"): 'JSON or shorthand, e.g. \'{"OnFailure":{"Destination":"ARN"}}\'',
    ("*", "Payload"): "JSON inline, file://event.json or fileb://event.json.",
    **{
        (operation, "FunctionName"): (
            "Only records of this function: name, name:qualifier or ARN (without a qualifier: "
            "of every version and alias)."
        )
        for operation in (
            "ListFailedDeliveries",
            "RedriveFailedDeliveries",
            "PurgeFailedDeliveries",
        )
    },
    ("*", "FailedAfter"): "Only failures at or after this time: ISO 8601 (UTC) or epoch seconds.",
    ("*", "FailedBefore"): "Only failures before this time: ISO 8601 (UTC) or epoch seconds.",
    ("DeleteFunction", "Qualifier"): "A version number: delete only that version.",
    ("PutFunctionConcurrency", "ReservedConcurrentExecutions"): (
        "Concurrency reserved for the function; 0 stops it from running."
    ),
}

# operation -> the command's help, where the model's first sentence would mislead.
COMMAND_HELP: dict[str, str] = {
    "Invoke": "Invoke a function; the response payload goes to OUTFILE.",
    "CreateFunction": "Create a function from a directory or a zip file.",
    "UpdateFunctionCode": (
        "Replace $LATEST's code with a directory or a zip file; new sandboxes run it."
    ),
    "DeleteFunction": (
        "Delete a function (its versions, aliases and event invoke configs), or one version."
    ),
    "GetFunctionConcurrency": "Show a function's reserved concurrency ({} when it has none).",
    "PurgeFailedDeliveries": (
        "Delete failed deliveries: those the filters name, or all. Asks first, unless --yes."
    ),
    "RedriveFailedDeliveries": (
        "Send failed deliveries again: those the filters name (or --delivery-id), or all."
    ),
}


def help_for(operation: str, member: str) -> str | None:
    return _HELP.get((operation, member)) or _HELP.get(("*", member))


@dataclass(frozen=True)
class Package:
    """A deployment package, given as ``--code`` (a directory, ``fileb://x.zip`` or ``x.zip``) or
    as the AWS CLI's ``--zip-file fileb://x.zip``: exactly one. ``member`` is the request member
    it fills, the zip's bytes under ``key`` when the member is a structure (``Code.ZipFile``)."""

    member: str
    key: str | None = None

    def options(self) -> list[Callable[..., Any]]:
        return [
            click.option(
                "--code", "code_", callback=code, help="A directory, fileb://x.zip or x.zip."
            ),
            click.option("--zip-file", "zip_file", callback=blob, help="fileb://x.zip"),
        ]

    def value(self, values: dict[str, Any]) -> Any:
        given = [
            v for v in (values.pop("code_", None), values.pop("zip_file", None)) if v is not None
        ]
        if len(given) != 1:
            raise click.UsageError("Give exactly one of --code and --zip-file.")
        return {self.key: given[0]} if self.key else given[0]


PACKAGES: dict[str, Package] = {
    "CreateFunction": Package("Code", "ZipFile"),
    "UpdateFunctionCode": Package("ZipFile"),
}

# operation -> options the AWS CLI takes that change nothing here.
EXTRA_OPTIONS: dict[str, list[Callable[..., Any]]] = {
    "Invoke": [
        click.option(
            "--cli-binary-format",
            type=click.Choice(["base64", "raw-in-base64-out"]),
            expose_value=False,
            help="Accepted for AWS CLI compatibility; --payload is always raw.",
        )
    ],
}


def _purge_question(given: dict[str, Any]) -> str:
    if not given:
        return "Delete every failed delivery?"
    named = ", ".join(f"{member}={value}" for member, value in given.items())
    return f"Delete the failed deliveries with {named}?"


# operation -> the question the command asks before it runs (from the members given), unless
# --yes: an operation that cannot be undone.
CONFIRM: dict[str, Callable[[dict[str, Any]], str]] = {
    "PurgeFailedDeliveries": _purge_question,
}
