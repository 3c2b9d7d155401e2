"""Settings: data loaded once at the edge (CLI flags, EVENTINVOKE_* variables, a TOML file).

Nothing below the CLI reads ``os.environ``; services receive a frozen ``Settings``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "EVENTINVOKE_"


@dataclass(frozen=True)
class Settings:
    """Every knob of the suite, with AWS's behaviour as the default."""

    data_dir: Path = Path(".eventinvoke")
    listen: str = "127.0.0.1:50051"
    # The Lambda REST API gateway (HTTP), when this process runs it (`up`, `serve gateway`).
    http_listen: str = "127.0.0.1:9001"
    region: str = "us-east-1"
    account: str = "000000000000"
    # Multiplies every policy duration (retry delays, event-age accounting, backoffs), so tests
    # and demos run AWS's real policy in seconds. Function timeouts are not scaled.
    time_scale: float = 1.0
    # Peers, for `serve <service>` (the service-mesh deployment). Empty: this process.
    invoker_endpoint: str = ""
    executor_endpoint: str = ""
    router_endpoint: str = ""
    # How many asynchronous events one executor runs at once.
    executor_concurrency: int = 16
    # A leased event is invisible for the function's timeout plus this margin (seconds).
    lease_margin: float = 30.0
    max_sandboxes_per_function: int = 8
    max_sandboxes: int = 32
    sandbox_idle_seconds: float = 300.0
    # Sandboxes run from a child process (the sandbox host), whose event loop does their
    # Runtime API and log I/O on another core. False: in the executor's own process.
    sandbox_host: bool = True
    # Destination delivery: attempts before a record goes to the failed-delivery store, and the
    # capped, jittered backoff between them (seconds, scaled by time_scale).
    delivery_max_attempts: int = 8
    delivery_backoff_base: float = 1.0
    delivery_backoff_cap: float = 300.0
    disabled_destinations: tuple[str, ...] = ()
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    # Per-adapter settings: the [destinations.<name>] tables of the TOML file.
    destinations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> Settings:
        """Defaults < TOML file < EVENTINVOKE_* variables < flags (``overrides``)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_file = config_file or _path_or_none(environ.get(ENV_PREFIX + "CONFIG"))
        if config_file:
            with open(config_file, "rb") as f:
                values.update(tomllib.load(f))
        for spec in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + spec.name.upper())
            if raw is not None and raw != "":
                values[spec.name] = raw
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls(**{k: _coerce(k, v) for k, v in values.items() if k in _FIELDS})

    def peer(self, name: str) -> str:
        """The address of a peer service; this process's own address when not configured."""
        return getattr(self, f"{name}_endpoint") or self.listen


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def _coerce(name: str, value: Any) -> Any:
    default = _FIELDS[name].default
    if name == "data_dir":
        return Path(value)
    if name == "disabled_destinations":
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(value)
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value
