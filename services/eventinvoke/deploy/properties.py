"""A resource's properties: which are known, and what they mean as a spec to apply.

Which properties exist comes from CloudFormation's own resource schemas (``deploy/schemas``):
a property the schema has and eventinvoke does not apply is accepted with a warning; one it
lacks is CloudFormation's "Encountered unsupported property". What eventinvoke applies, and the
checks of each value, are its own: reported in CloudFormation's words (``#/Timeout: 901 is not
less or equal to 900``), with the server's limits.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventinvoke.core.arn import parse_function_name
from eventinvoke.core.errors import LambdaError
from eventinvoke.core.model import RECURSIVE_LOOP_VALUES
from eventinvoke.core.packaging import zip_directory, zip_source
from eventinvoke.deploy.schemas import writable_properties
from eventinvoke.deploy.specs import (
    ALIAS,
    EVENT_INVOKE_CONFIG,
    FUNCTION,
    VERSION,
    AliasSpec,
    EventInvokeConfigSpec,
    FunctionSpec,
    VersionSpec,
)
from eventinvoke.deploy.template import PENDING
from eventinvoke.invoker.event_invoke_configs import DESTINATION_PATTERN, DESTINATION_URI
from eventinvoke.invoker.functions import MAX_MEMORY, MAX_TIMEOUT, MIN_MEMORY, RUNTIMES

if TYPE_CHECKING:
    from eventinvoke.deploy.specs import Spec, Step

# Function properties that SAM's AWS::Serverless::Function has too, under the same name and
# meaning: sam.py copies them to the function it generates.
FUNCTION_PROPERTIES = (
    "FunctionName",
    "Handler",
    "Runtime",
    "Timeout",
    "MemorySize",
    "Environment",
    "Description",
    "Role",
    "ReservedConcurrentExecutions",
    "RecursiveLoop",
    "PackageType",
)
# The properties eventinvoke applies; every other property of the type's schema is accepted
# but not applied (a warning each).
APPLIED = {
    FUNCTION: frozenset({*FUNCTION_PROPERTIES, "Code", "DeadLetterConfig"}),
    VERSION: frozenset({"FunctionName", "Description"}),
    ALIAS: frozenset({"FunctionName", "FunctionVersion", "Name", "Description"}),
    EVENT_INVOKE_CONFIG: frozenset(
        {
            "FunctionName",
            "Qualifier",
            "MaximumEventAgeInSeconds",
            "MaximumRetryAttempts",
            "DestinationConfig",
        }
    ),
}
# In the schema but refused as unsupported rather than ignored: ignoring it would change which
# code runs (weighted alias routing is not implemented).
REFUSED = {ALIAS: frozenset({"RoutingConfig"})}
_ON_SUCCESS_SERVICES = ("sqs", "sns", "lambda", "events")
_ON_FAILURE_SERVICES = (*_ON_SUCCESS_SERVICES, "s3")
_DESTINATION = re.compile(DESTINATION_PATTERN)
_ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}")
_INLINE_FILE = {"python": "index.py", "nodejs": "index.js"}


def not_applied(type_name: str, applied: frozenset[str]) -> frozenset[str]:
    """The properties of ``type_name``'s schema that eventinvoke accepts but does not apply."""
    return writable_properties(type_name) - applied - REFUSED.get(type_name, frozenset())


def check_known(
    logical_id: str,
    type_name: str,
    properties: Mapping[str, Any],
    errors: list[str],
    warnings: list[str],
) -> None:
    """An error for each property the type does not have, a warning for each not applied."""
    applied = APPLIED[type_name]
    ignored = not_applied(type_name, applied)
    for prop in sorted(set(properties) - applied - ignored):
        errors.append(
            f"Properties validation failed for resource {logical_id} with message:"
            f" #: extraneous key [{prop}] is not permitted (Encountered unsupported property"
            f" {prop})"
        )
    for prop in sorted(set(properties) & ignored):
        warnings.append(f"{logical_id}: property {prop} is not applied by eventinvoke")


