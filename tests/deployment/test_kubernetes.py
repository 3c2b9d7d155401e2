"""The Kubernetes manifests (kubernetes/): every overlay renders with `kubectl kustomize` and
validates strictly against Kubernetes' own schemas (kubernetes-validate), and the rendered
objects keep the promises of docs/deploy.md: gRPC probes, limits, a disruption budget, a grace
period longer than the drain computed from the code's own timeouts, mesh-readable Services,
peers on headless Services, credentials only from a Secret, and a network policy that lets
clients reach only the API.

KEDA's ScaledObject and TriggerAuthentication have no schema in kubernetes-validate (they are
custom resources): every other object is validated strictly, and those two are checked field
by field against what KEDA's postgresql scaler reads (test_keda_*); their query runs on a real
database in test_keda_query.py.
"""

from __future__ import annotations

import copy
import inspect
import re
import tomllib
from typing import Any

import botocore.endpoint
import kubernetes_validate
import pytest
from aiohttp import web
from deployment.harness import (
    KEDA_KINDS,
    ROOT,
    component,
    container,
    container_env,
    find,
    one,
    overlays,
    pod_labels,
    read_dockerfile,
    render,
    workloads,
)

from eventinvoke.backends.postgres.database import CONNECTIONS
from eventinvoke.executor.host.pool import STOP_GRACE
from eventinvoke.invoker.functions import MAX_TIMEOUT
from eventinvoke.server import config
from eventinvoke.server.serve import Server

# The oldest Kubernetes the manifests are for (gRPC probes are GA from 1.27) and the newest
# kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())
OVERLAYS = overlays()
WORKLOAD_OVERLAYS = [o for o in OVERLAYS if workloads(render(o))]
SECRETS = {
    ("eventinvoke-database", "url"): "postgresql://eventinvoke:pw@postgres:5432/eventinvoke",
    ("eventinvoke-credentials", "auth"): "AKIDSUITE:suite-secret:service",
}
GRPC_PORT = 50051
HTTP_PORT = 9001


def test_the_overlays_are_the_documented_ones() -> None:
    assert OVERLAYS == ["base", "cluster", "cluster-keda", "single-node"]
    assert (ROOT / "kubernetes" / "components" / "keda" / "kustomization.yaml").is_file()


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_kubernetes_in_strict_mode(overlay: str, version: str) -> None:
    without_schema = []
    for document in render(overlay):
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            without_schema.append(document["kind"])
        except kubernetes_validate.ValidationError as error:
            where = f"{document['kind']}/{document['metadata']['name']}"
            pytest.fail(f"{overlay}: {where}: {error.message} at {list(error.path)}")
    # Only KEDA's custom resources go unvalidated here (test_keda_* checks them).
    assert set(without_schema) <= KEDA_KINDS, without_schema


def test_strict_validation_refuses_a_misspelt_field() -> None:
    """The control for the test above: a typo in a probe's name is an error, not ignored."""
    [statefulset] = find(render("single-node"), "StatefulSet")
    broken = copy.deepcopy(statefulset)
    spec = container(broken)
    spec["readinesProbe"] = spec.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


# --- each workload ----------------------------------------------------------------------------


def _workloads() -> list[tuple[str, dict[str, Any]]]:
    return [(o, w) for o in WORKLOAD_OVERLAYS for w in workloads(render(o))]


WORKLOADS = _workloads()
IDS = [f"{o}-{w['metadata']['name']}" for o, w in WORKLOADS]


def _port(spec: dict[str, Any], name: str) -> int:
    [port] = [p["containerPort"] for p in spec["ports"] if p["name"] == name]
    return int(port)


@pytest.mark.parametrize(("overlay", "workload"), WORKLOADS, ids=IDS)
def test_probes_are_kubernetes_grpc_probes_on_the_health_service(
    overlay: str, workload: dict[str, Any]
) -> None:
    spec = container(workload)
    image_listen = read_dockerfile().env({})["EVENTINVOKE_LISTEN"]
    assert _port(spec, "grpc-api") == GRPC_PORT == int(image_listen.rsplit(":", 1)[1])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        # Service "" (the default): the server as a whole, which every role serves.
        assert spec[probe]["grpc"] == {"port": GRPC_PORT}, probe
    readiness, liveness = spec["readinessProbe"], spec["livenessProbe"]
    # Liveness gives up much later than readiness: a busy process is taken out of rotation,
    # only a stuck one is restarted.
    patience = liveness["periodSeconds"] * liveness["failureThreshold"]
    assert patience > 2 * readiness["periodSeconds"] * readiness["failureThreshold"]
    assert liveness["terminationGracePeriodSeconds"] <= 60


