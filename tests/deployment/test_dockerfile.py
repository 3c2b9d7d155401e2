"""The container image, without a Docker engine: the Dockerfile is linted with hadolint, its
final stage says what docs/deploy.md says (entrypoint, command, user, volume, ports, settings),
and its build context (the repository less .dockerignore) builds a complete wheel, as the build
stage's `pip install /src` does. test_image_commands.py runs its command lines."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from deployment.harness import DOCKERFILE, HADOLINT, ROOT, read_dockerfile

from eventinvoke.server import config

BASE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"  # python:*-slim's


def _hadolint(path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # Every rule at every level counts (style and info too), with no user's config file.
        [str(HADOLINT), "--no-color", "--format", "json", "--failure-threshold", "style", path],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home)},
    )


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    run = _hadolint(DOCKERFILE, tmp_path)
    assert json.loads(run.stdout or "[]") == [], run.stdout
    assert run.returncode == 0, run.stderr


def test_hadolint_does_fail_a_dockerfile_that_breaks_its_rules(tmp_path: Path) -> None:
    """The control for the test above: the linter runs and its findings fail the run."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\nUSER root\n")
    run = _hadolint(bad, tmp_path)
    assert run.returncode != 0
    assert {finding["code"] for finding in json.loads(run.stdout)} >= {"DL3006", "DL3002"}


def test_the_image_runs_eventinvoke_up_as_a_numeric_non_root_user_on_its_volume() -> None:
    image = read_dockerfile()
    env = image.env({"PATH": BASE_PATH})

    assert image.entrypoint() == ["eventinvoke"]
    assert image.cmd() == ["up"]
    user, _, group = image.user().partition(":")
    # A number: Kubernetes' runAsNonRoot cannot check a name.
    assert user.isdigit() and int(user) != 0 and group.isdigit() and int(group) != 0
    # The data directory is the volume, the working directory, and the user's home.
    assert json.loads(image.final.last("VOLUME")) == [env["EVENTINVOKE_DATA_DIR"]]
    assert image.final.last("WORKDIR") == env["EVENTINVOKE_DATA_DIR"]
    assert f"--home-dir {env['EVENTINVOKE_DATA_DIR']}" in " ".join(image.final.all("RUN"))
    # Both servers listen on every interface, on the ports the image exposes.
    listens = [env["EVENTINVOKE_LISTEN"], env["EVENTINVOKE_HTTP_LISTEN"]]
    assert [listen.rsplit(":", 1)[0] for listen in listens] == ["0.0.0.0", "0.0.0.0"]
    exposed = image.final.last("EXPOSE").split()
    assert exposed == [listen.rsplit(":", 1)[1] for listen in listens]
    # eventinvoke is found on the PATH, in the virtual environment the build stage made.
    assert env["PATH"].split(":")[0] == "/opt/eventinvoke/bin"
    assert "--from=build /opt/eventinvoke /opt/eventinvoke" in image.final.all("COPY")


def test_the_images_settings_are_real_settings_with_valid_values() -> None:
    env = read_dockerfile().env({"PATH": BASE_PATH})
    ours = {k: v for k, v in env.items() if k.startswith(config.ENV_PREFIX)}
    known = {config.variable(name) for name, *_ in config.fields()}

    assert ours and set(ours) <= known, set(ours) - known  # a misspelt one would be ignored
    assert "EVENTINVOKE_AUTH" not in ours  # credentials come at run time, never in the image
    with pytest.raises(config.SettingError, match="no credentials are configured"):
        config.Settings.load(environ=ours)  # on every interface, it will not serve open
    settings = config.Settings.load(environ={**ours, "EVENTINVOKE_AUTH": "AKID:secret:admin"})
    assert settings.data_dir == Path(ours["EVENTINVOKE_DATA_DIR"])
    assert settings.log_format == "json"


def test_both_stages_start_from_the_same_python_image() -> None:
    """The virtual environment built in the first stage is copied into the second, where it
    must find the same interpreter at the same path."""
    image = read_dockerfile()
    assert [stage.name for stage in image.stages] == ["build", ""]
    assert image.stages[0].base == image.stages[1].base
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert re.fullmatch(r"python:3\.(\d+)-slim-\w+", image.stages[0].base)
    assert python == ">=3.11" and image.stages[0].base.startswith("python:3.11-")


def test_everything_in_the_image_comes_from_pypi_or_debian() -> None:
    """No binary from anywhere else: no download tool, no remote ADD, no git."""
    image = read_dockerfile()
    runs = " ".join(arguments for stage in image.stages for arguments in stage.all("RUN"))
    for forbidden in ("curl", "wget", "git ", "http://", "https://"):
        assert forbidden not in runs
    for stage in image.stages:
        assert not stage.all("ADD")
    tools = {re.match(r"\S+", part.strip()).group(0) for part in re.split(r"&&", runs)}  # type: ignore[union-attr]
    assert tools <= {
        "python",
        "/opt/eventinvoke/bin/pip",
        "apt-get",
        "rm",
        "groupadd",
        "useradd",
        "install",
    }, tools


# --- the build context ------------------------------------------------------------------------


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression over slash-separated paths."""
    text = text.strip("/")
    out = ""
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(out)


def _ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path, or one of its parent directories,
    decides; ``!`` patterns take back in."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negated, pattern in rules:
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def _build_context(target: Path) -> list[str]:
    """Copy what `docker build .` would send (the repository less .dockerignore) to ``target``;
    returns the paths copied."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), _pattern(line.lstrip("!"))))
    copied = []
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT).as_posix()
        if path.is_dir() or _ignored(relative, rules):
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / relative)
        copied.append(relative)
    return copied


def test_the_build_context_holds_the_sources_and_nothing_local(tmp_path: Path) -> None:
    copied = _build_context(tmp_path / "context")

    assert {"pyproject.toml", "hatch_build.py", "README.md"} <= set(copied)
    assert "protos/eventinvoke/v1/invoker_service.proto" in copied
    assert "services/eventinvoke/executor/runtimes/node/bootstrap.mjs" in copied
    for local in (".venv/", ".git", "node_modules/", "__pycache__/", ".eventinvoke/", "tests/"):
        assert not [p for p in copied if local in p or p.startswith(local)], local
    assert not [p for p in copied if re.search(r"_pb2(_grpc)?\.pyi?$", p)]  # generated afresh
    assert len(copied) < 400


@pytest.mark.timeout(300)
def test_the_build_context_builds_a_complete_wheel(tmp_path: Path) -> None:
    """What the build stage's `pip install /src` builds, from the same files: the protobuf
    code generated, the runtimes' bootstraps and the entry points in. Built here without
    build isolation (hatchling and grpcio-tools come from the test extra), so offline."""
    context = tmp_path / "context"
    _build_context(context)
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(tmp_path / "dist"), str(context)],
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("eventinvoke-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(
            archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")
        )

    for proto in ("invoker_service", "executor_service", "router_service", "function", "record"):
        assert f"eventinvoke/v1/{proto}_pb2.py" in names
    assert "eventinvoke/v1/invoker_service_pb2_grpc.py" in names
    assert "eventinvoke/executor/runtimes/node/bootstrap.mjs" in names
    assert "eventinvoke/executor/runtimes/python/bootstrap.py" in names
    assert "eventinvoke/destinations/sqs/__init__.py" in names
    assert "eventinvoke/client/__init__.py" in names
    assert "eventinvoke = eventinvoke.cli:main" in entry_points
    assert "sqs = eventinvoke.destinations.sqs" in entry_points
