"""Applying a validated plan through the client, undoing this run's changes if the server
refuses one.

Before the first write, ``preflight`` reads what exists (functions, their event invoke configs,
aliases, reserved concurrency) and asks the server what only it knows (a Lambda destination
outside the template exists). Then each step is applied in dependency order, skipping what is
already as the template says. If the server rejects a step, what this run did is undone in
reverse: functions it created are deleted (with their versions, aliases and configs), replaced
configurations, event invoke configs, aliases and concurrency are put back. Two things are not
put back, and are reported as left behind: the code of a function that existed before (the
server does not give its package bytes back), and versions published on a function that existed
before (versions are immutable; this run does not delete them, ``delete-function --qualifier N``
deletes one).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventinvoke.client import AsyncClient, ResourceNotFoundException, ServiceError
from eventinvoke.core.model import RECURSIVE_LOOP_TERMINATE
from eventinvoke.deploy.plan import Plan, build
from eventinvoke.deploy.properties import named_function
from eventinvoke.deploy.specs import (
    AliasSpec,
    EventInvokeConfigSpec,
    FunctionSpec,
    Step,
    VersionSpec,
)
from eventinvoke.deploy.template import PENDING, TemplateError, load, parse

LATEST = "$LATEST"
DEFAULT_TIMEOUT, DEFAULT_MEMORY = 3, 128  # what CreateFunction gives when they are left out


# The client a deployment drives: eventinvoke's own, whose methods are boto3's lambda client's.
LambdaClient = AsyncClient


@dataclass(frozen=True)
class ResourceResult:
    logical_id: str
    type: str
    action: str  # "Add", "Modify" or "NoChange" (as a change set would say; no Remove here)
    physical_id: str
    arn: str | None = None

    def to_dict(self) -> dict[str, Any]:
        result = {
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.type,
            "Action": self.action,
            "PhysicalResourceId": self.physical_id.replace(PENDING, "<new version>"),
        }
        if self.arn:
            result["Arn"] = self.arn
        return result


@dataclass
class DeployResult:
    stack_name: str
    resources: list[ResourceResult]
    outputs: list[dict[str, Any]]
    warnings: list[str]
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "StackName": self.stack_name,
            "DryRun": self.dry_run,
            "Resources": [r.to_dict() for r in self.resources],
        }
        if self.outputs:
            result["Outputs"] = self.outputs
        return result


class DeployError(Exception):
    """The server refused a step; this run's changes were undone as far as ``rolled_back`` says."""

    def __init__(
        self, error: ServiceError, logical_id: str, rolled_back: list[str], left: list[str]
    ) -> None:
        self.error = error
        self.logical_id = logical_id
        self.rolled_back = rolled_back
        self.left = left
        super().__init__(f"{logical_id}: {error.code}: {error.message}")


# --- entry points --------------------------------------------------------------------------


async def deploy(
    client: LambdaClient,
    template: Path | Mapping[str, Any] | str,
    *,
    stack_name: str | None = None,
    overrides: Mapping[str, str] | None = None,
    dry_run: bool = False,
    base_dir: Path | None = None,
) -> DeployResult:
    """Validate a template whole, then apply it; TemplateError (nothing changed) or DeployError.

    ``template`` is a path, a template's text, or a parsed template; local code paths are
    relative to the template's directory (or ``base_dir``).
    """
    if isinstance(template, Path):
        document = load(template)
        base_dir = base_dir or template.resolve().parent
        stack_name = stack_name or template.stem
    elif isinstance(template, str):
        document = parse(template)
    else:
        document = dict(template)
    stack_name = stack_name or "eventinvoke"
    if not re.fullmatch(r"[a-zA-Z][-a-zA-Z0-9]{0,127}", stack_name):
        raise TemplateError(
            f"Stack name {stack_name!r} must match [a-zA-Z][-a-zA-Z0-9]* (at most 128 long)"
        )
    region, account = await discover_partition(client)
    plan = build(
        document,
        stack_name=stack_name,
        region=region,
        account=account,
        base_dir=base_dir or Path.cwd(),
        overrides=overrides,
    )
    state = await preflight(client, plan)
    return await Applier(client, plan, state, dry_run).run()


