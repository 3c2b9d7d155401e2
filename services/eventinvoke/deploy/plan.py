"""From a template to an ordered, fully validated plan; no I/O but reading local code.

``build`` expands SAM functions into the CloudFormation resources SAM itself generates, resolves
every intrinsic function, orders the resources by their dependencies (``Ref``, ``Fn::GetAtt``,
``Fn::Sub``, ``DependsOn``, and a function or Lambda destination named by its plain name), and
checks every property it can check locally. Any problem raises one :class:`TemplateError`
listing them all, before a single call reaches the server.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventinvoke.core.arn import parse_function_name
from eventinvoke.core.errors import LambdaError
from eventinvoke.core.packaging import zip_directory, zip_source
from eventinvoke.deploy.template import (
    NO_VALUE,
    PENDING,
    SERVERLESS_TRANSFORM,
    TOP_LEVEL_KEYS,
    Pseudo,
    Resolver,
    TemplateError,
    parameter_values,
    references,
)
from eventinvoke.invoker.event_invoke_configs import DESTINATION_PATTERN, DESTINATION_URI
from eventinvoke.invoker.functions import MAX_MEMORY, MAX_TIMEOUT, MIN_MEMORY, RUNTIMES

FUNCTION = "AWS::Lambda::Function"
VERSION = "AWS::Lambda::Version"
ALIAS = "AWS::Lambda::Alias"
EVENT_INVOKE_CONFIG = "AWS::Lambda::EventInvokeConfig"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SUPPORTED_TYPES = (FUNCTION, VERSION, ALIAS, EVENT_INVOKE_CONFIG, SERVERLESS_FUNCTION)

# Properties applied, and AWS properties accepted but not applied (a warning each). Anything
# else is CloudFormation's "Encountered unsupported property".
_APPLIED = {
    FUNCTION: {
        "Code",
        "FunctionName",
        "Handler",
        "Runtime",
        "Timeout",
        "MemorySize",
        "Environment",
        "Description",
        "Role",
        "DeadLetterConfig",
        "ReservedConcurrentExecutions",
        "PackageType",
    },
    VERSION: {"FunctionName", "Description"},
    ALIAS: {"FunctionName", "FunctionVersion", "Name", "Description"},
    EVENT_INVOKE_CONFIG: {
        "FunctionName",
        "Qualifier",
        "MaximumEventAgeInSeconds",
        "MaximumRetryAttempts",
        "DestinationConfig",
    },
}
_IGNORED = {
    FUNCTION: {
        "Architectures",
        "CodeSigningConfigArn",
        "EphemeralStorage",
        "FileSystemConfigs",
        "ImageConfig",
        "KmsKeyArn",
        "Layers",
        "LoggingConfig",
        "RecursiveLoop",
        "RuntimeManagementConfig",
        "SnapStartConfig",
        "Tags",
        "TracingConfig",
        "VpcConfig",
    },
    VERSION: {"CodeSha256", "ProvisionedConcurrencyConfig", "RuntimePolicy"},
    ALIAS: {"ProvisionedConcurrencyConfig"},
    EVENT_INVOKE_CONFIG: set(),
}
# SAM's AWS::Serverless::Function: what becomes part of the generated resources, and the rest.
_SAM_APPLIED = {
    "CodeUri",
    "InlineCode",
    "Handler",
    "Runtime",
    "Timeout",
    "MemorySize",
    "Environment",
    "Description",
    "Role",
    "FunctionName",
    "DeadLetterQueue",
    "EventInvokeConfig",
    "AutoPublishAlias",
    "VersionDescription",
    "ReservedConcurrentExecutions",
    "PackageType",
}
_SAM_IGNORED = {
    "Architectures",
    "AssumeRolePolicyDocument",
    "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256",
    "CodeSigningConfigArn",
    "DeploymentPreference",
    "EphemeralStorage",
    "Events",
    "FileSystemConfigs",
    "FunctionUrlConfig",
    "KmsKeyArn",
    "Layers",
    "LoggingConfig",
    "Policies",
    "PermissionsBoundary",
    "ProvisionedConcurrencyConfig",
    "RecursiveLoop",
    "RolePath",
    "RuntimeManagementConfig",
    "SnapStart",
    "Tags",
    "Tracing",
    "VpcConfig",
}
_SAM_DESTINATION_SERVICES = {
    "SQS": "sqs",
    "SNS": "sns",
    "Lambda": "lambda",
    "EventBridge": "events",
    "S3": "s3",
}
_ON_SUCCESS_SERVICES = ("sqs", "sns", "lambda", "events")
_ON_FAILURE_SERVICES = (*_ON_SUCCESS_SERVICES, "s3")
_DESTINATION = re.compile(DESTINATION_PATTERN)
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}")
_INLINE_FILE = {"python": "index.py", "nodejs": "index.js"}


# --- what gets applied ---------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    runtime: str
    handler: str
    zip_file: bytes
    role: str = ""
    timeout: int | None = None
    memory_size: int | None = None
    environment: dict[str, str] = field(default_factory=dict)
    description: str = ""
    dead_letter_target: str = ""
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class VersionSpec:
    function_name: str
    description: str = ""


@dataclass(frozen=True)
class AliasSpec:
    function_name: str
    name: str
    function_version: str
    description: str = ""


@dataclass(frozen=True)
class EventInvokeConfigSpec:
    function_name: str
    qualifier: str
    maximum_retry_attempts: int | None = None
    maximum_event_age_in_seconds: int | None = None
    on_success: str | None = None  # None: the side is absent; "" or an ARN: present
    on_failure: str | None = None

    @property
    def destination_config(self) -> dict[str, Any] | None:
        if self.on_success is None and self.on_failure is None:
            return None
        config: dict[str, Any] = {}
        for key, arn in (("OnSuccess", self.on_success), ("OnFailure", self.on_failure)):
            if arn is not None:
                config[key] = {"Destination": arn} if arn else {}
        return config


Spec = FunctionSpec | VersionSpec | AliasSpec | EventInvokeConfigSpec


@dataclass
class Step:
    """One CloudFormation resource to apply (a SAM function becomes several)."""

    logical_id: str
    type: str
    properties: dict[str, Any]  # as written (after SAM expansion), intrinsics unresolved
    spec: Spec  # resolved at plan time; versions still PENDING
    source: str  # the template resource it comes from (a SAM function's logical id)


@dataclass
class Plan:
    stack_name: str
    pseudo: Pseudo
    steps: list[Step]
    parameters: dict[str, Any]
    mappings: dict[str, Any]
    outputs: dict[str, Any]
    base_dir: Path
    warnings: list[str] = field(default_factory=list)

    def resolver(self, versions: Mapping[str, str] | None = None) -> Resolver:
        """A resolver over every resource; ``versions`` maps a Version's id to its number."""
        versions = versions or {}
        refs: dict[str, Any] = {}
        attributes: dict[str, dict[str, Any]] = {}
        for step in self.steps:
            spec = step.spec
            if isinstance(spec, FunctionSpec):
                arn = self.function_arn(spec.name)
                refs[step.logical_id] = spec.name
                attributes[step.logical_id] = {"Arn": arn}
            elif isinstance(spec, VersionSpec):
                number = versions.get(step.logical_id, PENDING)
                arn = self.function_arn(spec.function_name, number)
                refs[step.logical_id] = arn
                attributes[step.logical_id] = {"Version": number, "FunctionArn": arn}
            elif isinstance(spec, AliasSpec):
                arn = self.function_arn(spec.function_name, spec.name)
                refs[step.logical_id] = arn
                attributes[step.logical_id] = {"AliasArn": arn}
            else:
                refs[step.logical_id] = self.function_arn(spec.function_name, spec.qualifier)
                attributes[step.logical_id] = {}
        return Resolver(
            self.parameters, self.pseudo.values(), self.mappings, refs=refs, attributes=attributes
        )

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        p = self.pseudo
        arn = f"arn:{p.partition}:lambda:{p.region}:{p.account}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def ours(self, arn: str) -> bool:
        """Whether a Lambda ARN names a function of this installation."""
        parts = arn.split(":")
        return (
            len(parts) > 4
            and parts[3] in ("", self.pseudo.region)
            and parts[4]
            in (
                "",
                self.pseudo.account,
            )
        )

    def function_names(self) -> dict[str, str]:
        """Physical function name -> logical id, for the functions this template defines."""
        return {s.spec.name: s.logical_id for s in self.steps if isinstance(s.spec, FunctionSpec)}

    def respec(self, step: Step, versions: Mapping[str, str]) -> Spec:
        """The step's spec with the version numbers published so far filled in."""
        resolver = self.resolver(versions)
        properties = resolver.resolve(step.properties, f"/Resources/{step.logical_id}")
        errors: list[str] = [*resolver.errors]
        spec = _spec(step, properties, self.base_dir, errors)
        if errors or spec is None:
            raise TemplateError(errors or [f"Resource {step.logical_id} could not be resolved"])
        return spec


