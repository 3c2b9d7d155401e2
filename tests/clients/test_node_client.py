"""The Node.js client (clients/node) against the real suite: the protos serve another language.

``make install`` runs ``npm install --prefix clients/node``; this test installs the packages itself
when they are missing (``npm ci``, from the lock file).

Against a suite with credentials configured, the client signs its calls with keys given, from
the AWS environment variables or from a profile, and a wrong or missing signature reaches Node
as AWS's exception name. Against a suite serving TLS (and mutual TLS), it trusts the CA given or
the one AWS_CA_BUNDLE names, presents its certificate, and signs its calls as over plain text.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FUNCTIONS, read_lines, serving_in_thread, test_settings, wait_until, zip_dir
from gateway.harness import GatewaySuite, run_gateway_suite
from security.pki import Pki

from eventinvoke.app import Suite
from eventinvoke.client import Client, ResourceNotFoundException, Tls
from eventinvoke.core.auth import Credential
from eventinvoke.server.config import Auth

NODE_CLIENT = Path(__file__).parents[2] / "clients" / "node"
ARN = "arn:aws:lambda:us-east-1:000000000000:function"
ADMIN = ("AKIDNODEADMIN", "node-admin-secret")
INVOKER = ("AKIDNODEINVOKE", "node-invoke-secret")
AUTH = Auth((Credential(*ADMIN, "admin"), Credential(*INVOKER, "invoke")))

# Invokes the function argv[3] argv[4] times (Event) with the client of index.js (argv[1]) at
# argv[2], built with the options argv[5] (JSON); prints the status codes, or the error's name
# and message on stderr.
INVOKE = """
const { InvokerClient } = require(process.argv[1]);
const [address, name, times, options] = process.argv.slice(2);
const client = new InvokerClient(address, JSON.parse(options));
(async () => {
  const codes = [];
  for (let i = 0; i < Number(times); i++) {
    const answer = await client.invoke({
      function_name: name,
      invocation_type: "INVOCATION_TYPE_EVENT",
      payload: Buffer.from("{}"),
    });
    codes.push(answer.status_code);
  }
  console.log(JSON.stringify(codes));
})()
  .catch((error) => {
    console.error(`${error.code}: ${error.message}`);
    process.exitCode = 1;
  })
  .finally(() => client.close());
"""


def _node_packages() -> None:
    wanted = json.loads((NODE_CLIENT / "package.json").read_text())["dependencies"]
    if not all((NODE_CLIENT / "node_modules" / name).is_dir() for name in wanted):
        npm = shutil.which("npm")
        assert npm, "npm is needed for the Node.js client (https://nodejs.org)"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_CLIENT, check=True, timeout=300
        )


def _env(tmp_path: Path, **aws: str) -> dict[str, str]:
    """The environment of a node process: no AWS credentials but ``aws``, and never the
    developer's own ~/.aws files (the test's paths, which need not exist)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
    )
    env.update(aws)
    return env


def _node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _run_node(str(NODE_CLIENT / "example.js"), *args, env=env)


def _invoke(
    address: str,
    function: str,
    env: dict[str, str],
    times: int = 1,
    **options: object,
) -> subprocess.CompletedProcess[str]:
    """``INVOKE`` with the client options ``options``."""
    index = str(NODE_CLIENT / "index.js")
    return _run_node(
        "-e", INVOKE, index, address, function, str(times), json.dumps(options), env=env
    )


