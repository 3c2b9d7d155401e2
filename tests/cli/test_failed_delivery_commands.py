"""The failed-delivery store's commands against the real suite: list with filters, get one,
redrive, purge (asking first unless --yes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli.test_commands import ARN, SQS_QUEUE, RunCli, aws_error, create, output
from conftest import FUNCTIONS, wait_until

TOPIC = "arn:aws:sns:us-east-1:000000000000:t"


def _undeliverable(run_cli: RunCli, endpoint: str, tmp_path: Path) -> list[dict[str, Any]]:
    """fn-a's record to an SQS queue and fn-b's to an SNS topic, neither reachable by the
    tests' suite (no AWS adapters): one failed delivery each, listed."""
    for name, target in (("fn-a", SQS_QUEUE), ("fn-b", TOPIC)):
        create(run_cli, endpoint, name, FUNCTIONS / "tester")
        config = json.dumps({"OnSuccess": {"Destination": target}})
        output(
            run_cli(["put-function-event-invoke-config", "--function-name", name,
                     "--destination-config", config], endpoint)
        )  # fmt: skip
        output(
            run_cli(["invoke", "--function-name", name, "--invocation-type", "Event",
                     "--payload", '{"Success": true}', str(tmp_path / "out.json")], endpoint)
        )  # fmt: skip

    def both() -> list[dict[str, Any]] | None:
        found = output(run_cli(["list-failed-deliveries"], endpoint))["FailedDeliveries"]
        return list(found) if len(found) == 2 else None

    return list(wait_until(both))


def _listed(run_cli: RunCli, endpoint: str, *filters: str) -> list[str]:
    found = output(run_cli(["list-failed-deliveries", *filters], endpoint))["FailedDeliveries"]
    return [f["Destination"]["Target"] for f in found]


def test_list_get_redrive_and_purge(run_cli: RunCli, suite_in_thread: str, tmp_path: Path) -> None:
    endpoint = suite_in_thread
    failed = _undeliverable(run_cli, endpoint, tmp_path)
    by_target = {f["Destination"]["Target"]: f for f in failed}

    assert _listed(run_cli, endpoint, "--function-name", "fn-a") == [SQS_QUEUE]
    assert _listed(run_cli, endpoint, "--function-name", f"{ARN}fn-b") == [TOPIC]
    assert _listed(run_cli, endpoint, "--function-name", "fn-b:1") == []
    assert _listed(run_cli, endpoint, "--reason", "sns") == [TOPIC]
    assert _listed(run_cli, endpoint, "--destination", SQS_QUEUE) == [SQS_QUEUE]
    assert sorted(_listed(run_cli, endpoint, "--failed-after", "2000-01-01T00:00:00Z")) == sorted(
        [SQS_QUEUE, TOPIC]
    )
    assert _listed(run_cli, endpoint, "--failed-before", "2000-01-01") == []
    assert _listed(run_cli, endpoint, "--failed-before", "946684800") == []

    one = by_target[SQS_QUEUE]
    got = run_cli(["get-failed-delivery", "--delivery-id", one["DeliveryId"]], endpoint)
    assert output(got) == one
    missing = run_cli(["get-failed-delivery", "--delivery-id", "nope"], endpoint)
    assert (missing.exit_code, missing.stderr) == (
        254,
        aws_error(
            "ResourceNotFoundException", "GetFailedDelivery", "Failed delivery not found: nope"
        ),
    )

    # Redriven, it is tried again: with no adapter it fails again, back in the store.
    redrive = ["redrive-failed-deliveries", "--delivery-id", one["DeliveryId"]]
    assert output(run_cli(redrive, endpoint)) == {"RedrivenCount": 1}
    again = wait_until(
        lambda: output(
            run_cli(["list-failed-deliveries", "--delivery-id", one["DeliveryId"]], endpoint)
        )["FailedDeliveries"]
    )
    assert [f["FailTime"] >= one["FailTime"] for f in again] == [True]

    purge = ["purge-failed-deliveries", "--function-name", "fn-b"]
    refused = run_cli(purge, endpoint, input="n\n")
    assert refused.exit_code == 1
    assert "Delete the failed deliveries with FunctionName=fn-b? [y/N]" in refused.stderr
    assert sorted(_listed(run_cli, endpoint)) == sorted([SQS_QUEUE, TOPIC])
    confirmed = run_cli(purge, endpoint, input="y\n")
    assert json.loads(confirmed.stdout) == {"PurgedCount": 1}
    assert _listed(run_cli, endpoint) == [SQS_QUEUE]
    everything = run_cli(["purge-failed-deliveries", "--yes"], endpoint)
    assert output(everything) == {"PurgedCount": 1}
    assert _listed(run_cli, endpoint) == []


def test_purge_without_a_terminal_or_yes_deletes_nothing(
    run_cli: RunCli, suite_in_thread: str, tmp_path: Path
) -> None:
    endpoint = suite_in_thread
    _undeliverable(run_cli, endpoint, tmp_path)

    done = run_cli(["purge-failed-deliveries"], endpoint, input="")

    assert done.exit_code == 1
    assert "Delete every failed delivery? [y/N]" in done.stderr
    assert len(_listed(run_cli, endpoint)) == 2


def test_bad_time_is_a_parameter_error(run_cli: RunCli, suite_in_thread: str) -> None:
    done = run_cli(["list-failed-deliveries", "--failed-after", "yesterday"], suite_in_thread)

    assert done.exit_code == 252
    assert "Invalid timestamp 'yesterday'" in done.stderr
