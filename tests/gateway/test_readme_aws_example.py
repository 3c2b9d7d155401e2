"""The README's ``aws lambda invoke ... --endpoint-url`` example, read from README.md and run as a
new user would: the AWS CLI with an empty home (no ~/.aws) and no AWS_* variables but those the
example exports. If the example stops working as written, this fails."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from gateway.harness import AWS, GatewaySuite

README = Path(__file__).parents[2] / "README.md"
# The README's address is `eventinvoke up`'s default --http-listen; the test's gateway has its own.
README_URL = "http://127.0.0.1:9001"


def readme_example() -> tuple[dict[str, str], list[str], str]:
    """The variables the example exports, its ``aws`` command, and the output it shows."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    [block] = [b for b in blocks if "aws lambda invoke" in b]
    lines = block.replace("\\\n", " ").splitlines()
    exported: dict[str, str] = {}
    for line in lines:
        if line.startswith("export "):
            exported.update(word.split("=", 1) for word in shlex.split(line)[1:])
    [command] = [line for line in lines if line.startswith("aws ")]
    shown = "".join(line + "\n" for line in lines[lines.index(command) + 1 :])
    return exported, shlex.split(command), shown


def test_the_readme_aws_cli_example_runs_as_written(gateway: GatewaySuite, tmp_path: Path) -> None:
    exported, argv, shown = readme_example()
    gateway.deploy("event-destinations", "tester")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), **exported}
    argv = [gateway.url if arg == README_URL else arg for arg in argv]

    run = subprocess.run(
        [AWS, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )

    assert gateway.url in argv
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == shown
    assert (tmp_path / "response.json").read_bytes() == b""