def named_function(value: Any) -> str | None:
    """The function a FunctionName property names (a name, ARN or partial ARN; no qualifier)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_function_name(value).name
    except LambdaError:
        return None


def resource_spec(
    step: Step, props: Mapping[str, Any], base_dir: Path, errors: list[str]
) -> Spec | None:
    """The resolved properties of a step as what to apply; problems go to ``errors``."""
    check = _Check(step.logical_id, errors)
    kind = step.type
    if isinstance(step.spec, FunctionSpec):
        # The physical name was settled when the plan was built (FunctionName or generated).
        return _function_spec(step.spec.name, props, base_dir, check)
    function_name = named_function(props.get("FunctionName"))
    if function_name is None:
        check.fail("FunctionName", "required key [FunctionName] not found or not a function name")
        return None
    if kind == VERSION:
        return VersionSpec(function_name, check.text(props, "Description"))
    if kind == ALIAS:
        name = props.get("Name")
        if not isinstance(name, str) or not _ALIAS_NAME.fullmatch(name):
            check.fail("Name", f"{name!r} must match (?!^[0-9]+$)([a-zA-Z0-9-_]+), 1-128 long")
        version = props.get("FunctionVersion")
        if not isinstance(version, str | int) or isinstance(version, bool) or version == "":
            check.fail("FunctionVersion", "required key [FunctionVersion] not found")
        elif PENDING not in str(version) and not re.fullmatch(r"\$LATEST|[0-9]+", str(version)):
            check.fail("FunctionVersion", f"{version!r} must be $LATEST or a version number")
        return AliasSpec(function_name, str(name), str(version), check.text(props, "Description"))
    # EventInvokeConfig
    qualifier = str(props.get("Qualifier", "$LATEST"))
    if not re.fullmatch(r"\$LATEST|[a-zA-Z0-9-_]{1,128}", qualifier):
        check.fail("Qualifier", f"{qualifier!r} must be $LATEST, a version or an alias")
    retries = check.integer(props, "MaximumRetryAttempts", 0, 2)
    age = check.integer(props, "MaximumEventAgeInSeconds", 60, 21600)
    sides: dict[str, str | None] = {"OnSuccess": None, "OnFailure": None}
    destinations = props.get("DestinationConfig")
    if destinations is not None:
        if not isinstance(destinations, dict) or set(destinations) - set(sides):
            check.fail("DestinationConfig", "only OnSuccess and OnFailure are allowed")
        else:
            for side in sides:
                if side not in destinations:
                    continue
                target = destinations[side] or {}
                if not isinstance(target, dict) or set(target) - {"Destination"}:
                    check.fail(f"DestinationConfig/{side}", "only Destination is allowed")
                    continue
                arn = target.get("Destination", "")
                if not isinstance(arn, str):
                    check.fail(f"DestinationConfig/{side}/Destination", "must be a string")
                    continue
                allowed = _ON_SUCCESS_SERVICES if side == "OnSuccess" else _ON_FAILURE_SERVICES
                if DESTINATION_URI.match(arn):
                    # A plugin's destination (https://...): only the server knows which plugins
                    # it loaded, so it decides when the config is put (and names the scheme).
                    pass
                elif arn and not _DESTINATION.fullmatch(arn):
                    check.fail(
                        f"DestinationConfig/{side}/Destination",
                        f"{arn!r} is not a destination ARN",
                    )
                elif arn and arn.split(":")[2] not in allowed:
                    check.fail(
                        f"DestinationConfig/{side}/Destination",
                        f"{arn} is not a supported {side} destination ({', '.join(allowed)})",
                    )
                sides[side] = arn
    if retries is None and age is None and destinations is None:
        check.fail("", "You must specify at least one of error handling or destination setting.")
    return EventInvokeConfigSpec(
        function_name, qualifier, retries, age, sides["OnSuccess"], sides["OnFailure"]
    )


def _function_spec(
    name: str, props: Mapping[str, Any], base_dir: Path, check: _Check
) -> FunctionSpec | None:
    runtime = props.get("Runtime")
    handler = props.get("Handler")
    if props.get("PackageType", "Zip") != "Zip":
        check.fail("PackageType", "only Zip packages are supported")
    if not isinstance(runtime, str) or not runtime:
        check.fail("Runtime", "required key [Runtime] not found")
    elif runtime not in RUNTIMES:
        check.fail("Runtime", f"{runtime} is not one of [{', '.join(RUNTIMES)}]")
    if not isinstance(handler, str) or not re.fullmatch(r"[^\s]{1,128}", handler):
        check.fail("Handler", "required key [Handler] not found or not a handler")
    timeout = check.integer(props, "Timeout", 1, MAX_TIMEOUT)
    memory = check.integer(props, "MemorySize", MIN_MEMORY, MAX_MEMORY)
    reserved = check.integer(props, "ReservedConcurrentExecutions", 0, 1_000_000)
    recursive_loop = props.get("RecursiveLoop")
    if recursive_loop is not None and recursive_loop not in RECURSIVE_LOOP_VALUES:
        check.fail(
            "RecursiveLoop", f"{recursive_loop} is not one of [{', '.join(RECURSIVE_LOOP_VALUES)}]"
        )
    environment: dict[str, str] = {}
    env = props.get("Environment")
    if env is not None:
        variables = env.get("Variables") if isinstance(env, dict) else None
        if (
            not isinstance(env, dict)
            or set(env) - {"Variables"}
            or not isinstance(variables or {}, dict)
        ):
            check.fail("Environment", "must be {Variables: {NAME: value}}")
        else:
            for key, value in (variables or {}).items():
                if not re.fullmatch(r"[a-zA-Z]([a-zA-Z0-9_])+", str(key)):
                    check.fail(f"Environment/Variables/{key}", "is not a valid variable name")
                if isinstance(value, dict | list) or value is None:
                    check.fail(f"Environment/Variables/{key}", "must be a string")
                    continue
                environment[str(key)] = (
                    ("true" if value else "false") if isinstance(value, bool) else str(value)
                )
    dead_letter = ""
    dlq = props.get("DeadLetterConfig")
    if dlq is not None:
        target = dlq.get("TargetArn") if isinstance(dlq, dict) else None
        if not isinstance(target, str) or (
            target and target.split(":")[2:3] not in (["sqs"], ["sns"])
        ):
            check.fail(
                "DeadLetterConfig/TargetArn",
                "must be the ARN of an SQS queue or SNS topic",
            )
        else:
            dead_letter = target
    zip_file = _code(
        props.get("Code"), runtime if isinstance(runtime, str) else "", base_dir, check
    )
    if check.failed:
        return None
    assert isinstance(runtime, str) and isinstance(handler, str)
    return FunctionSpec(
        name=name,
        runtime=runtime,
        handler=handler,
        zip_file=zip_file or b"",
        role=check.text(props, "Role"),
        timeout=timeout,
        memory_size=memory,
        environment=environment,
        description=check.text(props, "Description"),
        dead_letter_target=dead_letter,
        reserved_concurrency=reserved,
        recursive_loop=recursive_loop,
    )


def _code(code: Any, runtime: str, base_dir: Path, check: _Check) -> bytes | None:
    if isinstance(code, dict) and "ZipFile" in code:
        source = code["ZipFile"]
        family = re.match(r"[a-z]+", runtime)
        filename = _INLINE_FILE.get(family.group(0) if family else "")
        if set(code) != {"ZipFile"} or not isinstance(source, str):
            check.fail("Code", "ZipFile must be the only key and hold the source text")
        elif filename is None:
            check.fail(
                "Code/ZipFile", f"inline code needs a Python or Node.js runtime, not {runtime}"
            )
        else:
            return zip_source(filename, source)
        return None
    if isinstance(code, dict) and ({"S3Bucket", "S3Key", "ImageUri", "Bucket", "Key"} & set(code)):
        check.fail(
            "Code",
            "code in S3 or a container image cannot be deployed here; give a local directory,"
            " a .zip file or Code.ZipFile",
        )
        return None
    if not isinstance(code, str) or not code:
        check.fail("Code", "required: Code.ZipFile, or a local directory or .zip path")
        return None
    path = Path(code).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        if path.is_dir():
            zipped = zip_directory(path)
            if not zipped or zipfile.ZipFile(io.BytesIO(zipped)).namelist() == []:
                check.fail("Code", f"the directory {path} has no files")
                return None
            return zipped
        if path.is_file() and path.suffix == ".zip":
            data = path.read_bytes()
            if not zipfile.is_zipfile(io.BytesIO(data)):
                check.fail("Code", f"{path} is not a zip file")
                return None
            return data
    except OSError as exc:
        check.fail("Code", f"cannot read {path}: {exc}")
        return None
    check.fail("Code", f"{path} is not a directory or a .zip file")
    return None


class _Check:
    """Property checks for one resource, reported in CloudFormation's words."""

    def __init__(self, logical_id: str, errors: list[str]) -> None:
        self.logical_id = logical_id
        self.errors = errors
        self.failed = False

    def fail(self, prop: str, message: str) -> None:
        self.failed = True
        self.errors.append(
            f"Properties validation failed for resource {self.logical_id} with message:"
            f" #/{prop}: {message}"
        )

    def integer(self, props: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
        value = props.get(key)
        if value is None:
            return None
        try:
            if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
                raise ValueError
            number = int(value)
        except (TypeError, ValueError):
            self.fail(key, f"expected type: Integer, found: {value!r}")
            return None
        if number < low:
            self.fail(key, f"{number} is not greater or equal to {low}")
        elif number > high:
            self.fail(key, f"{number} is not less or equal to {high}")
        return number

    def text(self, props: Mapping[str, Any], key: str) -> str:
        value = props.get(key, "")
        if not isinstance(value, str):
            self.fail(key, f"expected type: String, found: {type(value).__name__}")
            return ""
        return value