def _run_node(*args: str, env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is needed for the Node.js client (https://nodejs.org)"
    assert env is not None, "a node process gets an environment without the developer's AWS keys"
    return subprocess.run([node, *args], capture_output=True, text=True, timeout=60, env=env)


def test_node_example_creates_configures_and_invokes_async_and_runs_again(
    suite_in_thread: str, tmp_path: Path
) -> None:
    _node_packages()
    records = tmp_path / "records.jsonl"
    records.touch()
    with Client(suite_in_thread) as client:
        client.create_function(
            function_name="collector",
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / "collector"),
            environment={"Variables": {"COLLECT_FILE": str(records)}},
        )

        run = _node(
            suite_in_thread,
            "--function-name",
            "from-node",
            "--on-success",
            f"{ARN}:collector",
            env=_env(tmp_path),
        )

        assert run.returncode == 0, run.stderr
        lines = [json.loads(line) for line in run.stdout.splitlines()]
        assert lines[0] == {"FunctionArn": f"{ARN}:from-node"}
        assert lines[1] == {"EventInvokeConfig": f"{ARN}:from-node:$LATEST"}
        assert lines[2]["StatusCode"] == 202
        request_id = lines[2]["RequestId"]
        # What Node created is what Python sees.
        config = client.get_function_event_invoke_config("from-node")
        assert config["MaximumRetryAttempts"] == 0
        assert config["DestinationConfig"]["OnSuccess"] == {"Destination": f"{ARN}:collector"}

        [line] = wait_until(lambda: read_lines(records))
        record = line["event"]
        assert record["requestContext"]["requestId"] == request_id
        assert record["requestContext"]["condition"] == "Success"
        assert record["requestPayload"] == {"from": "node"}
        assert record["responsePayload"] == {"hello": {"from": "node"}, "request_id": request_id}

        # Again, against the same server: the function exists, so its code is updated.
        first = client.get_function_configuration("from-node")
        again = _node(
            suite_in_thread,
            "--function-name",
            "from-node",
            "--on-success",
            f"{ARN}:collector",
            env=_env(tmp_path),
        )

        assert again.returncode == 0, again.stderr
        lines = [json.loads(line) for line in again.stdout.splitlines()]
        assert lines[0] == {"FunctionArn": f"{ARN}:from-node"}
        assert lines[1] == {"EventInvokeConfig": f"{ARN}:from-node:$LATEST"}
        assert lines[2]["StatusCode"] == 202
        [second] = wait_until(lambda: read_lines(records)[1:])
        assert second["event"]["requestContext"]["requestId"] == lines[2]["RequestId"]
        updated = client.get_function_configuration("from-node")
        assert updated["RevisionId"] != first["RevisionId"]  # UpdateFunctionCode ran


def test_node_client_raises_aws_errors(suite_in_thread: str, tmp_path: Path) -> None:
    """A destination AWS refuses: the AWS exception name and message reach Node."""
    _node_packages()
    role = "arn:aws:iam::000000000000:role/not-a-destination"

    run = _node(
        suite_in_thread, "--function-name", "refused", "--on-success", role, env=_env(tmp_path)
    )

    assert run.returncode == 1
    assert run.stderr.strip() == (
        "InvalidParameterValueException: The provided destination config "
        f"DestinationConfig(onSuccess=OnSuccess(destination={role}), onFailure=null) is invalid."
    )
    with Client(suite_in_thread) as client:
        assert client.get_function("refused")["Configuration"]["FunctionName"] == "refused"
        with pytest.raises(ResourceNotFoundException):  # and the Python client agrees on errors
            client.get_function_event_invoke_config("refused")


# Asks GetInvocation for argv[3] at argv[2] with the client of index.js (argv[1]) until it
# settles; prints the answer (Timestamps as ISO strings), or the error's name and message.
GET_INVOCATION = """
const { InvokerClient } = require(process.argv[1]);
const [address, requestId] = process.argv.slice(2);
const client = new InvokerClient(address);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const iso = (key, value) =>
  value && value.seconds !== undefined ? new Date(value.seconds * 1000).toISOString() : value;
(async () => {
  for (;;) {
    const answer = await client.getInvocation({ request_id: requestId });
    if (answer.status === "SUCCEEDED" || answer.status === "FAILED") {
      console.log(JSON.stringify(answer, iso));
      return;
    }
    await sleep(50);
  }
})()
  .catch((error) => {
    console.error(`${error.code} ${error.httpStatus}: ${error.message}`);
    process.exitCode = 1;
  })
  .finally(() => client.close());
"""


def test_node_client_asks_what_became_of_an_invocation(
    suite_in_thread: str, tmp_path: Path
) -> None:
    _node_packages()
    index = str(NODE_CLIENT / "index.js")
    with Client(suite_in_thread) as client:
        client.create_function(
            function_name="echo",
            runtime="python3.11",
            handler="index.handler",
            zip_file=zip_dir(FUNCTIONS / "echo"),
        )
        invoked = client.invoke(function_name="echo", invocation_type="Event", payload=b"{}")
    request_id = invoked["ResponseMetadata"]["RequestId"]

    found = _run_node("-e", GET_INVOCATION, index, suite_in_thread, request_id, env=_env(tmp_path))
    unknown = _run_node("-e", GET_INVOCATION, index, suite_in_thread, "nope", env=_env(tmp_path))

    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    assert (answer["request_id"], answer["status"], answer["condition"]) == (
        request_id,
        "SUCCEEDED",
        "Success",
    )
    assert answer["function_arn"] == f"{ARN}:echo:$LATEST"
    [attempt] = answer["attempts"]
    assert attempt["outcome"] == "SUCCEEDED" and attempt["start_time"] <= attempt["end_time"]
    assert "deliveries" not in answer  # none: an empty list is left out (defaults: false)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "ResourceNotFoundException 404: Invocation not found: nope. Event invocations are found "
        "while queued and for 86400 s after they settle."
    )


