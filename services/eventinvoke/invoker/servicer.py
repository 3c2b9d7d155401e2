"""The Invoker's gRPC servicer: proto → domain → proto, nothing more."""

from __future__ import annotations

from typing import TypeAlias

import grpc
import structlog

from eventinvoke.core.errors import InvalidParameterValueException, LambdaError
from eventinvoke.core.model import LINEAGE_METADATA, Lineage
from eventinvoke.invoker.aliases import Aliases
from eventinvoke.invoker.event_invoke_configs import EventInvokeConfigs
from eventinvoke.invoker.functions import FunctionChanges, Functions
from eventinvoke.invoker.history import InvocationHistory
from eventinvoke.invoker.invocations import (
    DRY_RUN,
    EVENT,
    REQUEST_RESPONSE,
    EventInvocation,
    Invocations,
)
from eventinvoke.invoker.messages import (
    alias_to_pb,
    config_changes_from_pb,
    config_to_pb,
    function_to_pb,
    invocation_to_pb,
    invoke_error_to_pb,
    invoke_result_to_pb,
)
from eventinvoke.server.validation import check
from eventinvoke.v1 import invoker_service_pb2 as pb
from eventinvoke.v1 import invoker_service_pb2_grpc as pb_grpc

INVOCATION_TYPES = {
    pb.INVOCATION_TYPE_UNSPECIFIED: REQUEST_RESPONSE,
    pb.INVOCATION_TYPE_REQUEST_RESPONSE: REQUEST_RESPONSE,
    pb.INVOCATION_TYPE_EVENT: EVENT,
    pb.INVOCATION_TYPE_DRY_RUN: DRY_RUN,
}
Context: TypeAlias = grpc.aio.ServicerContext


