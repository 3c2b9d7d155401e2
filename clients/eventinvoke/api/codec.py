"""Protobuf messages and AWS-shaped dicts, converted generically, one message type at a time.

A proto field carries the AWS member whose name in snake case is the field's name
(``MaximumRetryAttempts`` is ``maximum_retry_attempts``); ``FIELD_PATHS`` names the few fields
that flatten a member path instead (``zip_file`` is ``Code.ZipFile``). Enums are named
``<ENUM>_<VALUE>`` in the proto and ``Value`` (``DryRun``) in AWS's JSON.

Presence, AWS's way: an ``optional`` or message field is present when set; a plain scalar when
it is not its zero value (proto3 cannot tell "" from unset), unless its shape lists the member
under ``x-always`` (AWS always shows it); a map when not empty; a list always. A member the
model knows but the proto does not carry is refused with a clear error, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from eventinvoke.api import records
from eventinvoke.api.model import Model, lambda_model

# proto message -> {field: the AWS member path it carries}, where not the field's own name.
FIELD_PATHS: dict[str, dict[str, str]] = {
    "CreateFunctionRequest": {
        "zip_file": "Code.ZipFile",
        "environment": "Environment.Variables",
        "dead_letter_target_arn": "DeadLetterConfig.TargetArn",
    },
    "UpdateFunctionConfigurationRequest": {"dead_letter_target_arn": "DeadLetterConfig.TargetArn"},
    "FunctionConfiguration": {
        "environment": "Environment.Variables",
        "dead_letter_target_arn": "DeadLetterConfig.TargetArn",
    },
    "GetFunctionResponse": {
        "reserved_concurrent_executions": "Concurrency.ReservedConcurrentExecutions"
    },
    "GetFunctionLogsRequest": {"cursor": "NextToken"},
    "GetFunctionLogsResponse": {"next_cursor": "NextToken"},
}

# Shapes the model marks ``x-convert``: read by a function of their own (one way: answers).
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "execution-record": records.execution_record_to_dict,
}


class ConversionError(ValueError):
    """A value that cannot be converted (wrong type, unknown or unsupported member), in
    botocore's words; the client raises it as ``ParamValidationError``."""


