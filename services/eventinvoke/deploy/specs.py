"""What a plan applies: one spec per CloudFormation resource, and the step that carries it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FUNCTION = "AWS::Lambda::Function"
VERSION = "AWS::Lambda::Version"
ALIAS = "AWS::Lambda::Alias"
EVENT_INVOKE_CONFIG = "AWS::Lambda::EventInvokeConfig"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SUPPORTED_TYPES = (FUNCTION, VERSION, ALIAS, EVENT_INVOKE_CONFIG, SERVERLESS_FUNCTION)


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
    recursive_loop: str | None = None  # None: AWS's default, Terminate


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
