"""A suite that delivers to no AWS service does not load the AWS SDK, and one that does not trace
does not load OpenTelemetry.

aiobotocore and botocore take about 27 MB of a server's memory; the AWS adapters load them when
they make their first client, so a suite whose records go to its own functions never carries them.
OpenTelemetry's SDK, gRPC instrumentation and OTLP exporter take about 12 MB and 0.3 s to import:
only a server with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set loads them (server/tracing.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, json, sys
from pathlib import Path

from eventinvoke.testing import running_suite, wait_for

RECORDER = '''
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(event) + "\\\\n")
'''

async def main(data_dir, out):
    async with running_suite(Path(data_dir)) as suite:
        recorder = await suite.deploy("recorder", RECORDER, environment={"OUT": out})
        await suite.deploy("echo")
        await suite.set_destinations("echo", on_success=recorder["FunctionArn"])
        await suite.invoke_event("echo", {"n": 1})
        await wait_for(lambda: Path(out).exists() and Path(out).read_text())
    loaded = ("botocore", "aiobotocore", "boto3", "opentelemetry")
    sdk = sorted(m for m in sys.modules if m.split(".")[0] in loaded)
    print(json.dumps(sdk))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_records_to_the_suites_own_functions_load_neither_the_aws_sdk_nor_opentelemetry(
    tmp_path: Path,
) -> None:
    out = tmp_path / "records.jsonl"
    untraced = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(out)],
        env=untraced,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    record = json.loads(out.read_text().splitlines()[0])
    assert record["requestContext"]["condition"] == "Success"  # the record was delivered
    assert json.loads(finished.stdout.splitlines()[-1]) == []


def test_the_command_servers_start_through_does_not_load_the_template_deployer() -> None:
    """``eventinvoke up`` and ``serve`` start through the CLI, which also carries ``deploy``:
    the template code and YAML (1.5 MB) load only when a template is deployed."""
    script = (
        "import json, sys, eventinvoke.cli; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] == 'yaml' or m.startswith('eventinvoke.deploy'))))"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert json.loads(finished.stdout) == []
