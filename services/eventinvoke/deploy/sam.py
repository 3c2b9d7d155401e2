"""SAM's ``AWS::Serverless::Function`` expanded into the CloudFormation resources SAM generates.

The subset eventinvoke applies: the function itself (with ``Globals``), ``AutoPublishAlias``
(a Version and an Alias, named as SAM names them: ``<Fn>Version``, ``<Fn>Alias<alias>``),
``DeadLetterQueue`` and ``EventInvokeConfig`` (on the alias when there is one). Which SAM
properties exist comes from SAM's schema (``deploy/schemas``); those not applied are warnings.

aws-sam-translator, SAM's own transform, is not used: it needs an AWS region and an S3
``CodeUri``, names versions with a content hash (``WorkerVersion1601884978``) and adds IAM
roles, none of which fits a local deployment whose logical ids the user reads back.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from eventinvoke.deploy.properties import FUNCTION_PROPERTIES, not_applied
from eventinvoke.deploy.specs import (
    ALIAS,
    EVENT_INVOKE_CONFIG,
    FUNCTION,
    SERVERLESS_FUNCTION,
    VERSION,
)

# What becomes part of the generated resources; the rest of SAM's properties are not applied.
APPLIED = frozenset(
    {
        *FUNCTION_PROPERTIES,
        "CodeUri",
        "InlineCode",
        "DeadLetterQueue",
        "EventInvokeConfig",
        "AutoPublishAlias",
        "VersionDescription",
    }
)
_DESTINATION_SERVICES = {
    "SQS": "sqs",
    "SNS": "sns",
    "Lambda": "lambda",
    "EventBridge": "events",
    "S3": "s3",
}


def expand(
    template: dict[str, Any],
    resources: dict[str, Any],
    errors: list[str],
    warnings: list[str],
) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]], dict[str, str]]:
    """CloudFormation resources for the template, SAM functions expanded as SAM does it.

    Returns the resources, each one's DependsOn, and each one's source logical id.
    """
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    ignored = not_applied(SERVERLESS_FUNCTION, APPLIED)
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
        unknown = sorted(set(props) - APPLIED - ignored)
        for prop in unknown:
            errors.append(
                f"Properties validation failed for resource {logical_id} with message:"
                f" Encountered unsupported property {prop}"
            )
        for prop in sorted(set(props) & ignored):
            note = " (no event source is created)" if prop == "Events" else ""
            warnings.append(f"{logical_id}: property {prop} is not applied by eventinvoke{note}")
        function: dict[str, Any] = {key: props[key] for key in FUNCTION_PROPERTIES if key in props}
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
            eic = _event_invoke_config(logical_id, config, errors)
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


def _event_invoke_config(logical_id: str, config: Any, errors: list[str]) -> dict[str, Any] | None:
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
        if kind not in _DESTINATION_SERVICES:
            errors.append(
                f"{where}.Type must be one of {', '.join(_DESTINATION_SERVICES)} (got {kind!r})"
            )
            continue
        if "Destination" not in target:
            errors.append(
                f"{where}.Destination is required: eventinvoke does not create {kind}"
                " resources; give the ARN of an existing one"
            )
            continue
        arn = target["Destination"]
        service = _DESTINATION_SERVICES[kind]
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