# --- building ------------------------------------------------------------------------------


def build(
    template: Mapping[str, Any],
    *,
    stack_name: str,
    region: str,
    account: str,
    base_dir: Path,
    overrides: Mapping[str, str] | None = None,
) -> Plan:
    """Expand, resolve, order and validate; TemplateError lists everything that is wrong."""
    document: dict[str, Any] = copy.deepcopy(dict(template))
    template = document
    errors: list[str] = []
    warnings: list[str] = []
    unknown_sections = sorted(set(template) - TOP_LEVEL_KEYS)
    if unknown_sections:
        errors.append(
            f"Template format error: Invalid template property or properties"
            f" [{', '.join(unknown_sections)}]"
        )
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(
            [*errors, "Template format error: At least one Resources member must be defined."]
        )
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            errors.append(
                f"Template format error: [/Resources/{logical_id}] Every Resources object must"
                " contain a Type member."
            )
        elif not re.fullmatch(r"[A-Za-z0-9]+", str(logical_id)):
            errors.append(f"Template format error: Resource name {logical_id} is non alphanumeric.")
    if errors:
        raise TemplateError(errors)

    unsupported = sorted(
        {r["Type"] for r in resources.values() if r["Type"] not in SUPPORTED_TYPES}
    )
    if unsupported:
        raise TemplateError(
            f"Template format error: Unrecognized resource types: [{', '.join(unsupported)}]"
        )
    transforms = template.get("Transform") or []
    transforms = [transforms] if isinstance(transforms, str) else transforms
    other_transforms = [t for t in transforms if t != SERVERLESS_TRANSFORM]
    if other_transforms:
        raise TemplateError(
            f"Template format error: Unsupported transform(s): {other_transforms}"
            f" (only {SERVERLESS_TRANSFORM} is supported)"
        )
    sam_types = sorted(
        {r["Type"] for r in resources.values() if r["Type"].startswith("AWS::Serverless::")}
    )
    if sam_types and SERVERLESS_TRANSFORM not in transforms:
        raise TemplateError(
            f"Template format error: Unrecognized resource types: [{', '.join(sam_types)}]"
            f" (add 'Transform: {SERVERLESS_TRANSFORM}' to deploy SAM resources)"
        )
    for logical_id, resource in resources.items():
        extra = sorted(
            set(resource)
            - {
                "Type",
                "Properties",
                "DependsOn",
                "Metadata",
                "DeletionPolicy",
                "UpdateReplacePolicy",
            }
        )
        if extra:
            errors.append(
                f"Template format error: Resource {logical_id} uses {', '.join(extra)},"
                " which eventinvoke deploy does not support"
            )
        properties = resource.get("Properties", {})
        if properties is None:
            resource["Properties"] = {}
        elif not isinstance(properties, dict):
            errors.append(
                f"Template format error: [/Resources/{logical_id}/Properties] must be a mapping"
            )
        errors.extend(_typographic_quotes(logical_id, resource.get("Properties") or {}))
    if errors:
        raise TemplateError(errors)

    parameters = parameter_values(template, overrides or {})
    mappings = template.get("Mappings") or {}
    pseudo = Pseudo(region=region, account=account, stack_name=stack_name)

    # SAM first: each AWS::Serverless::Function becomes the resources SAM would generate.
    expanded, depends, sources = _expand_sam(document, resources, errors, warnings)
    if errors:
        raise TemplateError(errors)

    # Function names come first: every other resource's Ref / ARN is built from them.
    name_resolver = Resolver(parameters, pseudo.values(), mappings)
    steps: list[Step] = []
    names: dict[str, str] = {}
    for logical_id, resource in expanded.items():
        if resource["Type"] != FUNCTION:
            continue
        given = resource["Properties"].get("FunctionName")
        name = name_resolver.resolve(given, f"/Resources/{logical_id}/Properties/FunctionName")
        if given is None or name is NO_VALUE:
            name = _generated_name(stack_name, sources[logical_id])
        if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
            errors.append(
                f"Properties validation failed for resource {logical_id} with message:"
                f" #/FunctionName: {name!r} must match [a-zA-Z0-9-_]{{1,64}}"
            )
            continue
        if name in names:
            errors.append(
                f"Resources {names[name]} and {logical_id} both define the function {name}"
            )
        names[name] = logical_id
        steps.append(
            Step(
                logical_id,
                FUNCTION,
                resource["Properties"],
                _placeholder(name),
                sources[logical_id],
            )
        )
    errors.extend(name_resolver.errors)
    if errors:
        raise TemplateError(errors)

    plan = Plan(
        stack_name=stack_name,
        pseudo=pseudo,
        steps=steps,
        parameters=parameters,
        mappings=mappings,
        outputs=template.get("Outputs") or {},
        base_dir=base_dir,
        warnings=warnings,
    )
    # The other resources' identities (function + version / alias name / qualifier), resolved
    # against the functions, so Refs between them can be answered.
    for logical_id, resource in expanded.items():
        kind = resource["Type"]
        if kind == FUNCTION:
            continue
        resolver = plan.resolver()
        props = resource["Properties"]
        where = f"/Resources/{logical_id}/Properties"
        function_name = _function_name(resolver.resolve(props.get("FunctionName"), where))
        if resolver.errors:
            errors.extend(resolver.errors)
            continue
        if function_name is None:
            errors.append(
                f"Properties validation failed for resource {logical_id} with message:"
                " #: required key [FunctionName] not found or not a function name"
            )
            continue
        if kind == VERSION:
            spec: Spec = VersionSpec(function_name)
        elif kind == ALIAS:
            alias = resolver.resolve(props.get("Name"), where)
            spec = AliasSpec(function_name, alias if isinstance(alias, str) else "", PENDING)
        else:
            qualifier = resolver.resolve(props.get("Qualifier", "$LATEST"), where)
            spec = EventInvokeConfigSpec(function_name, str(qualifier))
        errors.extend(resolver.errors)
        plan.steps.append(Step(logical_id, kind, props, spec, sources[logical_id]))
    if errors:
        raise TemplateError(errors)

    # Everything resolved for real, then checked.
    by_id = {step.logical_id: step for step in plan.steps}
    for step in plan.steps:
        resolver = plan.resolver()
        properties = resolver.resolve(step.properties, f"/Resources/{step.logical_id}")
        # Unresolvable parts resolve to "" (and are reported); the rest is still checked.
        errors.extend(resolver.errors)
        unknown = sorted(set(properties) - _APPLIED[step.type] - _IGNORED[step.type])
        for prop in unknown:
            errors.append(
                f"Properties validation failed for resource {step.logical_id} with message:"
                f" #: extraneous key [{prop}] is not permitted (Encountered unsupported property"
                f" {prop})"
            )
        for prop in sorted(set(properties) & _IGNORED[step.type]):
            warnings.append(f"{step.logical_id}: property {prop} is not applied by eventinvoke")
        resolved = _spec(step, properties, base_dir, errors)
        if resolved is not None:
            step.spec = resolved
    if errors:
        raise TemplateError(errors)
    _check_destinations(plan, errors)
    _check_outputs(plan, errors)
    if errors:
        raise TemplateError(errors)

    plan.steps = _order(plan, by_id, depends, errors)
    if errors:
        raise TemplateError(errors)
    return plan