# --- a suite with credentials configured ------------------------------------------------------


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewaySuite]:
    running = None
    for running in run_gateway_suite(tmp_path_factory.mktemp("node-secured"), auth=AUTH):
        running.deploy("guarded", "echo")
        yield running


def test_node_client_signs_with_keys_given(secured: GatewaySuite, tmp_path: Path) -> None:
    """Keys given to the constructor, a session token too; several calls within a second share
    a signature."""
    _node_packages()
    keys = {"accessKeyId": INVOKER[0], "secretAccessKey": INVOKER[1]}

    plain = _invoke(secured.address, "guarded", _env(tmp_path), times=3, credentials=keys)
    with_token = _invoke(
        secured.address,
        "guarded",
        _env(tmp_path),
        credentials={**keys, "sessionToken": "a-session-token"},
    )

    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout) == [202, 202, 202]
    assert with_token.returncode == 0, with_token.stderr
    assert json.loads(with_token.stdout) == [202]


def test_node_client_takes_keys_from_the_aws_environment(
    secured: GatewaySuite, tmp_path: Path
) -> None:
    _node_packages()
    env = _env(tmp_path, AWS_ACCESS_KEY_ID=INVOKER[0], AWS_SECRET_ACCESS_KEY=INVOKER[1])

    run = _invoke(secured.address, "guarded", env)

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [202]


def test_node_example_takes_keys_from_a_profile(secured: GatewaySuite, tmp_path: Path) -> None:
    """The example, unchanged, with an admin's profile: it creates, configures and invokes. A
    profile named comes before the environment's keys, as in the AWS SDK for JavaScript."""
    _node_packages()
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = AKIDNOBODY\naws_secret_access_key = x\n"
        f"[ops]\naws_access_key_id = {ADMIN[0]}\naws_secret_access_key = {ADMIN[1]}\n"
    )
    env = _env(
        tmp_path,
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_PROFILE="ops",
        AWS_ACCESS_KEY_ID="AKIDNOBODY",
        AWS_SECRET_ACCESS_KEY="x",
    )

    run = _node(secured.address, "--function-name", "node-profile", env=env)

    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert lines[0] == {"FunctionArn": f"{ARN}:node-profile"}
    assert lines[2]["StatusCode"] == 202
    assert secured.client.get_function("node-profile")["Configuration"]["FunctionName"] == (
        "node-profile"
    )


