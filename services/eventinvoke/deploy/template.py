"""Reading a CloudFormation / SAM template and resolving its intrinsic functions.

YAML (with CloudFormation's short-form tags: ``!Ref``, ``!GetAtt``, ``!Sub``, ...) or JSON.
Every short-form tag loads as its long form (``{"Fn::Sub": ...}``); which functions resolve is
:class:`Resolver`'s business, so an unsupported one is reported by name instead of a YAML error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
TOP_LEVEL_KEYS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Globals",
        "Resources",
        "Outputs",
    }
)
# Intrinsic functions this resolver evaluates; any other ``Fn::*`` is reported by name.
SUPPORTED_FUNCTIONS = (
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Base64",
)
_KNOWN_FUNCTIONS = frozenset(
    {
        *SUPPORTED_FUNCTIONS,
        "Fn::If",
        "Fn::Equals",
        "Fn::Not",
        "Fn::And",
        "Fn::Or",
        "Fn::ImportValue",
        "Fn::GetAZs",
        "Fn::Cidr",
        "Fn::Transform",
        "Fn::Length",
        "Fn::ToJsonString",
        "Fn::ForEach",
        "Condition",
    }
)


class TemplateError(Exception):
    """A template that cannot be deployed; nothing has been changed.

    ``code`` is CloudFormation's error code for it, so the CLI prints it as the AWS CLI would.
    """

    code = "ValidationError"

    def __init__(self, messages: str | list[str]) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("; ".join(self.messages))


# --- loading -------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form tags."""


def _short_form(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt" and isinstance(value, str):
                # !GetAtt Fn.Arn is ["Fn", "Arn"]; the attribute itself may hold dots.
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag in (
    "GetAtt",
    "Sub",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "Base64",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "ImportValue",
    "GetAZs",
    "Cidr",
    "Transform",
    "Length",
    "ToJsonString",
):
    _Loader.add_constructor(f"!{_tag}", _short_form(f"Fn::{_tag}"))
_Loader.add_constructor("!Ref", _short_form("Ref"))
_Loader.add_constructor("!Condition", _short_form("Condition"))


def _unique_keys(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    # CloudFormation refuses duplicate keys; PyYAML would silently keep the last one.
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_keys)


def parse(text: str) -> dict[str, Any]:
    """A template's text (YAML or JSON) as a mapping; TemplateError when it is neither."""
    try:
        if text.lstrip().startswith("{"):
            document = json.loads(text)
        else:
            document = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if text.lstrip().startswith("{") else "YAML"
        raise TemplateError(f"Template format error: {kind} not well-formed. {exc}") from None
    if not isinstance(document, dict):
        raise TemplateError("Template format error: the template is not a mapping")
    return document


def load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"Unable to read template {path}: {exc}") from None
    return parse(text)