@cache  # a handful of names, each converted on every call otherwise
def snake(name: str) -> str:
    """botocore's ``xform_name`` for the names Lambda's model uses: ``CodeSha256`` ->
    ``code_sha256``, ``MaximumEventAgeInSeconds`` -> ``maximum_event_age_in_seconds``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced).lower()


def enum_name(field: FieldDescriptor, number: int) -> str:
    """``INVOCATION_TYPE_DRY_RUN`` -> ``DryRun`` (``""`` for the unspecified zero; a number
    this build does not know stays a number, for the validation to refuse)."""
    assert field.enum_type is not None
    if number == 0:
        return ""
    return _enum_names(field.enum_type).get(number, str(number))


@cache
def _enum_names(enum: EnumDescriptor) -> dict[int, str]:
    prefix = snake(enum.name).upper() + "_"
    return {
        value.number: "".join(w.capitalize() for w in value.name.removeprefix(prefix).split("_"))
        for value in enum.values
        if value.number
    }


@cache
def _enum_numbers(enum: EnumDescriptor) -> dict[str, int]:
    return {name: number for number, name in _enum_names(enum).items()}


@dataclass(frozen=True)
class _Slot:
    """A member of a shape, and the proto field that carries it (``rest``: the member path
    below it, for a flattened field)."""

    member: str
    field: FieldDescriptor
    rest: tuple[str, ...]


@cache
def _slots(descriptor: Descriptor, shape: str) -> tuple[_Slot, ...]:
    model = lambda_model()
    members = model.shape(shape).get("members", {})
    by_member: dict[str, _Slot] = {}
    paths = FIELD_PATHS.get(descriptor.name, {})
    for field in descriptor.fields:
        path = paths.get(field.name)
        if path is not None:
            first, *rest = path.split(".")
            by_member[first] = _Slot(first, field, tuple(rest))
            continue
        for member in members:
            if snake(member) == field.name:
                by_member[member] = _Slot(member, field, ())
    order = model.shape(shape).get("x-order", list(members))
    return tuple(by_member[m] for m in order if m in by_member)


@cache
def _slots_by_member(descriptor: Descriptor, shape: str) -> dict[str, _Slot]:
    return {slot.member: slot for slot in _slots(descriptor, shape)}


@cache
def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def to_dict(message: Message, shape: str, model: Model | None = None) -> dict[str, Any]:
    """The AWS-shaped dict of ``message`` as shape ``shape``."""
    model = model or lambda_model()
    result: dict[str, Any] = {}
    outputs, always_empty = _outputs(message.DESCRIPTOR, shape, model)
    for member, name, rest, has_field, truthy, convert in outputs:
        if has_field and not message.HasField(name):
            continue
        value = getattr(message, name)
        if truthy and not value:
            continue
        if convert is not None:
            value = convert(value)
        for key in reversed(rest):  # a flattened member: nest it back
            value = {key: value}
        result[member] = value
    for member in always_empty:  # and these even where the proto has no field for them
        if member not in result:
            result[member] = {}
    return result


def reader(descriptor: Descriptor, shape: str, member: str) -> Callable[[Message], Any]:
    """Reads one member of a message as shape ``shape``: as ``to_dict`` would hold it, None
    where it would leave the member out. A check of each member needs no dict of them all."""
    outputs, always_empty = _outputs(descriptor, shape, lambda_model())
    found = [output for output in outputs if output[0] == member]
    if not found:
        return (lambda message: {}) if member in always_empty else (lambda message: None)
    _, name, rest, has_field, truthy, convert = found[0]
    if truthy and not (has_field or rest):  # a plain scalar, the usual member: the short way
        if convert is None:
            return lambda message: getattr(message, name) or None
        return lambda message: convert(value) if (value := getattr(message, name)) else None

    # to_dict's steps for one slot. to_dict keeps them inline: built from readers like this
    # one, a call per member, it took a fifth longer (0.78 -> 0.93 us for Invoke's answer).
    def read(message: Message) -> Any:
        if has_field and not message.HasField(name):
            return None
        value = getattr(message, name)
        if truthy and not value:
            return None
        if convert is not None:
            value = convert(value)
        for key in reversed(rest):  # a flattened member: nest it back
            value = {key: value}
        return value

    return read


# How to_dict reads one slot: (member, field name, member path below it, present only when
# HasField, present only when truthy, conversion of the field's value or None).
_Output = tuple[str, str, tuple[str, ...], bool, bool, "Callable[[Any], Any] | None"]


@cache
def _outputs(
    descriptor: Descriptor, shape: str, model: Model
) -> tuple[tuple[_Output, ...], tuple[str, ...]]:
    """What ``to_dict`` walks for a message and shape, worked out once: how to read each slot,
    and the members shown as ``{}`` even without a field."""
    members = model.shape(shape).get("members", {})
    always = model.shape(shape).get("x-always", ())
    outputs = []
    for slot in _slots(descriptor, shape):
        field, shown = slot.field, slot.member in always
        # Presence, as the module's docstring says: a map when not empty, a list always, an
        # optional or message field when set, a plain scalar when not its zero value.
        is_map, repeated = _is_map(field), field.is_repeated
        has_field = not (shown or is_map or repeated) and field.has_presence
        truthy = is_map or not (shown or repeated or field.has_presence)
        convert = _reader(field, members[slot.member]["shape"], model)
        outputs.append((slot.member, field.name, slot.rest, has_field, truthy, convert))
    return tuple(outputs), tuple(member for member in always if member in members)


def _reader(field: FieldDescriptor, shape: str, model: Model) -> Callable[[Any], Any] | None:
    """How a field's value becomes the AWS member's (None: as it is)."""
    if _is_map(field):
        return lambda value: dict(sorted(value.items()))
    if field.is_repeated:
        if field.message_type is not None:
            item_shape = _inner(model, shape, "member")
            return lambda value: [to_dict(item, item_shape, model) for item in value]
        return list
    if field.message_type is not None:
        convert = model.shape(shape).get("x-convert")
        if convert is not None:
            return CONVERTERS[convert]
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return records.iso_milliseconds
        return lambda value: to_dict(value, shape, model)
    if field.enum_type is not None:
        names = _enum_names(field.enum_type)  # enum_name's, looked up once
        return lambda value: names.get(value, str(value)) if value else ""
    return None


def _inner(model: Model, shape: str, part: str) -> str:
    """A list's member shape (or a map's key or value shape)."""
    return str(model.shape(shape)[part]["shape"])


def from_dict(
    params: Mapping[str, Any],
    message: Message,
    shape: str,
    where: str = "",
    model: Model | None = None,
    *,
    omit_none: bool = False,
) -> Message:
    """Fill ``message`` from AWS-shaped ``params`` of shape ``shape``: only what is given.
    ``omit_none``: a member whose value is None was not given (a client method's keyword
    argument left out), at the top level only."""
    model = model or lambda_model()
    # A dict, nearly always: its exact type is checked first (isinstance of an ABC is slower).
    if type(params) is not dict and not isinstance(params, Mapping):
        raise _type_error(where.rstrip(".") or shape, params, dict)
    writers = _writers(message.DESCRIPTOR, shape, model)
    for key, value in params.items():
        if value is None and omit_none:
            continue
        write = writers.get(key)
        if write is None:
            members = model.shape(shape).get("members", {})
            raise ConversionError(
                f'Unknown parameter in {where.rstrip(".") or "input"}: "{key}", must be one '
                f"of: {', '.join(members)}"
            )
        write(message, value, f"{where}{key}" if where else key)
    return message


# Writes one member's value into a message (the member's full name, for errors).
_Writer = Callable[[Message, Any, str], None]


@cache
def _writers(descriptor: Descriptor, shape: str, model: Model) -> dict[str, _Writer]:
    """How ``from_dict`` writes each member of a shape into a message, worked out once."""
    members = model.shape(shape).get("members", {})
    slots = _slots_by_member(descriptor, shape)
    writers: dict[str, _Writer] = {}
    for member, spec in members.items():
        slot = slots.get(member)
        if slot is None:
            writers[member] = _unsupported
        elif slot.rest:
            writers[member] = _flattened(slot, spec["shape"], model)
        elif (
            _is_map(slot.field)
            or slot.field.is_repeated
            or slot.field.message_type
            or model.shape(spec["shape"])["type"] == "structure"
        ):
            writers[member] = _composite(slot.field, spec["shape"], model)
        else:
            writers[member] = _scalar_writer(slot.field, spec["shape"], model)
    return writers


def _unsupported(message: Message, value: Any, name: str) -> None:
    raise ConversionError(f"Parameter {name} is not supported by eventinvoke")


def _flattened(slot: _Slot, shape: str, model: Model) -> _Writer:
    """A member whose leaf the proto carries (``Code.ZipFile`` as ``zip_file``)."""

    def write(message: Message, value: Any, name: str) -> None:
        member_shape = shape
        for part in slot.rest:  # walk down to the leaf the field carries
            nested = model.shape(member_shape).get("members", {})
            if not isinstance(value, Mapping):
                raise _type_error(name, value, dict)
            extra = [k for k in value if k != part]
            if extra:
                if extra[0] in nested:
                    raise ConversionError(
                        f"Parameter {name}.{extra[0]} is not supported by eventinvoke"
                    )
                raise ConversionError(
                    f'Unknown parameter in {name}: "{extra[0]}", must be one of: '
                    f"{', '.join(nested)}"
                )
            if part not in value:
                return
            member_shape, value, name = nested[part]["shape"], value[part], f"{name}.{part}"
        _value_in(message, slot.field, value, member_shape, name, model)

    return write


def _composite(field: FieldDescriptor, shape: str, model: Model) -> _Writer:
    return lambda message, value, name: _value_in(message, field, value, shape, name, model)


def _scalar_writer(field: FieldDescriptor, shape: str, model: Model) -> _Writer:
    read = _scalar(field, shape, model)
    field_name = field.name

    def write(message: Message, value: Any, name: str) -> None:
        setattr(message, field_name, read(value, name))

    return write


def _value_in(
    message: Message, field: FieldDescriptor, value: Any, shape: str, name: str, model: Model
) -> None:
    kind = model.shape(shape)["type"]
    if _is_map(field):
        if not isinstance(value, Mapping):
            raise _type_error(name, value, dict)
        for key, item in value.items():
            if not isinstance(item, str):
                raise _type_error(f"{name}.{key}", item, str)
        getattr(message, field.name).update(value)
        return
    if field.is_repeated:
        if not isinstance(value, list | tuple):
            raise _type_error(name, value, list, tuple)
        target = getattr(message, field.name)
        item_shape = _inner(model, shape, "member")
        for index, item in enumerate(value):
            if field.message_type is not None:
                from_dict(item, target.add(), item_shape, f"{name}[{index}].", model)
            else:
                target.append(_scalar(field, item_shape, model)(item, f"{name}[{index}]"))
        return
    if field.message_type is not None:
        child = getattr(message, field.name)
        child.SetInParent()  # given, even empty: {"OnSuccess": {}} is not "unset"
        from_dict(value, child, shape, f"{name}.", model)
        return
    if kind == "structure":
        raise _type_error(name, value, dict)
    setattr(message, field.name, _scalar(field, shape, model)(value, name))


@cache
def _scalar(field: FieldDescriptor, shape: str, model: Model) -> Callable[[Any, str], Any]:
    """How a scalar of a shape is checked and read (value, its name for errors): worked out
    once per field and shape."""
    kind = model.shape(shape)["type"]
    if field.enum_type is not None:
        numbers = _enum_numbers(field.enum_type)
        valid = ", ".join(model.shape(shape).get("enum", []))

        def enum(value: Any, name: str) -> Any:
            if not isinstance(value, str):
                raise _type_error(name, value, str)
            number = numbers.get(value)
            if number is None:
                raise ConversionError(
                    f"Invalid value for parameter {name}, value: {value}, valid values: {valid}"
                )
            return number

        return enum
    if kind == "blob":
        return _blob
    if kind in ("integer", "long"):
        return _integer
    if kind == "boolean":
        return _boolean
    if kind == "timestamp":
        return _timestamp
    if kind in ("double", "float"):
        return _number
    return _string


def _blob(value: Any, name: str) -> bytes:
    if type(value) is bytes:  # the usual case, first
        return value
    if isinstance(value, str):
        return value.encode()
    if not isinstance(value, bytes | bytearray):
        raise _type_error(name, value, bytes, bytearray, str)
    return bytes(value)


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, value, int)
    return value


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _type_error(name, value, bool)
    return value


def _timestamp(value: Any, name: str) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConversionError(f"Invalid timestamp for parameter {name}: give a time zone")
        return value.timestamp()
    return _number(value, name)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(name, value, float, int)
    return float(value)


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _type_error(name, value, str)
    return value


def _type_error(name: str, value: Any, *types: type) -> ConversionError:
    valid = ", ".join(str(kind) for kind in types)
    return ConversionError(
        f"Invalid type for parameter {name}, value: {value!r}, type: {type(value)}, "
        f"valid types: {valid}"
    )


# --- an operation's messages ---------------------------------------------------------------


@cache
def messages(operation: str) -> tuple[type[Message], type[Message]]:
    """The request and response message classes of an operation's gRPC method."""
    from google.protobuf import message_factory

    from eventinvoke.api.operations import BY_NAME
    from eventinvoke.v1 import executor_service_pb2, invoker_service_pb2, router_service_pb2

    files = (invoker_service_pb2, executor_service_pb2, router_service_pb2)
    entry = BY_NAME[operation]
    for module in files:
        service = module.DESCRIPTOR.services_by_name.get(entry.service)
        if service is not None:
            method = service.methods_by_name[entry.method]
            return (
                message_factory.GetMessageClass(method.input_type),
                message_factory.GetMessageClass(method.output_type),
            )
    raise KeyError(f"no gRPC service {entry.service} serves {operation}")


def request_slots(operation: Any) -> list[tuple[str, str]]:
    """(AWS member, member path the proto carries) of an operation's request, in order."""
    structure = lambda_model().operation(operation.name).input
    if structure is None:
        return []
    request, _ = messages(operation.name)
    return [
        (slot.member, ".".join((slot.member, *slot.rest)))
        for slot in _slots(request.DESCRIPTOR, structure)
    ]
