"""The image's command lines, run outside a container (no Docker engine here): the Dockerfile's
ENTRYPOINT and CMD, with its ENV, as `docker run IMAGE` runs them; and each role of the cluster
overlay as its Deployment runs it (the image's entrypoint, the manifest's args, the ConfigMap's
and the container's variables), on PostgreSQL.

What the image's paths become here: /opt/eventinvoke (the virtual environment) is this
interpreter's, /var/lib/eventinvoke (the volume) a temporary directory. Ports: the image's
50051 and 9001 (and the manifests' metrics port) are replaced by free ones, the host part
(0.0.0.0) is kept. Peers named
dns:///<service>:50051 resolve to 127.0.0.1 and the port of the process behind that Service.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import grpc
import psutil
from conftest import FUNCTIONS, zip_dir
from deployment.harness import (
    command,
    component,
    container,
    container_env,
    find,
    read_dockerfile,
    render,
    workloads,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from processes import free_port

from eventinvoke.client import Client

IMAGE_PATHS = {"/opt/eventinvoke": sys.prefix, "/var/lib/eventinvoke": ""}  # "": per process
SERVICES = ("eventinvoke.v1.Invoker", "eventinvoke.v1.Executor", "eventinvoke.v1.Router")


class Container:
    """One container's process: its command line and variables as the image and manifests give
    them, with the paths and ports mapped as the module's docstring says."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], workdir: str, tmp_path: Path
    ) -> None:
        self.name = name
        self.data_dir = tmp_path / name
        self.data_dir.mkdir()
        self.log_path = tmp_path / f"{name}.log"
        paths = {**IMAGE_PATHS, "/var/lib/eventinvoke": str(self.data_dir)}
        self.env = {k: _mapped(v, paths) for k, v in env.items()}
        self.workdir = _mapped(workdir, paths)
        self.grpc_port, self.http_port, self.metrics_port = free_port(), free_port(), free_port()
        for variable, port in (
            ("EVENTINVOKE_LISTEN", self.grpc_port),
            ("EVENTINVOKE_HTTP_LISTEN", self.http_port),
            ("EVENTINVOKE_METRICS_LISTEN", self.metrics_port),
        ):
            if variable in self.env:
                host, _, _ = self.env[variable].rpartition(":")
                self.env[variable] = f"{host}:{port}"
        # The entrypoint is found on the image's PATH: here, this virtual environment's.
        executable = shutil.which(argv[0], path=self.env["PATH"])
        assert executable == str(Path(sys.prefix) / "bin" / argv[0]), executable
        self.argv = [executable, *argv[1:]]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        host = {k: v for k, v in os.environ.items() if not k.startswith("EVENTINVOKE_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env={**host, **self.env},
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def wait_serving(self, services: tuple[str, ...] = ("",), timeout: float = 60) -> None:
        assert self.process is not None
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for service in services:
                status = _wait_health(stub, service, self, timeout)
                assert status == health_pb2.HealthCheckResponse.SERVING, (service, self.log())

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as Kubernetes and `docker stop` send it, and wait for the drain."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines (the image sets EVENTINVOKE_LOG_FORMAT=json)."""
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def metrics(self) -> str:
        """The text of ``/metrics``, as Prometheus scrapes it."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()

    def rss(self) -> int:
        """The resident memory of the process and its children (the sandbox host, sandboxes):
        what a container's memory limit counts."""
        assert self.process is not None
        root = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def _mapped(value: str, paths: dict[str, str]) -> str:
    for image_path, here in paths.items():
        value = value.replace(image_path, here)
    return value


def _wait_health(stub: Any, service: str, process: Container, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return reply.status
        except grpc.RpcError:
            pass
        assert process.process is not None
        if process.process.poll() is not None:
            raise AssertionError(f"{process.name} exited:\n{process.log()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{process.name} not serving after {timeout} s")
        time.sleep(0.1)


# The image serves every interface, so it starts only with credentials, as `docker run -e
# EVENTINVOKE_AUTH=...` (or the manifests' Secret) gives them.
ADMIN = ("AKIDOPS", "ops-secret")
AUTH = f"{ADMIN[0]}:{ADMIN[1]}:admin"


def _image_env() -> dict[str, str]:
    # The base image's PATH is the host's here: the same tools (node) are found on it.
    return read_dockerfile().env({"PATH": os.environ["PATH"]})


def _http_list_functions(url: str) -> tuple[int, dict[str, Any]]:
    """ListFunctions over HTTP, signed as the AWS CLI signs it."""
    lambda_ = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=ADMIN[0],
        aws_secret_access_key=ADMIN[1],
    )
    answer = lambda_.list_functions()
    return answer["ResponseMetadata"]["HTTPStatusCode"], answer


def _deploy_echo(client: Client) -> None:
    client.create_function(
        function_name="echo",
        runtime="python3.11",
        handler="index.handler",
        zip_file=zip_dir(FUNCTIONS / "echo"),
    )


def test_the_images_default_command_serves_on_every_interface_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    image = read_dockerfile()
    argv = command(image, None)
    assert argv == ["eventinvoke", "up"]
    env = {**_image_env(), "EVENTINVOKE_AUTH": AUTH}
    suite = Container("up", argv, env, image.final.last("WORKDIR"), tmp_path)
    suite.start()
    try:
        suite.wait_serving(("", *SERVICES))
        status, listing = _http_list_functions(f"http://127.0.0.1:{suite.http_port}")
        assert (status, listing["Functions"]) == (200, [])
        with Client(suite.address, credentials=ADMIN) as client:
            _deploy_echo(client)
            answer = client.invoke("echo", b'{"from": "the image"}')
        assert answer["StatusCode"] == 200
        assert json.loads(answer["Payload"])["event"] == {"from": "the image"}
    finally:
        code = suite.terminate()

    assert code == 0, suite.log()[-3000:]
    events = {line["event"]: line for line in suite.events()}
    # Bound on every interface (a container's loopback is its own), reached here on 127.0.0.1.
    assert events["server_started"]["address"] == f"0.0.0.0:{suite.grpc_port}"
    assert events["gateway_started"]["url"] == f"http://0.0.0.0:{suite.http_port}"
    assert "server_stopped" in events and "Traceback" not in suite.log()
    # The data directory is the image's volume (here a temporary one) and its working directory.
    assert (suite.data_dir / "eventinvoke.db").is_file()
    # (Code is unpacked beside it when sandboxes run as users of their own, as this root test
    # server's do: SECURITY.md, Functions.)
    assert (suite.data_dir / "logs" / "echo").is_dir()


def test_the_cluster_manifests_command_lines_serve_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    image = read_dockerfile()
    objects = render("cluster")
    secrets = {
        ("eventinvoke-database", "url"): postgres_url,
        ("eventinvoke-credentials", "auth"): AUTH,
    }
    roles: dict[str, Container] = {}
    for workload in workloads(objects):
        env = {**_image_env(), **container_env(objects, workload, secrets)}
        name = component(workload)
        roles[name] = Container(
            name, command(image, workload), env, image.final.last("WORKDIR"), tmp_path
        )
    assert sorted(roles) == ["executor", "gateway", "invoker", "router"]
    # Each Service's DNS name leads to the process of the role it selects.
    services = {s["metadata"]["name"]: s["spec"]["selector"] for s in find(objects, "Service")}
    for process in roles.values():
        for variable, value in process.env.items():
            peer = re.fullmatch(r"dns:///([\w-]+):50051", value)
            if peer:
                role = services[peer.group(1)]["app.kubernetes.io/component"]
                process.env[variable] = f"dns:///127.0.0.1:{roles[role].grpc_port}"

    try:
        for process in roles.values():
            process.start()
        for process in roles.values():
            process.wait_serving()
        # Synchronous invokes go from the invoker to an executor (dns:///executor:50051).
        with Client(
            roles["invoker"].address, router_endpoint=roles["router"].address, credentials=ADMIN
        ) as client:
            _deploy_echo(client)
            answer = client.invoke("echo", b'{"from": "the cluster"}')
            failed = client.list_failed_deliveries()
        assert answer["StatusCode"] == 200
        assert json.loads(answer["Payload"])["event"] == {"from": "the cluster"}
        assert failed["FailedDeliveries"] == []
        # Every role serves /metrics on the port the manifests annotate; the executor ran echo.
        scraped = {name: process.metrics() for name, process in roles.items()}
        for name, text in scraped.items():
            assert re.search(rf'^eventinvoke_info{{[^}}]*roles="{name}"', text, re.M), name
        assert 'eventinvoke_invocations_total{function_name="echo"} 1.0' in scraped["executor"]
        assert "eventinvoke_queue_depth" in scraped["invoker"]  # the shared figures: here only
        assert "eventinvoke_queue_depth" not in scraped["executor"]
        # The gateway reaches the invokers (dns:///invoker:50051).
        status, listing = _http_list_functions(f"http://127.0.0.1:{roles['gateway'].http_port}")
        assert (status, [f["FunctionName"] for f in listing["Functions"]]) == (200, ["echo"])
        # Each role's memory at rest fits its request, which leaves the limit for the load.
        for workload in workloads(objects):
            request = container(workload)["resources"]["requests"]["memory"]
            assert request.endswith("Mi")
            role = component(workload)
            assert roles[role].rss() < int(request.removesuffix("Mi")) * 2**20, role
    finally:
        codes: dict[str, int | str] = {}
        for name, process in roles.items():  # each one stopped, whatever the others do
            try:
                codes[name] = process.terminate() if process.process else "not started"
            except subprocess.TimeoutExpired:
                codes[name] = "did not stop"

    assert codes == dict.fromkeys(roles, 0), {n: p.log()[-2000:] for n, p in roles.items()}
    for process in roles.values():
        assert "server_stopped" in {line["event"] for line in process.events()}
        assert "Traceback" not in process.log()


def test_single_node_runs_exactly_the_images_default_command() -> None:
    """So the first test above is also the single-node StatefulSet's command line."""
    [statefulset] = workloads(render("single-node"))
    image = read_dockerfile()
    assert command(image, statefulset) == command(image, None)
    # Only the ConfigMap's settings beside the image's, and the credentials from their Secret.
    assert [v["name"] for v in container(statefulset)["env"]] == ["EVENTINVOKE_AUTH"]