def _quantity(text: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    text = str(text)
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


@pytest.mark.parametrize(("overlay", "workload"), WORKLOADS, ids=IDS)
def test_resources_have_requests_and_limits(overlay: str, workload: dict[str, Any]) -> None:
    resources = container(workload)["resources"]
    for name in ("cpu", "memory"):
        assert _quantity(resources["requests"][name]) <= _quantity(resources["limits"][name])


@pytest.mark.parametrize(("overlay", "workload"), WORKLOADS, ids=IDS)
def test_the_pod_runs_as_the_images_user_read_only_with_no_more_capabilities_than_it_needs(
    overlay: str, workload: dict[str, Any]
) -> None:
    pod = workload["spec"]["template"]["spec"]
    spec = container(workload)
    uid, _, gid = read_dockerfile().user().partition(":")

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
        int(uid),
        int(gid),
    )
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # EVENTINVOKE_PORT & co. from a Service's name
    confined = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    if component(workload) in ("executor", "suite"):
        # The roles that run sandboxes are root in a user namespace of their own, with the
        # capabilities that give each sandbox a user (tests/security/test_isolation.py runs a
        # suite with exactly these).
        assert pod["hostUsers"] is False
        assert spec["securityContext"] == {
            **confined,
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "capabilities": {
                "drop": ["ALL"],
                "add": ["CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"],
            },
        }
    else:
        assert "hostUsers" not in pod
        assert spec["securityContext"] == confined
    # What is written goes to volumes: /tmp always, the data directory where a role keeps data.
    mounts = {m["mountPath"]: m["name"] for m in spec["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    data_dir = read_dockerfile().env({})["EVENTINVOKE_DATA_DIR"]
    if component(workload) in ("executor", "suite"):  # code, logs (and SQLite, single-node)
        assert mounts[data_dir] in claims | {n for n, v in volumes.items() if "emptyDir" in v}
    if component(workload) == "suite":
        assert mounts[data_dir] in claims  # the SQLite database outlives the pod


def _drain_bound(role: str, pre_stop: int) -> int:
    """The longest a role's graceful stop can take, from the code's own timeouts: the preStop
    sleep, then Server.stop (workers in reverse order, then the gRPC grace), then the sandbox
    host's stop. Work started before SIGTERM runs meanwhile, so phases overlap where noted."""
    grpc_grace = inspect.signature(Server.stop).parameters["grace"].default
    http_in_flight = (
        inspect.signature(web.BaseRunner.__init__).parameters["shutdown_timeout"].default
    )  # aiohttp's, which the gateway keeps
    delivery = botocore.endpoint.DEFAULT_TIMEOUT  # one AWS call's read timeout
    function = MAX_TIMEOUT  # the longest event an executor lets finish
    bounds = {
        "invoker": pre_stop + grpc_grace,
        "router": pre_stop + delivery + grpc_grace,
        "gateway": pre_stop + http_in_flight + grpc_grace,
        "executor": pre_stop + function + grpc_grace + STOP_GRACE,
        # The gateway's requests and the executor's events run side by side; the router then
        # delivers what the last events produced.
        "suite": pre_stop + max(http_in_flight, function) + delivery + grpc_grace + STOP_GRACE,
    }
    return int(bounds[role])


@pytest.mark.parametrize(("overlay", "workload"), WORKLOADS, ids=IDS)
def test_the_grace_period_outlasts_the_drain(overlay: str, workload: dict[str, Any]) -> None:
    spec = container(workload)
    pre_stop = spec["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    bound = _drain_bound(component(workload), int(pre_stop[1]))
    grace = workload["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > bound, f"{grace} s for a drain of up to {bound} s"
    assert grace <= bound + 120  # and no slower rollouts than that needs


@pytest.mark.parametrize(("overlay", "workload"), WORKLOADS, ids=IDS)
def test_a_disruption_budget_covers_the_pods_without_blocking_drains(
    overlay: str, workload: dict[str, Any]
) -> None:
    objects = render(overlay)
    labels = pod_labels(workload)
    budgets = [
        b
        for b in find(objects, "PodDisruptionBudget")
        if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    assert len(budgets) == 1
    [budget] = budgets
    assert budget["spec"]["selector"] == workload["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] == 1  # one pod at a time; never 0, which blocks
    assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


# --- Services, peers, settings ----------------------------------------------------------------


def _selected(objects: list[dict[str, Any]], service: dict[str, Any]) -> list[dict[str, Any]]:
    selector = service["spec"]["selector"]
    return [w for w in workloads(objects) if selector.items() <= pod_labels(w).items()]


@pytest.mark.parametrize("overlay", WORKLOAD_OVERLAYS)
def test_services_name_their_protocols_for_meshes(overlay: str) -> None:
    objects = render(overlay)
    services = find(objects, "Service")
    assert services
    for service in services:
        [workload] = _selected(objects, service)
        container_ports = {p["name"]: p["containerPort"] for p in container(workload)["ports"]}
        for port in service["spec"]["ports"]:
            protocol = port["name"].split("-")[0]
            assert protocol in ("grpc", "http"), port["name"]
            assert port["appProtocol"] == protocol
            assert port["targetPort"] in container_ports
            assert port["port"] == container_ports[port["targetPort"]]
            if protocol == "grpc" or port["name"] == "http-api":  # the ports the image sets
                assert port["port"] == (GRPC_PORT if protocol == "grpc" else HTTP_PORT)
        # Every port the pod listens on is in a Service, so a mesh never guesses a protocol.
        assert {p["targetPort"] for p in service["spec"]["ports"]} == set(container_ports)


@pytest.mark.parametrize("overlay", WORKLOAD_OVERLAYS)
def test_peers_are_headless_services_that_dns_resolves_to_every_replica(overlay: str) -> None:
    objects = render(overlay)
    peers_seen = 0
    for workload in workloads(objects):
        env = container_env(objects, workload, SECRETS)
        for variable, value in env.items():
            if not variable.endswith("_ENDPOINT"):
                continue
            peers_seen += 1
            role = variable.removeprefix(config.ENV_PREFIX).removesuffix("_ENDPOINT").lower()
            assert value.startswith("dns:///"), value
            name, port = value.removeprefix("dns:///").rsplit(":", 1)
            service = one(objects, "Service", name)
            assert service["spec"]["clusterIP"] == "None"  # headless: every replica's address
            assert [component(w) for w in _selected(objects, service)] == [role]
            assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    # The cluster's invoker (executor), router (invoker) and gateway (invoker) name peers.
    assert peers_seen == (3 if overlay.startswith("cluster") else 0)


@pytest.mark.parametrize(("overlay", "workload"), WORKLOADS, ids=IDS)
def test_each_containers_settings_load(overlay: str, workload: dict[str, Any]) -> None:
    """The image's variables, then the manifests' (ConfigMap, env): all real settings, with
    values that eventinvoke accepts, the database URL from a Secret only."""
    objects = render(overlay)
    image = {k: v for k, v in read_dockerfile().env({}).items() if k.startswith(config.ENV_PREFIX)}
    env = {**image, **container_env(objects, workload, SECRETS)}
    known = {config.variable(name) for name, *_ in config.fields()}
    assert set(env) <= known, set(env) - known  # a misspelt name would be silently ignored
    settings = config.Settings.load(environ=env)

    role = component(workload)
    assert (settings.backend != "") == (role in ("invoker", "executor", "router"))
    for variable in container(workload).get("env", []):
        if variable["name"] == "EVENTINVOKE_BACKEND":
            assert "value" not in variable
            assert variable["valueFrom"]["secretKeyRef"] == {
                "name": "eventinvoke-database",
                "key": "url",
            }
    assert container(workload)["args"] == (["up"] if role == "suite" else ["serve", role])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_credentials_are_in_the_manifests(overlay: str) -> None:
    assert not find(render(overlay), "Secret")  # created by the operator (docs/deploy.md)


@pytest.mark.parametrize("overlay", WORKLOAD_OVERLAYS)
def test_the_image_is_this_release(overlay: str) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {container(w)["image"] for w in workloads(render(overlay))}
    assert images == {f"eventinvoke:{version}"}


def test_single_node_runs_the_images_default_command_as_one_statefulset() -> None:
    objects = render("single-node")
    [statefulset] = workloads(objects)
    assert statefulset["kind"] == "StatefulSet" and statefulset["spec"]["replicas"] == 1
    assert container(statefulset)["args"] == read_dockerfile().cmd()
    assert one(objects, "Service", statefulset["spec"]["serviceName"])["spec"]["clusterIP"] == (
        "None"
    )


# --- who may connect --------------------------------------------------------------------------


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", "extend _selects for other operators"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _allowed_ports(
    objects: list[dict[str, Any]],
    workload: dict[str, Any],
    peer: dict[str, str] | None,
    namespace: dict[str, str] | None = None,
) -> set[int]:
    """The container ports a peer may connect to: a pod of the app with labels ``peer``, or
    (None) a client pod elsewhere, in a namespace labelled ``namespace`` if given.
    NetworkPolicy's rules: a pod selected by a policy accepts only what one of the policies
    selecting it allows; ports by name or number."""
    labels = pod_labels(workload)
    ports = {p["name"]: p["containerPort"] for p in container(workload)["ports"]}
    policies = [
        p for p in find(objects, "NetworkPolicy") if _selects(p["spec"]["podSelector"], labels)
    ]
    if not policies:
        return set(ports.values())
    allowed: set[int] = set()
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"].get("ingress", []):
            sources = rule.get("from", [])
            admits = not sources or any(
                (
                    peer is not None
                    and set(source) == {"podSelector"}
                    and _selects(source["podSelector"], peer)
                )
                or (
                    namespace is not None
                    and set(source) == {"namespaceSelector"}
                    and _selects(source["namespaceSelector"], namespace)
                )
                for source in sources
            )
            if not admits:
                continue
            if "ports" not in rule:
                allowed |= set(ports.values())
            for port in rule.get("ports", []):
                number = ports.get(port["port"], port["port"])
                if number in ports.values():
                    allowed.add(number)
    return allowed


@pytest.mark.parametrize("overlay", WORKLOAD_OVERLAYS)
def test_clients_reach_only_the_invoker_and_the_gateway(overlay: str) -> None:
    objects = render(overlay)
    from_outside = {}
    for workload in workloads(objects):
        from_outside[component(workload)] = _allowed_ports(objects, workload, None)
        # Inside the app, every pod reaches every port of every other.
        inside = _allowed_ports(objects, workload, {"app.kubernetes.io/name": "eventinvoke"})
        assert inside == {p["containerPort"] for p in container(workload)["ports"]}

    if overlay == "single-node":
        assert from_outside == {"suite": {GRPC_PORT, HTTP_PORT}}
    else:
        assert from_outside == {
            "invoker": {GRPC_PORT},
            "gateway": {HTTP_PORT, GRPC_PORT},  # HTTP, and gRPC health
            "executor": set(),
            "router": set(),
        }


@pytest.mark.parametrize("overlay", WORKLOAD_OVERLAYS)
def test_prometheus_reaches_every_pods_metrics_port_and_clients_do_not(
    overlay: str,
) -> None:
    objects = render(overlay)
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    for workload in workloads(objects):
        metrics = _port(container(workload), "http-metrics")
        allowed = _allowed_ports(objects, workload, prometheus, monitoring)
        # What any client may reach (the API), and the metrics port.
        assert allowed == _allowed_ports(objects, workload, None) | {metrics}
        # Clients from elsewhere do not reach it.
        assert metrics not in _allowed_ports(objects, workload, None)


# --- metrics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("overlay", "workload"), WORKLOADS, ids=IDS)
def test_every_pod_serves_metrics_on_the_port_its_annotations_and_services_name(
    overlay: str, workload: dict[str, Any]
) -> None:
    objects = render(overlay)
    image = {k: v for k, v in read_dockerfile().env({}).items() if k.startswith(config.ENV_PREFIX)}
    settings = config.Settings.load(environ={**image, **container_env(objects, workload, SECRETS)})
    port = _port(container(workload), "http-metrics")
    assert settings.metrics_listen == f"0.0.0.0:{port}"  # every interface: scraped from outside
    annotations = workload["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    [service] = [s for s in find(objects, "Service") if workload in _selected(objects, s)]
    assert {"name": "http-metrics", "port": port, "targetPort": "http-metrics"}.items() <= (
        next(p for p in service["spec"]["ports"] if p["name"] == "http-metrics").items()
    )


# --- KEDA -------------------------------------------------------------------------------------


def test_keda_adds_only_its_objects_and_hands_it_the_executors_count() -> None:
    cluster, keda = render("cluster"), render("cluster-keda")
    added = [o for o in keda if o not in cluster]
    assert sorted(o["kind"] for o in added) == [
        "Deployment",
        "ScaledObject",
        "TriggerAuthentication",
    ]
    executor, scaled = one(keda, "Deployment", "executor"), one(cluster, "Deployment", "executor")
    assert "replicas" not in executor["spec"]  # the autoscaler's from now on
    del scaled["spec"]["replicas"]
    assert executor == scaled  # and nothing else changed


# The fields of KEDA's keda.sh/v1alpha1 objects these manifests may use (KEDA's CRDs), and the
# trigger metadata its postgresql scaler reads (pkg/scalers/postgresql_scaler.go: query,
# targetQueryValue, activationTargetQueryValue; the connection from the TriggerAuthentication).
SCALED_OBJECT_SPEC = {
    "scaleTargetRef",
    "minReplicaCount",
    "maxReplicaCount",
    "pollingInterval",
    "cooldownPeriod",
    "advanced",
    "triggers",
}
POSTGRESQL_METADATA = {"query", "targetQueryValue", "activationTargetQueryValue"}


def test_keda_scaled_object_holds_what_keda_reads() -> None:
    objects = render("cluster-keda")
    [scaled] = find(objects, "ScaledObject")
    [authentication] = find(objects, "TriggerAuthentication")
    assert scaled["apiVersion"] == authentication["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert set(spec) <= SCALED_OBJECT_SPEC, set(spec) - SCALED_OBJECT_SPEC

    target = spec["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    executor = one(objects, "Deployment", target["name"])
    assert component(executor) == "executor"
    # Never zero: a synchronous invoke needs an executor. The bounds are integers.
    assert isinstance(spec["minReplicaCount"], int) and spec["minReplicaCount"] >= 1
    assert isinstance(spec["maxReplicaCount"], int)
    assert spec["maxReplicaCount"] > spec["minReplicaCount"]
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert set(behavior) == {"scaleDown"}
    assert set(behavior["scaleDown"]) == {"stabilizationWindowSeconds", "policies"}

    [trigger] = spec["triggers"]
    assert trigger["type"] == "postgresql"
    assert set(trigger) == {"type", "metadata", "authenticationRef"}
    metadata = trigger["metadata"]
    assert set(metadata) <= POSTGRESQL_METADATA and "query" in metadata
    # KEDA's metadata is a map of strings: a bare number would be refused by the API server.
    assert all(isinstance(value, str) for value in metadata.values())
    assert float(metadata["activationTargetQueryValue"]) == 0
    # One executor per executor_concurrency due events.
    concurrency = config.Settings.load(environ=container_env(objects, executor, SECRETS))
    assert float(metadata["targetQueryValue"]) == concurrency.executor_concurrency
    assert trigger["authenticationRef"] == {"name": authentication["metadata"]["name"]}


def test_keda_reads_the_database_url_from_the_executors_secret() -> None:
    objects = render("cluster-keda")
    [authentication] = find(objects, "TriggerAuthentication")
    assert set(authentication["spec"]) == {"secretTargetRef"}
    [reference] = authentication["spec"]["secretTargetRef"]
    assert reference["parameter"] == "connection"  # the scaler's full connection string
    [backend] = [
        v for v in container(one(objects, "Deployment", "executor"))["env"]
        if v["name"] == "EVENTINVOKE_BACKEND"
    ]  # fmt: skip
    assert backend["valueFrom"]["secretKeyRef"] == {
        "name": reference["name"],
        "key": reference["key"],
    }


def test_kedas_most_executors_fit_postgresqls_default_connections() -> None:
    """Each process holds its pool, the group-commit writers' connections and the listener's;
    at most max_connections (100 by default) for the cluster at its largest."""
    objects = render("cluster-keda")
    [scaled] = find(objects, "ScaledObject")
    fixed = sum(
        w["spec"]["replicas"] for w in workloads(objects) if component(w) in ("invoker", "router")
    )
    assert (fixed + scaled["spec"]["maxReplicaCount"]) * CONNECTIONS <= 100


# --- the docs say what the manifests do -------------------------------------------------------


def test_the_docs_apply_real_overlays_and_state_the_real_grace_periods() -> None:
    docs = (ROOT / "docs" / "deploy.md").read_text() + (ROOT / "README.md").read_text()
    for overlay in re.findall(r"-k kubernetes/([\w-]+)", docs):
        assert overlay in OVERLAYS, overlay
    table = dict(
        re.findall(r"^\| (invoker|router|gateway|executor|single node) \| (\d+) s \|", docs, re.M)
    )
    graces = {
        ("single node" if component(w) == "suite" else component(w)): str(
            w["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        )
        for _, w in WORKLOADS
    }
    assert table == graces