def _generated_name(stack_name: str, logical_id: str) -> str:
    # CloudFormation appends a random suffix; a deterministic name keeps re-deploys updates.
    name = re.sub(r"[^a-zA-Z0-9-_]", "-", f"{stack_name}-{logical_id}")
    return name[:64]


def _placeholder(name: str) -> FunctionSpec:
    return FunctionSpec(name=name, runtime="", handler="", zip_file=b"")


def _function_name(value: Any) -> str | None:
    """The function a FunctionName property names (a name, ARN or partial ARN; no qualifier)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_function_name(value).name
    except LambdaError:
        return None


def _typographic_quotes(logical_id: str, value: Any, path: str = "") -> list[str]:
    """Values pasted from a web page with “ ” kept: YAML takes the quotes as part of the text."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _typographic_quotes(logical_id, item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _typographic_quotes(logical_id, item, f"{path}/{index}")
    elif isinstance(value, str) and (value[:1] in "“”‘’" and value[-1:] in "“”‘’") and value:
        found.append(
            f"Resource {logical_id} property {path.lstrip('/')}: the value {value} is wrapped in"
            ' typographic quotes; use straight quotes ("...")'
        )
    return found


# --- SAM -----------------------------------------------------------------------------------


def _expand_sam(
    template: dict[str, Any],
    resources: dict[str, Any],
    errors: list[str],
    warnings: list[str],
) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]], dict[str, str]]:
    """CloudFormation resources for the template, SAM functions expanded as SAM does it.

    Returns the resources, each one's DependsOn, and each one's source logical id.
    """
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    expanded: dict[str, dict[str, Any]] = {}
    depends: dict[str, set[str]] = {}
    sources: dict[str, str] = {}
    renames: dict[str, str] = {}  # "Fn.Alias" -> "FnAliaslive", "Fn.Version" -> "FnVersion"

    def add(
        logical_id: str, kind: str, props: dict[str, Any], source: str, after: set[str]
    ) -> None:
        if logical_id in expanded or (logical_id != source and logical_id in resources):
            errors.append(
                f"Template format error: resource {logical_id} generated for {source}"
                " clashes with another resource"
            )
        expanded[logical_id] = {"Type": kind, "Properties": props}
        depends[logical_id] = after
        sources[logical_id] = source

    for logical_id, resource in resources.items():
        after = resource.get("DependsOn") or []
        after = {after} if isinstance(after, str) else set(after)
        props = dict(resource.get("Properties") or {})
        if resource["Type"] != SERVERLESS_FUNCTION:
            add(logical_id, resource["Type"], props, logical_id, after)
            continue
        props = _with_globals(globals_, props)
        unknown = sorted(set(props) - _SAM_APPLIED - _SAM_IGNORED)
        for prop in unknown:
            errors.append(
                f"Properties validation failed for resource {logical_id} with message:"
                f" Encountered unsupported property {prop}"
            )
        for prop in sorted(set(props) & _SAM_IGNORED):
            note = " (no event source is created)" if prop == "Events" else ""
            warnings.append(f"{logical_id}: property {prop} is not applied by eventinvoke{note}")
        function: dict[str, Any] = {
            key: props[key]
            for key in (
                "FunctionName",
                "Handler",
                "Runtime",
                "Timeout",
                "MemorySize",
                "Environment",
                "Description",
                "Role",
                "ReservedConcurrentExecutions",
                "PackageType",
            )
            if key in props
        }
        if ("CodeUri" in props) == ("InlineCode" in props):
            errors.append(
                f"Resource {logical_id}: give exactly one of CodeUri (a local directory or .zip)"
                " and InlineCode"
            )
        elif "CodeUri" in props:
            function["Code"] = props["CodeUri"]
        else:
            function["Code"] = {"ZipFile": props["InlineCode"]}
        dlq = props.get("DeadLetterQueue")
        if dlq is not None:
            if (
                not isinstance(dlq, dict)
                or dlq.get("Type") not in ("SQS", "SNS")
                or "TargetArn" not in dlq
            ):
                errors.append(
                    f"Resource {logical_id}: DeadLetterQueue needs Type (SQS or SNS) and TargetArn"
                )
            else:
                function["DeadLetterConfig"] = {"TargetArn": dlq["TargetArn"]}
                if isinstance(dlq["TargetArn"], str) and dlq["TargetArn"].split(":")[2:3] != [
                    dlq["Type"].lower()
                ]:
                    errors.append(
                        f"Resource {logical_id}: DeadLetterQueue Type {dlq['Type']} does not"
                        f" match TargetArn {dlq['TargetArn']}"
                    )
        add(logical_id, FUNCTION, function, logical_id, after)

        alias = props.get("AutoPublishAlias")
        qualifier: Any = "$LATEST"
        eic_after: set[str] = set()
        if alias is not None:
            version_id = f"{logical_id}Version"
            alias_id = (
                f"{logical_id}Alias{alias}" if isinstance(alias, str) else f"{logical_id}Alias"
            )
            version_props: dict[str, Any] = {"FunctionName": {"Ref": logical_id}}
            if "VersionDescription" in props:
                version_props["Description"] = props["VersionDescription"]
            add(version_id, VERSION, version_props, logical_id, set())
            add(
                alias_id,
                ALIAS,
                {
                    "FunctionName": {"Ref": logical_id},
                    "FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]},
                    "Name": alias,
                },
                logical_id,
                set(),
            )
            renames[f"{logical_id}.Alias"] = alias_id
            renames[f"{logical_id}.Version"] = version_id
            qualifier = alias
            eic_after = {alias_id}
        config = props.get("EventInvokeConfig")
        if config is not None:
            eic = _sam_event_invoke_config(logical_id, config, errors)
            if eic is not None:
                eic["FunctionName"] = {"Ref": logical_id}
                eic["Qualifier"] = qualifier
                add(
                    f"{logical_id}EventInvokeConfig",
                    EVENT_INVOKE_CONFIG,
                    eic,
                    logical_id,
                    eic_after,
                )
    if renames:
        for resource in expanded.values():
            resource["Properties"] = _rename_refs(resource["Properties"], renames)
        template["Outputs"] = _rename_refs(template.get("Outputs") or {}, renames)
    return expanded, depends, sources