async def discover_partition(client: LambdaClient) -> tuple[str, str]:
    """The region and account of the server, read from an ARN it renders."""
    page = await client.list_functions(max_items=1)
    for function in page.get("Functions", []):
        found = _arn_partition(function.get("FunctionArn", ""))
        if found:
            return found
    # No function yet: the not-found message of a read names the ARN it looked for.
    try:
        await client.get_function_event_invoke_config("eventinvoke-deploy-partition-probe")
    except ServiceError as exc:
        found = _arn_partition(exc.message)
        if found:
            return found
    return "us-east-1", "000000000000"


def _arn_partition(text: str) -> tuple[str, str] | None:
    match = re.search(r"arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):function:", text)
    return (match[1], match[2]) if match else None


# --- what exists ---------------------------------------------------------------------------


@dataclass
class State:
    """What exists before this run, read once before any write."""

    functions: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # name -> config
    concurrency: dict[str, int | None] = field(default_factory=dict)
    recursive_loop: dict[str, str] = field(default_factory=dict)
    event_invoke_configs: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    aliases: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)


async def _maybe(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except ResourceNotFoundException:
        return None


async def preflight(client: LambdaClient, plan: Plan) -> State:
    """Read what the plan touches, and check what only the server can check. No writes."""
    state = State()
    for step in plan.steps:
        if isinstance(step.spec, FunctionSpec):
            got = await _maybe(client.get_function(step.spec.name))
            state.functions[step.spec.name] = got["Configuration"] if got else None
            if got is not None:
                reserved = got.get("Concurrency", {}).get("ReservedConcurrentExecutions")
                state.concurrency[step.spec.name] = reserved
                recursion = await client.get_function_recursion_config(step.spec.name)
                state.recursive_loop[step.spec.name] = recursion["RecursiveLoop"]
    errors: list[str] = []
    names = plan.function_names()
    for step in plan.steps:
        spec = step.spec
        if isinstance(spec, FunctionSpec):
            continue
        if spec.function_name not in names:
            # A function the template does not define must exist already.
            if await _maybe(client.get_function(spec.function_name)) is None:
                errors.append(
                    f"Resource {step.logical_id}: the function {spec.function_name} does not"
                    " exist and this template does not define it"
                )
                continue
            state.functions.setdefault(spec.function_name, {"FunctionName": spec.function_name})
        existed = state.functions.get(spec.function_name) is not None
        if isinstance(spec, EventInvokeConfigSpec):
            key = (spec.function_name, spec.qualifier)
            state.event_invoke_configs[key] = (
                await _maybe(client.get_function_event_invoke_config(*key)) if existed else None
            )
            for arn in (spec.on_success, spec.on_failure):
                if not arn or arn.split(":")[2:3] != ["lambda"] or not plan.ours(arn):
                    continue
                target = named_function(arn)
                qualifier = arn.split(":")[7] if len(arn.split(":")) > 7 else ""
                if target in names and not qualifier:
                    continue
                if target not in names and (
                    await _maybe(client.get_function(target or "", qualifier)) is None
                ):
                    errors.append(
                        f"Resource {step.logical_id}: The destination ARN {arn} is invalid."
                        " (no such function here, and this template does not define it)"
                    )
        elif isinstance(spec, AliasSpec):
            key = (spec.function_name, spec.name)
            state.aliases[key] = (
                await _maybe(client.get_alias(spec.function_name, spec.name)) if existed else None
            )
    if errors:
        raise TemplateError(errors)
    return state


# --- applying ------------------------------------------------------------------------------

Undo = Callable[[], Awaitable[Any]]


class Applier:
    def __init__(self, client: LambdaClient, plan: Plan, state: State, dry_run: bool) -> None:
        self.client = client
        self.plan = plan
        self.state = state
        self.dry_run = dry_run
        self.versions: dict[str, str] = {}  # Version logical id -> number published / reused
        self.changed: set[str] = set()  # functions created or modified by this run
        self.created: set[str] = set()  # functions this run created
        self.undo: list[tuple[str, str, Undo]] = []  # (function, description, action)
        self.left: list[str] = []  # what a rollback cannot undo

    async def run(self) -> DeployResult:
        results: list[ResourceResult] = []
        for step in self.plan.steps:
            spec = self.plan.respec(step, self.versions) if not self.dry_run else step.spec
            try:
                results.append(await self._apply(step, spec))
            except ServiceError as exc:
                rolled_back = await self._roll_back()
                raise DeployError(exc, step.logical_id, rolled_back, self.left) from exc
        resolver = self.plan.resolver(self.versions)
        outputs = []
        for key, output in self.plan.outputs.items():
            value = resolver.resolve(output["Value"], f"/Outputs/{key}/Value")
            entry: dict[str, Any] = {"OutputKey": key, "OutputValue": _display_value(value)}
            if "Description" in output:
                entry["Description"] = output["Description"]
            outputs.append(entry)
        return DeployResult(
            self.plan.stack_name, results, outputs, self.plan.warnings, self.dry_run
        )

    async def _apply(self, step: Step, spec: Any) -> ResourceResult:
        if isinstance(spec, FunctionSpec):
            action = await self._function(spec)
            arn = self.plan.function_arn(spec.name)
            return ResourceResult(step.logical_id, step.type, action, spec.name, arn)
        if isinstance(spec, VersionSpec):
            action, number = await self._version(step, spec)
            arn = self.plan.function_arn(spec.function_name, number)
            return ResourceResult(step.logical_id, step.type, action, arn)
        if isinstance(spec, AliasSpec):
            action = await self._alias(spec)
            arn = self.plan.function_arn(spec.function_name, spec.name)
            return ResourceResult(step.logical_id, step.type, action, arn)
        assert isinstance(spec, EventInvokeConfigSpec)
        action = await self._event_invoke_config(spec)
        arn = self.plan.function_arn(spec.function_name, spec.qualifier)
        return ResourceResult(step.logical_id, step.type, action, arn)

    def _on_undo(self, function: str, what: str, action: Undo) -> None:
        self.undo.append((function, what, action))

    async def _roll_back(self) -> list[str]:
        done: list[str] = []
        for function in sorted(self.created):
            try:
                await self.client.delete_function(function)
                done.append(f"deleted function {function}")
            except ServiceError as exc:
                self.left.append(f"function {function} (delete failed: {exc.message})")
        for function, what, action in reversed(self.undo):
            if function in self.created:
                continue  # gone with its function
            try:
                await action()
                done.append(what)
            except ServiceError as exc:
                self.left.append(f"{what} failed: {exc.message}")
        return done

    # --- functions ---

    async def _function(self, spec: FunctionSpec) -> str:
        client = self.client
        current = self.state.functions.get(spec.name)
        if current is None:
            if not self.dry_run:
                await client.create_function(
                    function_name=spec.name,
                    zip_file=spec.zip_file,
                    **_config_kwargs(_desired_configuration(spec)),
                )
                self.created.add(spec.name)
                self.changed.add(spec.name)
                if spec.reserved_concurrency is not None:
                    await client.put_function_concurrency(
                        function_name=spec.name,
                        reserved_concurrent_executions=spec.reserved_concurrency,
                    )
                if spec.recursive_loop not in (None, RECURSIVE_LOOP_TERMINATE):
                    await client.put_function_recursion_config(spec.name, spec.recursive_loop)
            return "Add"

        desired = _desired_configuration(spec)
        before = _configuration(current)
        modified = False
        if desired != before:
            modified = True
            if not self.dry_run:
                await client.update_function_configuration(spec.name, **_config_kwargs(desired))
                self._on_undo(
                    spec.name,
                    f"restored the configuration of {spec.name}",
                    lambda: client.update_function_configuration(
                        spec.name, **_config_kwargs(before)
                    ),
                )
        if _sha256(spec.zip_file) != current.get("CodeSha256"):
            modified = True
            if not self.dry_run:
                await client.update_function_code(function_name=spec.name, zip_file=spec.zip_file)
                self.left.append(f"the code of {spec.name} (its previous package is not kept)")
        reserved = self.state.concurrency.get(spec.name)
        if spec.reserved_concurrency is not None and spec.reserved_concurrency != reserved:
            modified = True
            if not self.dry_run:
                await client.put_function_concurrency(
                    function_name=spec.name,
                    reserved_concurrent_executions=spec.reserved_concurrency,
                )

                async def restore_concurrency() -> None:
                    if reserved is None:
                        await client.delete_function_concurrency(spec.name)
                    else:
                        await client.put_function_concurrency(spec.name, reserved)

                self._on_undo(
                    spec.name, f"restored the concurrency of {spec.name}", restore_concurrency
                )
        if await self._recursive_loop(spec):
            modified = True
        if modified:
            self.changed.add(spec.name)
        return "Modify" if modified else "NoChange"

    async def _recursive_loop(self, spec: FunctionSpec) -> bool:
        """Set an existing function's RecursiveLoop as the template says (a template without
        one means AWS's default, as CloudFormation resets a removed property). True if it
        changes."""
        desired = spec.recursive_loop or RECURSIVE_LOOP_TERMINATE
        current = self.state.recursive_loop.get(spec.name, RECURSIVE_LOOP_TERMINATE)
        if desired == current:
            return False
        if not self.dry_run:
            client = self.client
            await client.put_function_recursion_config(spec.name, desired)
            self._on_undo(
                spec.name,
                f"restored the recursive loop setting of {spec.name}",
                lambda: client.put_function_recursion_config(spec.name, current),
            )
        return True

    # --- versions and aliases ---

    async def _version(self, step: Step, spec: VersionSpec) -> tuple[str, str]:
        if self.dry_run:
            return "Add", PENDING
        reused = await self._unchanged_version(step, spec)
        if reused is not None:
            self.versions[step.logical_id] = reused
            return "NoChange", reused
        published = await self.client.publish_version(
            function_name=spec.function_name, description=spec.description
        )
        number = str(published["Version"])
        self.versions[step.logical_id] = number
        if spec.function_name not in self.created:
            self.left.append(f"version {number} of {spec.function_name}")
        return "Add", number

    async def _unchanged_version(self, step: Step, spec: VersionSpec) -> str | None:
        """The version an alias of this template points at, when $LATEST still equals it.

        Keeps a re-deploy from publishing again when nothing changed (AWS's PublishVersion
        returns the latest version then, too; this does not depend on it).
        """
        if spec.function_name in self.changed:
            return None
        for other in self.plan.steps:
            alias = other.spec
            if not isinstance(alias, AliasSpec) or alias.function_name != spec.function_name:
                continue
            if step.logical_id not in _references(other.properties.get("FunctionVersion")):
                continue
            current = self.state.aliases.get((alias.function_name, alias.name))
            number = str((current or {}).get("FunctionVersion", ""))
            if not number.isdigit():
                continue
            latest = await self.client.get_function_configuration(spec.function_name)
            published = await _maybe(
                self.client.get_function_configuration(spec.function_name, number)
            )
            if published is not None and _same_code_and_configuration(latest, published):
                return number
        return None

    async def _alias(self, spec: AliasSpec) -> str:
        client = self.client
        current = self.state.aliases.get((spec.function_name, spec.name))
        if current is None:
            if not self.dry_run:
                await client.create_alias(**_alias_kwargs(spec))
                if spec.function_name not in self.created:
                    self._on_undo(
                        spec.function_name,
                        f"deleted alias {spec.name} of {spec.function_name}",
                        lambda: client.delete_alias(
                            function_name=spec.function_name, name=spec.name
                        ),
                    )
            return "Add"
        old_version = str(current.get("FunctionVersion", ""))
        old_description = str(current.get("Description", ""))
        if (old_version, old_description) == (spec.function_version, spec.description):
            return "NoChange"
        if not self.dry_run:
            await client.update_alias(**_alias_kwargs(spec))
            self._on_undo(
                spec.function_name,
                f"restored alias {spec.name} of {spec.function_name}",
                lambda: client.update_alias(
                    spec.function_name, spec.name, old_version, old_description
                ),
            )
        return "Modify"

    # --- event invoke configs ---

    async def _event_invoke_config(self, spec: EventInvokeConfigSpec) -> str:
        client = self.client
        key = (spec.function_name, spec.qualifier)
        current = self.state.event_invoke_configs.get(key)
        if current is not None and _same_event_invoke_config(current, spec):
            return "NoChange"
        if not self.dry_run:
            await client.put_function_event_invoke_config(
                function_name=spec.function_name,
                qualifier=spec.qualifier,
                maximum_retry_attempts=spec.maximum_retry_attempts,
                maximum_event_age_in_seconds=spec.maximum_event_age_in_seconds,
                destination_config=spec.destination_config,
            )

            async def restore() -> None:
                if current is None:
                    await client.delete_function_event_invoke_config(*key)
                else:
                    await client.put_function_event_invoke_config(
                        function_name=spec.function_name,
                        qualifier=spec.qualifier,
                        maximum_retry_attempts=current.get("MaximumRetryAttempts"),
                        maximum_event_age_in_seconds=current.get("MaximumEventAgeInSeconds"),
                        destination_config=current.get("DestinationConfig"),
                    )

            what = "deleted" if current is None else "restored"
            self._on_undo(
                spec.function_name,
                f"{what} the event invoke config of {spec.function_name}:{spec.qualifier}",
                restore,
            )
        return "Add" if current is None else "Modify"


# --- comparing -----------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _desired_configuration(spec: FunctionSpec) -> dict[str, Any]:
    """The whole configuration the template asks for (left-out properties at their defaults)."""
    return {
        "Runtime": spec.runtime,
        "Handler": spec.handler,
        "Role": spec.role,
        "Timeout": spec.timeout or DEFAULT_TIMEOUT,
        "MemorySize": spec.memory_size or DEFAULT_MEMORY,
        "Environment": dict(spec.environment),
        "Description": spec.description,
        "DeadLetterTarget": spec.dead_letter_target,
    }


def _configuration(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Runtime": config.get("Runtime", ""),
        "Handler": config.get("Handler", ""),
        "Role": config.get("Role", ""),
        "Timeout": config.get("Timeout", DEFAULT_TIMEOUT),
        "MemorySize": config.get("MemorySize", DEFAULT_MEMORY),
        "Environment": dict((config.get("Environment") or {}).get("Variables") or {}),
        "Description": config.get("Description", ""),
        "DeadLetterTarget": (config.get("DeadLetterConfig") or {}).get("TargetArn", ""),
    }


def _config_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "runtime": config["Runtime"],
        "handler": config["Handler"],
        "role": config["Role"],
        "timeout": config["Timeout"],
        "memory_size": config["MemorySize"],
        "environment": {"Variables": dict(config["Environment"])},
        "description": config["Description"],
        "dead_letter_config": {"TargetArn": config["DeadLetterTarget"]},
    }


