"""The table of operations walked against the model and the code: every operation it lists is
served over gRPC, routed by the gateway (AWS's), offered by the CLI and by both Python clients,
with every request member the gRPC API carries. (Each constraint on the wire: conformance's
``test_model_constraints``.)"""

from __future__ import annotations

import inspect

import botocore.session
import pytest
from aiohttp.test_utils import make_mocked_request

from eventinvoke.api.codec import messages, request_slots, snake
from eventinvoke.api.model import lambda_model
from eventinvoke.api.operations import OPERATIONS, Operation
from eventinvoke.cli import cli
from eventinvoke.cli.commands import command_name
from eventinvoke.cli.overrides import PACKAGES
from eventinvoke.client import AsyncClient, Client
from eventinvoke.executor.servicer import ExecutorServicer
from eventinvoke.gateway.app import create_app
from eventinvoke.invoker.servicer import InvokerServicer
from eventinvoke.router.servicer import RouterServicer
from eventinvoke.v1 import (
    executor_service_pb2_grpc,
    invoker_service_pb2_grpc,
    router_service_pb2_grpc,
)

SERVICERS = {
    "Invoker": (InvokerServicer, invoker_service_pb2_grpc.InvokerServicer),
    "Executor": (ExecutorServicer, executor_service_pb2_grpc.ExecutorServicer),
    "Router": (RouterServicer, router_service_pb2_grpc.RouterServicer),
}


def ids(operation: Operation) -> str:
    return operation.name


@pytest.mark.parametrize("operation", OPERATIONS, ids=ids)
def test_every_operation_is_served(operation: Operation) -> None:
    request, response = messages(operation.name)  # the RPC exists in the protos
    servicer, generated = SERVICERS[operation.service]

    # Implemented, not the generated stub that answers UNIMPLEMENTED.
    assert getattr(servicer, operation.method) is not getattr(generated, operation.method)
    assert request.DESCRIPTOR.name and response.DESCRIPTOR.name


def test_aws_operations_are_botocores() -> None:
    botocore_model = botocore.session.get_session().get_service_model("lambda")

    for operation in OPERATIONS:
        assert (operation.name in botocore_model.operation_names) == operation.aws, operation


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.aws], ids=ids)
async def test_every_aws_operation_has_its_gateway_route(operation: Operation) -> None:
    model = lambda_model().operation(operation.name)
    path = model.request_uri.split("?")[0]
    for label in ("{FunctionName}", "{Name}"):
        path = path.replace(label, "f")
    app = create_app(AsyncClient("127.0.0.1:1"))  # never called: routing only
    app.freeze()

    match = await app.router.resolve(make_mocked_request(model.http_method, path, app=app))

    assert match.http_exception is None, f"{model.http_method} {path}"


def _served_members(operation: Operation) -> list[str]:
    return [member for member, _ in request_slots(operation) if member not in operation.fixed]


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.client], ids=ids)
def test_every_operation_has_its_client_methods(operation: Operation) -> None:
    for client in (Client, AsyncClient):
        method = getattr(client, snake(operation.name))
        parameters = set(inspect.signature(method).parameters)

        for member, path in request_slots(operation):
            leaf = path.split(".")[-1] if path in operation.args else member
            assert snake(leaf) in parameters, (client.__name__, operation.name, member)


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.cli], ids=ids)
def test_every_operation_has_its_cli_command(operation: Operation) -> None:
    command = cli.commands[command_name(operation.name)]
    options = {name for param in command.params for name in getattr(param, "opts", [])}
    package = PACKAGES.get(operation.name)

    for member in _served_members(operation):
        if package is not None and member == package.member:
            assert {"--code", "--zip-file"} <= options
        else:
            assert f"--{command_name(member)}" in options, (operation.name, member)


def test_operations_without_a_cli_command_are_the_internal_ones_or_have_their_own() -> None:
    without = {op.name for op in OPERATIONS if not op.cli}

    # GetFunctionLogs is `eventinvoke logs`; InvokeAsync is deprecated (`invoke` replaces it).
    assert without == {"InvokeAsync", "InvokeBatch", "GetFunctionLogs", "Execute", "Route"}
    assert "logs" in cli.commands
