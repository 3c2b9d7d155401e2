"""The AWS-shaped dicts the client returns and accepts, as boto3 and the AWS CLI show them.

Key names and presence follow AWS: a key marked ``NotRequired`` is left out when AWS leaves it
out (for example ``Environment`` when a function has no variables), never sent as ``None``.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class ResponseMetadata(TypedDict):
    RequestId: str


class InvocationResponse(TypedDict):
    StatusCode: int
    FunctionError: NotRequired[str]
    LogResult: NotRequired[str]
    # Only for RequestResponse (200): the function's result or error object, JSON bytes.
    Payload: NotRequired[bytes]
    ExecutedVersion: NotRequired[str]
    ResponseMetadata: ResponseMetadata


class InvocationAttempt(TypedDict):
    # "SUCCEEDED" or "FAILED".
    Outcome: str
    StartTime: NotRequired[str]
    EndTime: NotRequired[str]
    # When it failed: "Unhandled" or "Handled", the error's errorType and errorMessage's start.
    FunctionError: NotRequired[str]
    ErrorType: NotRequired[str]
    ErrorMessage: NotRequired[str]


class InvocationDeliveryDestination(TypedDict):
    Target: str
    # "OnSuccess", "OnFailure" or "DeadLetter".
    Kind: str


class InvocationDelivery(TypedDict):
    Destination: InvocationDeliveryDestination
    # "PENDING", "DELIVERED", "FAILED" or "PURGED".
    Status: str
    # The outbox's (or the failed-delivery store's) id; absent for a record queued at once as
    # an event of a function of this suite, whose RequestId is given instead.
    DeliveryId: NotRequired[str]
    RequestId: NotRequired[str]
    Attempts: NotRequired[int]
    Reason: NotRequired[str]


class GetInvocationResponse(TypedDict):
    RequestId: str
    FunctionArn: str
    # "QUEUED", "RUNNING", "RETRY_SCHEDULED", "SUCCEEDED" or "FAILED".
    Status: str
    # Once settled: the record's condition (Success, RetriesExhausted, EventAgeExceeded ...).
    Condition: NotRequired[str]
    EnqueueTime: NotRequired[str]
    NextAttemptTime: NotRequired[str]
    EndTime: NotRequired[str]
    Attempts: list[InvocationAttempt]
    Deliveries: list[InvocationDelivery]


class Environment(TypedDict, total=False):
    Variables: dict[str, str]


class DeadLetterConfig(TypedDict, total=False):
    # "" removes the dead-letter queue (UpdateFunctionConfiguration).
    TargetArn: str


class FunctionConfiguration(TypedDict):
    FunctionName: str
    FunctionArn: str
    Runtime: str
    Role: str
    Handler: str
    CodeSize: int
    Description: str
    Timeout: int
    MemorySize: int
    LastModified: str
    CodeSha256: str
    Version: str
    Environment: NotRequired[Environment]
    DeadLetterConfig: NotRequired[DeadLetterConfig]
    State: str
    RevisionId: str


class Concurrency(TypedDict, total=False):
    # Absent when the function has no reserved concurrency.
    ReservedConcurrentExecutions: int


class GetFunctionResponse(TypedDict):
    Configuration: FunctionConfiguration
    # Present only when the function has reserved concurrency (as AWS).
    Concurrency: NotRequired[Concurrency]


class ListFunctionsResponse(TypedDict):
    Functions: list[FunctionConfiguration]
    NextMarker: NotRequired[str]


class ListVersionsByFunctionResponse(TypedDict):
    NextMarker: NotRequired[str]
    # $LATEST first, then the published versions; each FunctionArn qualified.
    Versions: list[FunctionConfiguration]


class AliasConfiguration(TypedDict):
    AliasArn: str
    Name: str
    FunctionVersion: str
    Description: str
    RevisionId: str


class ListAliasesResponse(TypedDict):
    NextMarker: NotRequired[str]
    Aliases: list[AliasConfiguration]


class OnOutcome(TypedDict, total=False):
    Destination: str


class DestinationConfig(TypedDict, total=False):
    # In responses both keys are always present ({} when unset); in requests either may be left out.
    OnSuccess: OnOutcome
    OnFailure: OnOutcome


class FunctionEventInvokeConfig(TypedDict):
    LastModified: float
    FunctionArn: str
    MaximumRetryAttempts: NotRequired[int]
    MaximumEventAgeInSeconds: NotRequired[int]
    DestinationConfig: DestinationConfig


class ListFunctionEventInvokeConfigsResponse(TypedDict):
    FunctionEventInvokeConfigs: list[FunctionEventInvokeConfig]
    NextMarker: NotRequired[str]


class FailedDeliveryDestination(TypedDict):
    Target: str
    # "OnSuccess", "OnFailure" or "DeadLetter".
    Kind: str


class FailedDelivery(TypedDict):
    DeliveryId: str
    Destination: FailedDeliveryDestination
    Reason: str
    Attempts: int
    FailTime: NotRequired[str]
    # The execution record as destinations receive it (docs/aws-behaviour.md §4.1, camelCase keys).
    Record: dict[str, Any]


class ListFailedDeliveriesResponse(TypedDict):
    FailedDeliveries: list[FailedDelivery]
    NextMarker: NotRequired[str]


class RedriveFailedDeliveriesResponse(TypedDict):
    RedrivenCount: int


class PurgeFailedDeliveriesResponse(TypedDict):
    PurgedCount: int


class LogEvent(TypedDict):
    # When the invocation the line belongs to started (epoch ms).
    Timestamp: int
    Message: str
    LogStreamName: str


class GetFunctionLogsResponse(TypedDict):
    Events: list[LogEvent]
    # Pass back as ``next_token`` to get only lines written since.
    NextToken: str