def _with_globals(globals_: Mapping[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    merged = {**copy.deepcopy(dict(globals_)), **props}
    env_global = (globals_.get("Environment") or {}).get("Variables")
    env_own = (
        (props.get("Environment") or {}).get("Variables")
        if isinstance(props.get("Environment"), dict)
        else None
    )
    if isinstance(env_global, dict) and isinstance(env_own, dict):
        merged["Environment"] = {"Variables": {**env_global, **env_own}}
    return merged


def _sam_event_invoke_config(
    logical_id: str, config: Any, errors: list[str]
) -> dict[str, Any] | None:
    """SAM's EventInvokeConfig as AWS::Lambda::EventInvokeConfig properties (``Type`` dropped)."""
    if not isinstance(config, dict):
        errors.append(f"Resource {logical_id}: EventInvokeConfig must be a mapping")
        return None
    unknown = sorted(
        set(config) - {"MaximumEventAgeInSeconds", "MaximumRetryAttempts", "DestinationConfig"}
    )
    if unknown:
        errors.append(f"Resource {logical_id}: EventInvokeConfig has unsupported {unknown}")
    result = {k: v for k, v in config.items() if k != "DestinationConfig"}
    destinations = config.get("DestinationConfig")
    if destinations is None:
        return result
    if not isinstance(destinations, dict):
        errors.append(
            f"Resource {logical_id}: EventInvokeConfig.DestinationConfig must be a mapping"
        )
        return None
    result["DestinationConfig"] = {}
    for side in ("OnSuccess", "OnFailure"):
        if side not in destinations:
            continue
        target = destinations[side]
        where = f"Resource {logical_id}: EventInvokeConfig.DestinationConfig.{side}"
        if not isinstance(target, dict):
            errors.append(f"{where} must be a mapping")
            continue
        kind = target.get("Type")
        if kind not in _SAM_DESTINATION_SERVICES:
            errors.append(
                f"{where}.Type must be one of {', '.join(_SAM_DESTINATION_SERVICES)} (got {kind!r})"
            )
            continue
        if "Destination" not in target:
            errors.append(
                f"{where}.Destination is required: eventinvoke does not create {kind}"
                " resources; give the ARN of an existing one"
            )
            continue
        arn = target["Destination"]
        service = _SAM_DESTINATION_SERVICES[kind]
        if isinstance(arn, str) and arn.split(":")[2:3] != [service]:
            errors.append(f"{where}.Type {kind} does not match Destination {arn}")
        result["DestinationConfig"][side] = {"Destination": arn}
    return result


def _rename_refs(value: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(value, list):
        return [_rename_refs(v, renames) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("Ref"), str) and value["Ref"] in renames:
            return {"Ref": renames[value["Ref"]]}
        if len(value) == 1 and "Fn::Sub" in value:
            arg = value["Fn::Sub"]
            text = arg[0] if isinstance(arg, list) and arg else arg
            if isinstance(text, str):
                for old, new in renames.items():
                    text = text.replace("${" + old + "}", "${" + new + "}")
                arg = [text, *arg[1:]] if isinstance(arg, list) else text
            return {"Fn::Sub": _rename_refs(arg, renames)}
        return {k: _rename_refs(v, renames) for k, v in value.items()}
    return value


# --- per-resource specs --------------------------------------------------------------------


def _spec(step: Step, props: Mapping[str, Any], base_dir: Path, errors: list[str]) -> Spec | None:
    """The resolved properties of a step as what to apply; problems go to ``errors``."""
    check = _Check(step.logical_id, errors)
    kind = step.type
    if isinstance(step.spec, FunctionSpec):
        # The physical name was settled when the plan was built (FunctionName or generated).
        return _function_spec(step.spec.name, props, base_dir, check)
    function_name = _function_name(props.get("FunctionName"))
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


# --- cross-resource checks and ordering ----------------------------------------------------


def _check_destinations(plan: Plan, errors: list[str]) -> None:
    """Lambda destinations: not the function itself. (Whether one outside this template exists
    is asked of the server by ``apply.preflight``.)"""
    for step in plan.steps:
        spec = step.spec
        if not isinstance(spec, EventInvokeConfigSpec):
            continue
        for arn in (spec.on_success, spec.on_failure):
            if not arn or arn.split(":")[2:3] != ["lambda"] or not plan.ours(arn):
                continue
            if _function_name(arn) == spec.function_name:
                errors.append(
                    f"Resource {step.logical_id}: You can't specify the function as a"
                    " destination for itself."
                )


def _check_outputs(plan: Plan, errors: list[str]) -> None:
    if not isinstance(plan.outputs, dict):
        errors.append("Template format error: Outputs must be a mapping")
        return
    resolver = plan.resolver()
    for key, output in plan.outputs.items():
        if not isinstance(output, dict) or "Value" not in output:
            errors.append(f"Template format error: Output {key} is malformed (no Value)")
            continue
        resolver.resolve(output["Value"], f"/Outputs/{key}/Value")
    errors.extend(resolver.errors)


def _order(
    plan: Plan, by_id: dict[str, Step], depends: dict[str, set[str]], errors: list[str]
) -> list[Step]:
    """The steps in dependency order (template order among independent ones)."""
    names = plan.function_names()
    aliases = {
        (s.spec.function_name, s.spec.name): s.logical_id
        for s in plan.steps
        if isinstance(s.spec, AliasSpec)
    }
    edges: dict[str, set[str]] = {}
    for step in plan.steps:
        needs = set(depends.get(step.logical_id, set())) | references(step.properties)
        missing = sorted(n for n in depends.get(step.logical_id, set()) if n not in by_id)
        if missing:
            errors.append(
                f"Template format error: Unresolved resource dependencies [{', '.join(missing)}]"
                " in the Resources block of the template"
            )
        spec = step.spec
        # A function or a destination named by its plain name or ARN, not by Ref.
        if not isinstance(spec, FunctionSpec) and spec.function_name in names:
            needs.add(names[spec.function_name])
        if isinstance(spec, EventInvokeConfigSpec):
            if (spec.function_name, spec.qualifier) in aliases:
                needs.add(aliases[(spec.function_name, spec.qualifier)])
            for arn in (spec.on_success, spec.on_failure):
                if arn and arn.split(":")[2:3] == ["lambda"] and plan.ours(arn):
                    target = _function_name(arn)
                    if target in names:
                        needs.add(names[target])
        edges[step.logical_id] = {n for n in needs if n in by_id and n != step.logical_id}
    ordered: list[Step] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(logical_id: str, trail: list[str]) -> None:
        if state.get(logical_id) == 2:
            return
        if state.get(logical_id) == 1:
            cycle = trail[trail.index(logical_id) :]
            errors.append(
                "Template format error: Circular dependency between resources:"
                f" [{', '.join(sorted(cycle))}]"
            )
            return
        state[logical_id] = 1
        for need in sorted(edges[logical_id], key=list(by_id).index):
            visit(need, [*trail, logical_id])
        state[logical_id] = 2
        ordered.append(by_id[logical_id])

    for step in plan.steps:
        visit(step.logical_id, [])
    return ordered