def _alias_kwargs(spec: AliasSpec) -> dict[str, Any]:
    """CreateAlias's and UpdateAlias's arguments: the spec's fields are named after them."""
    return dataclasses.asdict(spec)


def _same_code_and_configuration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("CodeSha256") == b.get("CodeSha256") and _configuration(a) == _configuration(b)


def _same_event_invoke_config(current: Mapping[str, Any], spec: EventInvokeConfigSpec) -> bool:
    destinations = current.get("DestinationConfig") or {}

    def side(name: str) -> str:
        return str((destinations.get(name) or {}).get("Destination") or "")

    return (
        current.get("MaximumRetryAttempts") == spec.maximum_retry_attempts
        and current.get("MaximumEventAgeInSeconds") == spec.maximum_event_age_in_seconds
        and side("OnSuccess") == (spec.on_success or "")
        and side("OnFailure") == (spec.on_failure or "")
    )


def _references(value: Any) -> set[str]:
    from eventinvoke.deploy.template import references

    return references(value)


def _display_value(value: Any) -> Any:
    """An output's value as ``deploy`` prints it: versions not yet published as "<new version>",
    a list joined with commas (as CloudFormation shows a CommaDelimitedList)."""
    if isinstance(value, str):
        return value.replace(PENDING, "<new version>")
    if isinstance(value, list):
        return ",".join(str(_display_value(v)) for v in value)
    return value
