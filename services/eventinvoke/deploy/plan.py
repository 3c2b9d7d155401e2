"""From a template to an ordered, fully validated plan; no I/O but reading local code.

``build`` expands SAM functions into the CloudFormation resources SAM itself generates
(``deploy/sam.py``), resolves every intrinsic function, checks every property it can check
locally (``deploy/properties.py``) and orders the resources by their dependencies
(``deploy/order.py``). Any problem raises one :class:`TemplateError` listing them all, before a
single call reaches the server.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventinvoke.deploy import order, sam
from eventinvoke.deploy.properties import check_known, named_function, resource_spec
from eventinvoke.deploy.specs import (
    ALIAS,
    FUNCTION,
    SUPPORTED_TYPES,
    VERSION,
    AliasSpec,
    EventInvokeConfigSpec,
    FunctionSpec,
    Spec,
    Step,
    VersionSpec,
)
from eventinvoke.deploy.template import (
    NO_VALUE,
    PENDING,
    SERVERLESS_TRANSFORM,
    TOP_LEVEL_KEYS,
    Pseudo,
    Resolver,
    TemplateError,
    parameter_values,
)

_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")


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
        spec = resource_spec(step, properties, self.base_dir, errors)
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
    expanded, depends, sources = sam.expand(document, resources, errors, warnings)
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
        function_name = named_function(resolver.resolve(props.get("FunctionName"), where))
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
    for step in plan.steps:
        resolver = plan.resolver()
        properties = resolver.resolve(step.properties, f"/Resources/{step.logical_id}")
        # Unresolvable parts resolve to "" (and are reported); the rest is still checked.
        errors.extend(resolver.errors)
        check_known(step.logical_id, step.type, properties, errors, warnings)
        resolved = resource_spec(step, properties, base_dir, errors)
        if resolved is not None:
            step.spec = resolved
    if errors:
        raise TemplateError(errors)
    _check_destinations(plan, errors)
    _check_outputs(plan, errors)
    if errors:
        raise TemplateError(errors)

    edges = order.dependencies(plan, depends, errors)
    plan.steps = order.in_order(plan.steps, edges, errors)
    if errors:
        raise TemplateError(errors)
    return plan


def _generated_name(stack_name: str, logical_id: str) -> str:
    # CloudFormation appends a random suffix; a deterministic name keeps re-deploys updates.
    name = re.sub(r"[^a-zA-Z0-9-_]", "-", f"{stack_name}-{logical_id}")
    return name[:64]


def _placeholder(name: str) -> FunctionSpec:
    return FunctionSpec(name=name, runtime="", handler="", zip_file=b"")


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


# --- cross-resource checks ----------------------------------------------------------------


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
            if named_function(arn) == spec.function_name:
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
