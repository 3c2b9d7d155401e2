"""THE table: every operation of eventinvoke's API, described once.

An AWS operation's route, members, shapes, constraints, errors and documentation are AWS's, from
the service model (``model.py``); an entry here says only what the model cannot: which gRPC
method serves it, which role may call it, and the few ways eventinvoke's answer differs. The
gateway's routes, the validation of requests, the CLI's commands and the Python clients' methods
are all derived from these entries (see docs/contributing.md for adding one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Who may call (SECURITY.md): ``invoke`` invokes and reads; ``admin`` may do everything a
# user may do; ``service`` is for the internal calls between eventinvoke's own services.
Role = Literal["invoke", "admin", "service"]
INVOKE: Role = "invoke"
ADMIN: Role = "admin"
SERVICE: Role = "service"


@dataclass(frozen=True)
class Operation:
    """One operation.

    ``rpc`` is ``Service/Method`` of the gRPC API (package eventinvoke.v1). ``aws`` says whether
    AWS Lambda's model describes it (our own operations have no REST route). ``unwrap`` names the
    gRPC response field that holds AWS's output shape, when the response wraps it. ``args`` are the
    members a client method takes positionally, in order. ``cli`` is False for an operation the
    CLI does not offer as a plain command (it has a hand-written one, or none).
    """

    name: str
    rpc: str
    role: Role
    aws: bool = True
    unwrap: str | None = None
    args: tuple[str, ...] = ("FunctionName", "Qualifier")  # those the request has
    status: int | None = None  # the HTTP status where eventinvoke's answer is not the model's
    cli: bool = True
    client: bool = True
    fixed: dict[str, object] = field(default_factory=dict)  # members the operation sets itself

    @property
    def service(self) -> str:
        return self.rpc.split("/")[0]

    @property
    def method(self) -> str:
        return self.rpc.split("/")[1]


# An alias's members, as CreateAlias and UpdateAlias take them.
_ALIAS = ("FunctionName", "Name", "FunctionVersion", "Description")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "Invoke",
        "Invoker/Invoke",
        INVOKE,
        args=("FunctionName", "Payload", "InvocationType", "LogType", "Qualifier", "ClientContext"),
    ),
    # The legacy asynchronous invoke: an Event Invoke with its own limit and answer.
    Operation(
        "InvokeAsync",
        "Invoker/Invoke",
        INVOKE,
        args=("FunctionName", "InvokeArgs"),
        fixed={"InvocationType": "Event"},
        cli=False,
        client=False,
    ),
    Operation(
        "CreateFunction",
        "Invoker/CreateFunction",
        ADMIN,
        unwrap="configuration",
        args=(
            "FunctionName",
            "Runtime",
            "Handler",
            "Code.ZipFile",
            "Role",
            "Timeout",
            "MemorySize",
            "Environment",
            "Description",
            "DeadLetterConfig",
            "Publish",
        ),
    ),
    Operation("GetFunction", "Invoker/GetFunction", INVOKE),
    Operation("GetFunctionConfiguration", "Invoker/GetFunction", INVOKE, unwrap="configuration"),
    Operation("ListFunctions", "Invoker/ListFunctions", INVOKE, args=()),
    Operation(
        "UpdateFunctionConfiguration",
        "Invoker/UpdateFunctionConfiguration",
        ADMIN,
        unwrap="configuration",
    ),
    Operation(
        "UpdateFunctionCode",
        "Invoker/UpdateFunctionCode",
        ADMIN,
        unwrap="configuration",
        args=("FunctionName", "ZipFile", "Publish"),
    ),
    Operation(
        "DeleteFunction",
        "Invoker/DeleteFunction",
        ADMIN,
        status=204,
    ),
    Operation(
        "PublishVersion",
        "Invoker/PublishVersion",
        ADMIN,
        unwrap="configuration",
        args=("FunctionName", "Description", "CodeSha256", "RevisionId"),
    ),
    Operation(
        "ListVersionsByFunction",
        "Invoker/ListVersionsByFunction",
        INVOKE,
        args=("FunctionName", "Marker", "MaxItems"),
    ),
    Operation("CreateAlias", "Invoker/CreateAlias", ADMIN, unwrap="alias", args=_ALIAS),
    Operation(
        "GetAlias", "Invoker/GetAlias", INVOKE, unwrap="alias", args=("FunctionName", "Name")
    ),
    Operation("UpdateAlias", "Invoker/UpdateAlias", ADMIN, unwrap="alias", args=_ALIAS),
    Operation("DeleteAlias", "Invoker/DeleteAlias", ADMIN, args=("FunctionName", "Name")),
    Operation(
        "ListAliases",
        "Invoker/ListAliases",
        INVOKE,
        args=("FunctionName", "FunctionVersion", "Marker", "MaxItems"),
    ),
    Operation(
        "PutFunctionEventInvokeConfig",
        "Invoker/PutFunctionEventInvokeConfig",
        ADMIN,
        unwrap="config",
    ),
    Operation(
        "UpdateFunctionEventInvokeConfig",
        "Invoker/UpdateFunctionEventInvokeConfig",
        ADMIN,
        unwrap="config",
    ),
    Operation(
        "GetFunctionEventInvokeConfig",
        "Invoker/GetFunctionEventInvokeConfig",
        INVOKE,
        unwrap="config",
    ),
    Operation("DeleteFunctionEventInvokeConfig", "Invoker/DeleteFunctionEventInvokeConfig", ADMIN),
    Operation("ListFunctionEventInvokeConfigs", "Invoker/ListFunctionEventInvokeConfigs", INVOKE),
    Operation(
        "PutFunctionConcurrency",
        "Invoker/PutFunctionConcurrency",
        ADMIN,
        args=("FunctionName", "ReservedConcurrentExecutions"),
    ),
    Operation("GetFunctionConcurrency", "Invoker/GetFunctionConcurrency", INVOKE),
    Operation("DeleteFunctionConcurrency", "Invoker/DeleteFunctionConcurrency", ADMIN),
    Operation("GetAccountSettings", "Invoker/GetAccountSettings", INVOKE, args=()),
    Operation(
        "PutFunctionRecursionConfig",
        "Invoker/PutFunctionRecursionConfig",
        ADMIN,
        args=("FunctionName", "RecursiveLoop"),
    ),
    Operation("GetFunctionRecursionConfig", "Invoker/GetFunctionRecursionConfig", INVOKE),
    # eventinvoke's own: no REST route, hand-written where a client or the CLI offers them.
    Operation("InvokeBatch", "Invoker/InvokeBatch", INVOKE, aws=False, cli=False, client=False),
    Operation(
        "GetFunctionLogs",
        "Executor/GetFunctionLogs",
        INVOKE,
        aws=False,
        cli=False,
        args=("FunctionName", "StartTime", "NextToken", "Limit"),
    ),
    Operation("Execute", "Executor/Execute", SERVICE, aws=False, cli=False, client=False),
    Operation("Route", "Router/Route", SERVICE, aws=False, cli=False, client=False),
    # The failed-delivery store: the suite's services and administrators read it; only an
    # administrator sends its records again or deletes them.
    Operation("ListFailedDeliveries", "Router/ListFailedDeliveries", SERVICE, aws=False, args=()),
    Operation(
        "GetFailedDelivery",
        "Router/GetFailedDelivery",
        SERVICE,
        aws=False,
        unwrap="failed_delivery",
        args=("DeliveryId",),
    ),
    Operation(
        "RedriveFailedDeliveries", "Router/RedriveFailedDeliveries", ADMIN, aws=False, args=()
    ),
    Operation("PurgeFailedDeliveries", "Router/PurgeFailedDeliveries", ADMIN, aws=False, args=()),
    Operation("GetInvocation", "Invoker/GetInvocation", INVOKE, aws=False, args=("RequestId",)),
)

BY_NAME = {operation.name: operation for operation in OPERATIONS}
# The operation a gRPC method serves (several AWS operations may share one method: the first
# listed is the method's own).
BY_RPC: dict[str, Operation] = {}
for _operation in OPERATIONS:
    BY_RPC.setdefault(_operation.rpc, _operation)