@pytest.mark.parametrize(
    ("credentials", "aws", "error"),
    [
        (
            {"accessKeyId": ADMIN[0], "secretAccessKey": "wrong"},
            {},
            "InvalidSignatureException: The request signature we calculated does not match",
        ),
        (None, {}, "MissingAuthenticationTokenException: Missing Authentication Token"),
        (
            False,
            {"AWS_ACCESS_KEY_ID": ADMIN[0], "AWS_SECRET_ACCESS_KEY": ADMIN[1]},
            ("MissingAuthenticationTokenException: Missing Authentication Token"),
        ),
        # A profile named but not there: the call ends before it is sent.
        (None, {"AWS_PROFILE": "missing"}, "UNAUTHENTICATED: no credentials to sign with: "),
    ],
    ids=["wrong-secret", "no-credentials", "credentials-false", "missing-profile"],
)
def test_node_client_without_or_with_wrong_credentials_gets_aws_errors(
    secured: GatewaySuite,
    tmp_path: Path,
    credentials: dict[str, str] | bool | None,
    aws: dict[str, str],
    error: str,
) -> None:
    _node_packages()
    options = {} if credentials is None else {"credentials": credentials}

    run = _invoke(secured.address, "guarded", _env(tmp_path, **aws), **options)

    assert run.returncode == 1, run.stdout
    assert run.stderr.startswith(error), run.stderr


# --- TLS and mutual TLS -----------------------------------------------------------------------


@contextlib.contextmanager
def _tls_suite(tmp_path: Path, pki: Pki, mutual: bool) -> Iterator[str]:
    """A suite serving TLS only, with credentials configured (and mutual TLS), its function
    ``guarded`` deployed; yields its address."""
    settings = test_settings(
        tmp_path / "data",
        auth=AUTH,
        tls_cert=str(pki.files["server"]),
        tls_key=str(pki.files["server-key"]),
        tls_client_ca=str(pki.files["ca"]) if mutual else "",
    )
    with serving_in_thread(Suite(settings), tmp_path) as address:
        tls = pki.client_tls() if mutual else Tls(pki.ca)
        with Client(f"https://{address}", tls=tls, credentials=ADMIN) as client:
            client.create_function(
                function_name="guarded",
                runtime="python3.11",
                handler="index.handler",
                zip_file=zip_dir(FUNCTIONS / "echo"),
            )
        yield address


def _pem(path: Path) -> str:
    return path.read_text()


def _error(run: subprocess.CompletedProcess[str]) -> str:
    """The error INVOKE printed: its last line of stderr. Node may warn before it (DEP0123:
    grpc-js gives an IP address as the TLS server name, grpc/grpc-node#1919)."""
    assert run.returncode == 1, run.stdout
    return run.stderr.strip().splitlines()[-1]


INVOKER_KEYS = {"accessKeyId": INVOKER[0], "secretAccessKey": INVOKER[1]}


def test_node_client_over_tls_trusts_the_ca_given_or_aws_ca_bundle(tmp_path: Path) -> None:
    _node_packages()
    pki = Pki(tmp_path)
    with _tls_suite(tmp_path, pki, mutual=False) as address:
        given = _invoke(
            address,
            "guarded",
            _env(tmp_path),
            times=2,
            credentials=INVOKER_KEYS,
            tls={"ca": _pem(pki.files["ca"])},
        )
        # An https:// address and the AWS CLI's variable for the CAs, keys from the environment.
        from_environment = _invoke(
            f"https://{address}",
            "guarded",
            _env(
                tmp_path,
                AWS_CA_BUNDLE=str(pki.files["ca"]),
                AWS_ACCESS_KEY_ID=INVOKER[0],
                AWS_SECRET_ACCESS_KEY=INVOKER[1],
            ),
        )
        # Over TLS, the signature is still checked.
        wrong_secret = _invoke(
            f"https://{address}",
            "guarded",
            _env(tmp_path, AWS_CA_BUNDLE=str(pki.files["ca"])),
            credentials={**INVOKER_KEYS, "secretAccessKey": "wrong"},
        )
        plain = _invoke(
            address, "guarded", _env(tmp_path), credentials=INVOKER_KEYS, deadlineSeconds=10
        )
        # Node's own CAs do not include the test's.
        untrusted = _invoke(
            f"https://{address}",
            "guarded",
            _env(tmp_path),
            credentials=INVOKER_KEYS,
            deadlineSeconds=10,
        )

    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout) == [202, 202]
    assert from_environment.returncode == 0, from_environment.stderr
    assert json.loads(from_environment.stdout) == [202]
    assert _error(wrong_secret).startswith("InvalidSignatureException: "), wrong_secret.stderr
    for refused in (plain, untrusted):
        assert _error(refused).startswith("UNAVAILABLE: "), refused.stderr
    assert "self-signed certificate in certificate chain" in _error(untrusted)