class InvokerServicer(pb_grpc.InvokerServicer):
    def __init__(
        self,
        functions: Functions,
        configs: EventInvokeConfigs,
        invocations: Invocations,
        history: InvocationHistory,
    ) -> None:
        self.functions = functions
        self.configs = configs
        self.invocations = invocations
        self.history = history
        self.aliases = Aliases(functions.store, functions.partition)

    async def Invoke(self, request: pb.InvokeRequest, context: Context) -> pb.InvokeResponse:
        result = await self.invocations.invoke(
            request.function_name,
            request.payload,
            qualifier=request.qualifier or None,
            invocation_type=INVOCATION_TYPES[request.invocation_type],
            tail_log=request.log_type == pb.LOG_TYPE_TAIL,
            client_context=request.client_context,
            lineage=_lineage(context),
        )
        structlog.contextvars.bind_contextvars(request_id=result.request_id)
        return invoke_result_to_pb(result)

    async def InvokeBatch(
        self, request: pb.InvokeBatchRequest, context: Context
    ) -> pb.InvokeBatchResponse:
        # Each invocation is checked as Invoke's request is (the interceptor sees the batch
        # only), and one that fails is refused alone.
        refusals: dict[int, LambdaError] = {}
        accepted: list[EventInvocation] = []
        for index, one in enumerate(request.invocations):
            try:
                check("Invoke", one)
            except LambdaError as error:
                refusals[index] = error
                continue
            accepted.append(
                EventInvocation(
                    one.function_name,
                    one.payload,
                    qualifier=one.qualifier or None,
                    invocation_type=INVOCATION_TYPES[one.invocation_type],
                )
            )
        answers = iter(await self.invocations.invoke_events(accepted))
        outcomes = [
            refusals[index] if index in refusals else next(answers)
            for index in range(len(request.invocations))
        ]
        results = [
            pb.InvokeBatchResult(error=invoke_error_to_pb(outcome))
            if isinstance(outcome, LambdaError)
            else pb.InvokeBatchResult(response=invoke_result_to_pb(outcome))
            for outcome in outcomes
        ]
        refused = sum(isinstance(outcome, LambdaError) for outcome in outcomes)
        structlog.contextvars.bind_contextvars(invocations=len(results), refused=refused)
        return pb.InvokeBatchResponse(results=results)

    async def CreateFunction(
        self, request: pb.CreateFunctionRequest, context: Context
    ) -> pb.CreateFunctionResponse:
        function = await self.functions.create(
            request.function_name,
            request.runtime,
            request.handler,
            request.zip_file,
            role=request.role,
            timeout=request.timeout if request.HasField("timeout") else None,
            memory_size=request.memory_size if request.HasField("memory_size") else None,
            environment=dict(request.environment),
            description=request.description,
            dead_letter_target_arn=request.dead_letter_target_arn
            if request.HasField("dead_letter_target_arn")
            else None,
            publish=request.publish,
        )
        # With publish, version 1's configuration, its ARN unqualified (as AWS answers).
        return pb.CreateFunctionResponse(configuration=function_to_pb(function))

    async def GetFunction(
        self, request: pb.GetFunctionRequest, context: Context
    ) -> pb.GetFunctionResponse:
        ref = self.functions.partition.parse(request.function_name, request.qualifier or None)
        function = await self.functions.resolve(ref)
        # Qualified: the ARN as asked for (an alias's for an alias; Version is the resolved one).
        arn = self.functions.qualified_arn(function, ref.qualifier) if ref.qualifier else None
        return pb.GetFunctionResponse(
            configuration=function_to_pb(function, arn),
            reserved_concurrent_executions=function.reserved_concurrent_executions,
        )

    async def ListFunctions(
        self, request: pb.ListFunctionsRequest, context: Context
    ) -> pb.ListFunctionsResponse:
        functions, marker = await self.functions.list(request.marker, request.max_items or None)
        return pb.ListFunctionsResponse(
            functions=[function_to_pb(f) for f in functions], next_marker=marker or ""
        )

    async def UpdateFunctionConfiguration(
        self, request: pb.UpdateFunctionConfigurationRequest, context: Context
    ) -> pb.UpdateFunctionConfigurationResponse:
        def given(field: str) -> object:
            return getattr(request, field) if request.HasField(field) else None

        changes = FunctionChanges(
            timeout=given("timeout"),  # type: ignore[arg-type]
            memory_size=given("memory_size"),  # type: ignore[arg-type]
            environment=dict(request.environment.variables)
            if request.HasField("environment")
            else None,
            handler=given("handler"),  # type: ignore[arg-type]
            runtime=given("runtime"),  # type: ignore[arg-type]
            role=given("role"),  # type: ignore[arg-type]
            description=given("description"),  # type: ignore[arg-type]
            dead_letter_target_arn=given("dead_letter_target_arn"),  # type: ignore[arg-type]
        )
        function = await self.functions.update(request.function_name, changes)
        return pb.UpdateFunctionConfigurationResponse(configuration=function_to_pb(function))

    async def DeleteFunction(
        self, request: pb.DeleteFunctionRequest, context: Context
    ) -> pb.DeleteFunctionResponse:
        await self.functions.delete(request.function_name, request.qualifier or None)
        return pb.DeleteFunctionResponse()

    async def PutFunctionEventInvokeConfig(
        self, request: pb.PutFunctionEventInvokeConfigRequest, context: Context
    ) -> pb.PutFunctionEventInvokeConfigResponse:
        config = await self.configs.put(
            request.function_name, request.qualifier or None, config_changes_from_pb(request)
        )
        return pb.PutFunctionEventInvokeConfigResponse(
            config=config_to_pb(config, self.configs.arn(config))
        )

    async def UpdateFunctionEventInvokeConfig(
        self, request: pb.UpdateFunctionEventInvokeConfigRequest, context: Context
    ) -> pb.UpdateFunctionEventInvokeConfigResponse:
        config = await self.configs.update(
            request.function_name, request.qualifier or None, config_changes_from_pb(request)
        )
        return pb.UpdateFunctionEventInvokeConfigResponse(
            config=config_to_pb(config, self.configs.arn(config))
        )

    async def GetFunctionEventInvokeConfig(
        self, request: pb.GetFunctionEventInvokeConfigRequest, context: Context
    ) -> pb.GetFunctionEventInvokeConfigResponse:
        config = await self.configs.get(request.function_name, request.qualifier or None)
        return pb.GetFunctionEventInvokeConfigResponse(
            config=config_to_pb(config, self.configs.arn(config))
        )

    async def DeleteFunctionEventInvokeConfig(
        self, request: pb.DeleteFunctionEventInvokeConfigRequest, context: Context
    ) -> pb.DeleteFunctionEventInvokeConfigResponse:
        await self.configs.delete(request.function_name, request.qualifier or None)
        return pb.DeleteFunctionEventInvokeConfigResponse()

    async def ListFunctionEventInvokeConfigs(
        self, request: pb.ListFunctionEventInvokeConfigsRequest, context: Context
    ) -> pb.ListFunctionEventInvokeConfigsResponse:
        configs, marker = await self.configs.list(
            request.function_name, request.marker or None, request.max_items or None
        )
        return pb.ListFunctionEventInvokeConfigsResponse(
            function_event_invoke_configs=[config_to_pb(c, self.configs.arn(c)) for c in configs],
            next_marker=marker or "",
        )

    async def UpdateFunctionCode(
        self, request: pb.UpdateFunctionCodeRequest, context: Context
    ) -> pb.UpdateFunctionCodeResponse:
        function = await self.functions.update_code(
            request.function_name, request.zip_file, publish=request.publish
        )
        return pb.UpdateFunctionCodeResponse(configuration=function_to_pb(function))

    async def PutFunctionConcurrency(
        self, request: pb.PutFunctionConcurrencyRequest, context: Context
    ) -> pb.PutFunctionConcurrencyResponse:
        reserved = await self.functions.put_concurrency(
            request.function_name,
            request.reserved_concurrent_executions
            if request.HasField("reserved_concurrent_executions")
            else None,
        )
        return pb.PutFunctionConcurrencyResponse(reserved_concurrent_executions=reserved)

    async def GetFunctionConcurrency(
        self, request: pb.GetFunctionConcurrencyRequest, context: Context
    ) -> pb.GetFunctionConcurrencyResponse:
        reserved = await self.functions.get_concurrency(request.function_name)
        return pb.GetFunctionConcurrencyResponse(reserved_concurrent_executions=reserved)

    async def DeleteFunctionConcurrency(
        self, request: pb.DeleteFunctionConcurrencyRequest, context: Context
    ) -> pb.DeleteFunctionConcurrencyResponse:
        await self.functions.delete_concurrency(request.function_name)
        return pb.DeleteFunctionConcurrencyResponse()

    async def GetAccountSettings(
        self, request: pb.GetAccountSettingsRequest, context: Context
    ) -> pb.GetAccountSettingsResponse:
        account = await self.functions.account_settings()
        return pb.GetAccountSettingsResponse(
            account_limit=pb.AccountLimit(
                code_size_unzipped=account.code_size_unzipped,
                concurrent_executions=account.concurrent_executions,
                unreserved_concurrent_executions=account.unreserved_concurrent_executions,
            ),
            account_usage=pb.AccountUsage(
                total_code_size=account.total_code_size, function_count=account.function_count
            ),
        )

    async def PutFunctionRecursionConfig(
        self, request: pb.PutFunctionRecursionConfigRequest, context: Context
    ) -> pb.PutFunctionRecursionConfigResponse:
        setting = await self.functions.put_recursion_config(
            request.function_name, request.recursive_loop
        )
        return pb.PutFunctionRecursionConfigResponse(recursive_loop=setting)

    async def GetFunctionRecursionConfig(
        self, request: pb.GetFunctionRecursionConfigRequest, context: Context
    ) -> pb.GetFunctionRecursionConfigResponse:
        setting = await self.functions.get_recursion_config(request.function_name)
        return pb.GetFunctionRecursionConfigResponse(recursive_loop=setting)

    async def GetInvocation(
        self, request: pb.GetInvocationRequest, context: Context
    ) -> pb.GetInvocationResponse:
        report = await self.history.get(request.request_id)
        arn = self.functions.partition.function_arn(report.function_name, report.qualifier)
        return invocation_to_pb(report, arn)

    # --- versions and aliases ----------------------------------------------------------------

    async def PublishVersion(
        self, request: pb.PublishVersionRequest, context: Context
    ) -> pb.PublishVersionResponse:
        version = await self.functions.publish_version(
            request.function_name,
            description=request.description or None,
            code_sha256=request.code_sha256 or None,
            revision_id=request.revision_id or None,
        )
        return pb.PublishVersionResponse(
            configuration=function_to_pb(version, self.functions.qualified_arn(version))
        )

    async def ListVersionsByFunction(
        self, request: pb.ListVersionsByFunctionRequest, context: Context
    ) -> pb.ListVersionsByFunctionResponse:
        versions, marker = await self.functions.list_versions(
            request.function_name, request.marker or None, request.max_items or None
        )
        return pb.ListVersionsByFunctionResponse(
            versions=[function_to_pb(v, self.functions.qualified_arn(v)) for v in versions],
            next_marker=marker or "",
        )

    async def CreateAlias(
        self, request: pb.CreateAliasRequest, context: Context
    ) -> pb.CreateAliasResponse:
        alias = await self.aliases.create(
            request.function_name, request.name, request.function_version, request.description
        )
        return pb.CreateAliasResponse(alias=alias_to_pb(alias, self.aliases.arn(alias)))

    async def GetAlias(self, request: pb.GetAliasRequest, context: Context) -> pb.GetAliasResponse:
        alias = await self.aliases.get(request.function_name, request.name)
        return pb.GetAliasResponse(alias=alias_to_pb(alias, self.aliases.arn(alias)))

    async def UpdateAlias(
        self, request: pb.UpdateAliasRequest, context: Context
    ) -> pb.UpdateAliasResponse:
        alias = await self.aliases.update(
            request.function_name,
            request.name,
            function_version=request.function_version
            if request.HasField("function_version")
            else None,
            description=request.description if request.HasField("description") else None,
        )
        return pb.UpdateAliasResponse(alias=alias_to_pb(alias, self.aliases.arn(alias)))

    async def DeleteAlias(
        self, request: pb.DeleteAliasRequest, context: Context
    ) -> pb.DeleteAliasResponse:
        await self.aliases.delete(request.function_name, request.name)
        return pb.DeleteAliasResponse()

    async def ListAliases(
        self, request: pb.ListAliasesRequest, context: Context
    ) -> pb.ListAliasesResponse:
        aliases, marker = await self.aliases.list(
            request.function_name,
            request.function_version or None,
            request.marker or None,
            request.max_items or None,
        )
        return pb.ListAliasesResponse(
            aliases=[alias_to_pb(a, self.aliases.arn(a)) for a in aliases],
            next_marker=marker or "",
        )


def _lineage(context: Context) -> Lineage | None:
    """The lineage an internal Invoke carries (the Router's, of a record's chain); the
    interceptor has refused it from callers other than the suite's services."""
    for key, value in context.invocation_metadata() or ():
        if key == LINEAGE_METADATA:
            try:
                return Lineage.decode(str(value))
            except ValueError:
                raise InvalidParameterValueException(
                    f"The {LINEAGE_METADATA} metadata is not <chain id>:<depth>."
                ) from None
    return None