# --- parameters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pseudo:
    """The values of the pseudo parameters: where this deployment lands."""

    region: str
    account: str
    stack_name: str
    partition: str = "aws"

    def values(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:"
                f"stack/{self.stack_name}/eventinvoke"
            ),
            "AWS::NotificationARNs": "",
        }


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``--parameter-overrides Key=Value ...`` (``aws cloudformation deploy``'s form)."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r} is not Key=Value")
        values[key] = value
    return values


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Each declared parameter's value: the override, else its Default (CloudFormation's rules)."""
    declared = template.get("Parameters") or {}
    if not isinstance(declared, dict):
        raise TemplateError("Template format error: Parameters must be a mapping")
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, Any] = {}
    missing: list[str] = []
    errors: list[str] = []
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            missing.append(name)
            continue
        value = str(raw) if not isinstance(raw, list) else ",".join(map(str, raw))
        allowed = spec.get("AllowedValues")
        if isinstance(allowed, list) and value not in [str(a) for a in allowed]:
            errors.append(
                f"Parameter '{name}' must be one of AllowedValues [{', '.join(map(str, allowed))}]"
            )
        kind = str(spec.get("Type", "String"))
        if kind == "Number":
            try:
                float(value)
            except ValueError:
                errors.append(f"Parameter '{name}' must be a number")
        if kind in ("CommaDelimitedList", "List<Number>") or kind.startswith("List<"):
            values[name] = [part.strip() for part in value.split(",")] if value else []
        else:
            values[name] = value
    if missing:
        errors.insert(0, f"Parameters: [{', '.join(missing)}] must have values")
    if errors:
        raise TemplateError(errors)
    return values


# --- resolving -----------------------------------------------------------------------------

# Placeholder for a value only known once the deployment runs (a version number to publish).
PENDING = "\x00pending\x00"

NO_VALUE = object()  # AWS::NoValue: the property is left out


@dataclass
class Resolver:
    """Evaluates intrinsic functions against parameters, pseudo parameters and resources.

    ``refs`` / ``attributes`` give each resource's ``Ref`` value and attributes. A missing
    resource or attribute is an error (recorded in ``errors``) so a template is checked
    whole before anything is applied.
    """

    parameters: Mapping[str, Any]
    pseudo: Mapping[str, str]
    mappings: Mapping[str, Any]
    refs: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item, where) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key,) = value
            if key in _KNOWN_FUNCTIONS:
                return self._function(key, value[key], where)
        resolved = {k: self.resolve(v, f"{where}/{k}") for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def fail(self, message: str) -> str:
        self.errors.append(message)
        return ""

    def _function(self, name: str, arg: Any, where: str) -> Any:
        if name not in SUPPORTED_FUNCTIONS:
            return self.fail(
                f"Template error: {name} at {where} is not supported by eventinvoke deploy"
                f" (supported: {', '.join(SUPPORTED_FUNCTIONS)})"
            )
        if name == "Ref":
            return self.ref(arg, where)
        if name == "Fn::GetAtt":
            return self._get_att(arg, where)
        if name == "Fn::Sub":
            return self._sub(arg, where)
        if name == "Fn::Join":
            if (
                not isinstance(arg, list)
                or len(arg) != 2
                or not isinstance(arg[0], str)
                or not isinstance(self.resolve(arg[1], where), list)
            ):
                return self.fail(f"Template error: Fn::Join at {where} needs [delimiter, [list]]")
            items = self.resolve(arg[1], where)
            return arg[0].join(_text(item) for item in items)
        if name == "Fn::Select":
            if not isinstance(arg, list) or len(arg) != 2:
                return self.fail(f"Template error: Fn::Select at {where} needs [index, list]")
            index, items = self.resolve(arg[0], where), self.resolve(arg[1], where)
            try:
                return items[int(index)]
            except (ValueError, TypeError, IndexError):
                return self.fail(f"Template error: Fn::Select at {where}: index out of bounds")
        if name == "Fn::Split":
            if not isinstance(arg, list) or len(arg) != 2:
                return self.fail(f"Template error: Fn::Split at {where} needs [delimiter, text]")
            return _text(self.resolve(arg[1], where)).split(str(arg[0]))
        if name == "Fn::FindInMap":
            if not isinstance(arg, list) or len(arg) != 3:
                return self.fail(f"Template error: Fn::FindInMap at {where} needs 3 arguments")
            keys = [_text(self.resolve(a, where)) for a in arg]
            try:
                return self.mappings[keys[0]][keys[1]][keys[2]]
            except (KeyError, TypeError):
                return self.fail(
                    f"Template error: Unable to get mapping for {'::'.join(keys)} at {where}"
                )
        # Fn::Base64
        import base64

        return base64.b64encode(_text(self.resolve(arg, where)).encode()).decode()

    def ref(self, target: Any, where: str) -> Any:
        if not isinstance(target, str):
            return self.fail(f"Template error: Ref at {where} must name a string")
        if target == "AWS::NoValue":
            return NO_VALUE
        if target in self.pseudo:
            return self.pseudo[target]
        if target in self.parameters:
            return self.parameters[target]
        if target in self.refs:
            return self.refs[target]
        return self.fail(
            f"Template format error: Unresolved resource dependencies [{target}] in the"
            " Resources block of the template"
        )

    def _get_att(self, arg: Any, where: str) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg)):
            return self.fail(f"Template error: Fn::GetAtt at {where} needs [resource, attribute]")
        return self.get_att(arg[0], arg[1])

    def get_att(self, resource: str, attribute: str) -> Any:
        if resource not in self.attributes:
            return self.fail(
                f"Template error: instance of Fn::GetAtt references undefined resource {resource}"
            )
        if attribute not in self.attributes[resource]:
            return self.fail(
                f"Template error: resource {resource} does not support attribute type"
                f" {attribute} in Fn::GetAtt"
            )
        return self.attributes[resource][attribute]

    def _sub(self, arg: Any, where: str) -> Any:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[0], str) or not isinstance(arg[1], dict):
                return self.fail(f"Template error: Fn::Sub at {where} needs [text, {{vars}}]")
            text = arg[0]
            variables = {k: self.resolve(v, where) for k, v in arg[1].items()}
        elif isinstance(arg, str):
            text = arg
        else:
            return self.fail(f"Template error: Fn::Sub at {where} needs a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                return _text(variables[name])
            if "." in name and name.split(".", 1)[0] in self.attributes:
                resource, attribute = name.split(".", 1)
                return _text(self.get_att(resource, attribute))
            return _text(self.ref(name, where))

        return re.sub(r"\$\{([^}]*)\}", replace, text)


def _text(value: Any) -> str:
    if value is NO_VALUE:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def references(value: Any) -> set[str]:
    """The names a value refers to through Ref, Fn::GetAtt and Fn::Sub (before resolving)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            (key,) = value
            arg = value[key]
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
                return found
            if key == "Fn::GetAtt":
                if isinstance(arg, str):
                    arg = arg.split(".", 1)
                if isinstance(arg, list) and arg and isinstance(arg[0], str):
                    found.add(arg[0])
                return found
            if key == "Fn::Sub":
                text, variables = (arg[0], arg[1]) if isinstance(arg, list) and arg else (arg, {})
                names = set(variables) if isinstance(variables, dict) else set()
                if isinstance(text, str):
                    for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        name = name.strip()
                        if name not in names:
                            found.add(name.split(".", 1)[0])
                found |= references(variables)
                return found
        for item in value.values():
            found |= references(item)
    return found