def test_node_client_over_mutual_tls_presents_its_certificate(tmp_path: Path) -> None:
    _node_packages()
    pki = Pki(tmp_path)
    ca = _pem(pki.files["ca"])
    with _tls_suite(tmp_path, pki, mutual=True) as address:
        with_certificate = _invoke(
            address,
            "guarded",
            _env(tmp_path),
            credentials=INVOKER_KEYS,
            tls={
                "ca": ca,
                "cert": _pem(pki.files["client"]),
                "key": _pem(pki.files["client-key"]),
            },
        )
        without = _invoke(
            address,
            "guarded",
            _env(tmp_path),
            credentials=INVOKER_KEYS,
            tls={"ca": ca},
            deadlineSeconds=10,
        )

    assert with_certificate.returncode == 0, with_certificate.stderr
    assert json.loads(with_certificate.stdout) == [202]
    assert _error(without).startswith("UNAVAILABLE: "), without.stderr


# Lists the failed deliveries of the function argv[3] with the RouterClient of index.js
# (argv[1]) at argv[2], gets the first, redrives it twice by its id, purges the function's rest;
# prints what each call answered.
FAILED_STORE = """
const { RouterClient } = require(process.argv[1]);
const [address, name] = process.argv.slice(2);
const router = new RouterClient(address, { credentials: false });
(async () => {
  const listed = await router.listFailedDeliveries({ function_name: name });
  const id = listed.failed_deliveries[0].delivery_id;
  const one = await router.getFailedDelivery({ delivery_id: id });
  const first = await router.redriveFailedDeliveries({ delivery_id: id });
  const purged = await router.purgeFailedDeliveries({ function_name: name, reason: "no-such" });
  let missing = null;
  try {
    await router.getFailedDelivery({ delivery_id: "nope" });
  } catch (error) {
    missing = `${error.code}: ${error.message}`;
  }
  // A count of 0 is proto3's default, absent from the answer (defaults: false).
  const count = purged.purged_count || 0;
  const listedCount = listed.failed_deliveries.length;
  console.log(JSON.stringify({ listed: listedCount, id, one, first, count, missing }));
})()
  .catch((error) => {
    console.error(`${error.code}: ${error.message}`);
    process.exitCode = 1;
  })
  .finally(() => router.close());
"""


def test_node_router_client_operates_the_failed_delivery_store(
    suite_in_thread: str, tmp_path: Path
) -> None:
    """An SQS destination this build's tests cannot reach: its record is failed; Node lists it
    by function, reads it, redrives it, and purges by a filter that names nothing."""
    _node_packages()
    queue = "arn:aws:sqs:us-east-1:000000000000:q"
    with Client(suite_in_thread) as client:
        client.create_function("stored", "python3.11", "index.handler", zip_dir(FUNCTIONS / "echo"))
        client.put_function_event_invoke_config(
            "stored", destination_config={"OnSuccess": {"Destination": queue}}
        )
        client.invoke("stored", b"{}", invocation_type="Event")
        [failed] = wait_until(lambda: client.list_failed_deliveries()["FailedDeliveries"])

    index = str(NODE_CLIENT / "index.js")
    run = _run_node("-e", FAILED_STORE, index, suite_in_thread, "stored", env=_env(tmp_path))

    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["listed"] == 1
    assert answer["id"] == failed["DeliveryId"]
    assert answer["one"]["failed_delivery"]["destination"] == {
        "target": queue,
        "kind": "DELIVERY_KIND_ON_SUCCESS",
    }
    assert answer["first"] == {"redriven_count": 1}
    assert answer["count"] == 0
    assert answer["missing"] == "ResourceNotFoundException: Failed delivery not found: nope"
