"""``eventinvoke logs``: a function's log lines, like ``aws logs tail /aws/lambda/F``."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import click

from eventinvoke.cli._common import GlobalOptions, converting, function_name_option, pass_options

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> int:
    """``--since`` as ``aws logs tail`` takes it: ``10m``, ``2h``, ``1d`` ... ago, or an ISO-8601
    time; returned as epoch milliseconds."""
    now = now or datetime.now(UTC)
    match = _DURATION.fullmatch(value.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return int((now - delta).timestamp() * 1000)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a duration (e.g. 10m, 2h, 1d) nor an ISO-8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _format_event(event: dict[str, object], output: str) -> str:
    if output == "json":
        return json.dumps(event, ensure_ascii=False)
    stamp = datetime.fromtimestamp(int(event["Timestamp"]) / 1000, UTC)  # type: ignore[call-overload]
    text = str(event["Message"])
    if output == "short":
        return f"{stamp.strftime('%Y-%m-%dT%H:%M:%S')} {text}"
    return f"{stamp.isoformat()} {event['LogStreamName']} {text}"


@click.command("logs")
@function_name_option
@click.option("--follow", is_flag=True, help="Keep printing new lines until interrupted.")
@click.option(
    "--since",
    callback=converting(parse_since),
    help="Only invocations since: 10m, 2h, 1d ... or ISO-8601.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["detailed", "short", "json"]),
    default="detailed",
    show_default=True,
    help="As `aws logs tail`: timestamp, stream and line; timestamp and line; or JSON.",
)
@click.option("--poll-interval", type=float, default=1.0, hidden=True)
@pass_options
def logs(
    options: GlobalOptions,
    function_name: str,
    follow: bool,
    since: int | None,
    output: str,
    poll_interval: float,
) -> None:
    """Show a function's log lines (output and START/END/REPORT) in time order."""
    with options.client() as client:
        token = ""
        try:
            while True:
                page = client.get_function_logs(function_name, start_time=since, next_token=token)
                for event in page["Events"]:
                    click.echo(_format_event(dict(event), output))
                token = page["NextToken"]
                if page["Events"]:
                    continue  # more may be waiting beyond one page
                if not follow:
                    return
                time.sleep(poll_interval)
        except KeyboardInterrupt:
            return


def register(group: click.Group) -> None:
    group.add_command(logs)
