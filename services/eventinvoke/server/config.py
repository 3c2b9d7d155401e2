"""Settings: data loaded once at the edge (CLI flags, EVENTINVOKE_* variables, a TOML file).

Each setting is declared once, as a field of ``Settings`` with its help text; its flag
(``--data-dir``), its variable (``EVENTINVOKE_DATA_DIR``), its TOML key (``data_dir``), its parsing
and the README's table of settings are all derived from that declaration. Nothing below the CLI
reads ``os.environ``; services receive a frozen ``Settings``.

A settings library was considered: pydantic-settings would replace the coercion below, but costs
about 25 MB of memory and 0.15 s at every server start, for a dozen lines of parsing.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eventinvoke.core.auth import ROLES, Credential

ENV_PREFIX = "EVENTINVOKE_"
CONFIG_VARIABLE = ENV_PREFIX + "CONFIG"


class SettingError(ValueError):
    """A setting that cannot be used: unknown, or a value of the wrong kind or range."""


def setting(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    pattern: str | None = None,
    parse: Callable[[Any], object] | None = None,
) -> Any:
    """A field of ``Settings``: its default, its one-line help, and the checks on its value
    (``parse`` raises ``ValueError`` saying what is wrong with it)."""
    metadata = {"help": help, "minimum": minimum, "pattern": pattern, "parse": parse}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


_ADDRESS = r"(?:[^\s:,]*:\d{1,5}|\[[0-9a-fA-F:.]+\]:\d{1,5})"  # host:port, [v6]:port
# A peer: host:port, a DNS name whose addresses are its replicas, or a list of replicas.
_PEER = rf"(|{_ADDRESS}|dns:///?{_ADDRESS}|ipv4:{_ADDRESS}(,{_ADDRESS})*)"
_BACKEND = r"(|postgres(ql)?://\S+)"
_OPTIONAL_ADDRESS = rf"(|{_ADDRESS})"


@dataclass(frozen=True)
class Auth:
    """The ``[auth]`` table: the credentials that may call, each with its role."""

    credentials: tuple[Credential, ...] = ()

    def own(self) -> Credential | None:
        """The credential the suite's services sign their calls to each other with."""
        for role in ("service", "admin"):
            for credential in self.credentials:
                if credential.role == role:
                    return credential
        return None


def is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Every knob of the suite, with AWS's behaviour as the default."""

    data_dir: Path = setting(
        Path(".eventinvoke"),
        "SQLite database, unpacked code, function logs. A relative path is taken from the "
        "directory the server starts in",
    )
    backend: str = setting(
        "",
        "where events and functions are kept: empty for the embedded SQLite file in `data_dir`, "
        "or `postgresql://user:password@host:port/database` for a PostgreSQL database that every "
        "replica of every service shares (cluster mode)",
        pattern=_BACKEND,
    )
    listen: str = setting("127.0.0.1:50051", "gRPC address, host:port", pattern=_ADDRESS)
    http_listen: str = setting(
        "127.0.0.1:9001",
        "the Lambda REST API gateway's HTTP address (`up`, `serve gateway`)",
        pattern=_ADDRESS,
    )
    metrics_listen: str = setting(
        "",
        "serve Prometheus metrics at `http://host:port/metrics` (docs/deploy.md lists them): "
        "plain HTTP with no authentication, for the scraper alone to reach; empty: no metrics, "
        "at no cost",
        pattern=_OPTIONAL_ADDRESS,
    )
    max_connection_age: float = setting(
        300.0,
        "seconds a client's connection to the gRPC server lasts before the server asks the "
        "client to reconnect (HTTP/2 GOAWAY, with up to 10% jitter; calls in flight may still "
        "take 16 min), so that clients behind a load balancer or a DNS name spread over new "
        "replicas; 0: connections last for ever",
        minimum=0,
    )
    region: str = setting("us-east-1", "the region in ARNs", pattern=r"[a-z]{2}(-gov)?-[a-z]+-\d")
    account: str = setting("000000000000", "the account id in ARNs", pattern=r"\d{12}")
    time_scale: float = setting(
        1.0,
        "multiplies every policy duration: retry delays (60 s, 120 s), event age, backoffs. "
        "Function timeouts are not scaled",
        minimum=1e-6,
    )
    invoker_endpoint: str = setting(
        "",
        "the Invoker's address, for `serve`: host:port, or its replicas as "
        "`dns:///name:port` or `ipv4:host:port,host:port`; empty: this process",
        pattern=_PEER,
    )
    executor_endpoint: str = setting(
        "",
        "the Executor's address, for `serve`: host:port, or its replicas as "
        "`dns:///name:port` or `ipv4:host:port,host:port`; empty: this process",
        pattern=_PEER,
    )
    executor_concurrency: int = setting(
        16,
        "asynchronous events run at once by one executor (their settles, a write each, follow "
        "outside this limit); as many more wait leased beside them, at most a third of their "
        "lease, and go back to the queue at stop",
        minimum=1,
    )
    lease_margin: float = setting(
        30.0,
        "seconds a leased event stays invisible beyond its function's timeout; after a crash, "
        "work is redelivered when leases expire",
        minimum=0.1,
    )
    max_sandboxes_per_function: int = setting(8, "warm sandboxes of one function", minimum=1)
    max_sandboxes: int = setting(
        32, "warm sandboxes in all; also the account's concurrency limit", minimum=1
    )
    sandbox_queue_after: int = setting(
        0,
        "an async invocation whose function's warm sandboxes are all busy waits for one of "
        "them, rather than starting another, once this many sandboxes of short functions are "
        "busy and its own invocations are short (the queue would clear before a new sandbox "
        "started); every function keeps one sandbox, and slow functions still get up to "
        "`max_sandboxes_per_function`; 0: the number of CPUs",
        minimum=0,
    )
    sandbox_idle_seconds: float = setting(300.0, "idle sandboxes are stopped after this", minimum=0)
    sandbox_host: bool = setting(
        True,
        "run sandboxes from a child process of the executor (the sandbox host), whose event "
        "loop does their Runtime API and log I/O on another core; false keeps them in the "
        "executor's process",
    )
    sandbox_start: Literal["fork", "exec"] = setting(
        "fork",
        "how Python sandboxes start: `fork`, from a template process of their interpreter that "
        "has the runtime imported (faster, and they share its pages), or `exec`, a new "
        "interpreter each (SECURITY.md); other runtimes are always exec'd",
    )
    sandbox_uids: str = setting(
        "60600-61099",
        "the uids sandboxes run as when the server is root, `first-last`: each live sandbox "
        "gets one of its own, and the sandboxes of one code directory a group of the same "
        "numbers (SECURITY.md). At least `max_sandboxes` of them, used by nothing else on the "
        "machine; `none`: sandboxes run as the server's user",
        pattern=r"none|\d+-\d+",
    )
    max_queued_events_per_function: int = setting(
        0,
        "admission control: Event invokes of a function with this many events queued get 429 "
        "TooManyRequestsException (gRPC RESOURCE_EXHAUSTED) with Retry-After instead of 202; "
        "counted from the backend every 100 ms, so replicas may overshoot by what they accept "
        "meanwhile (SECURITY.md); 0: no bound",
        minimum=0,
    )
    max_queued_events: int = setting(
        0,
        "admission control: the same bound on the events queued for all functions together; "
        "0: no bound",
        minimum=0,
    )
    invocation_retention: float = setting(
        86400.0,
        "seconds GetInvocation (`eventinvoke get-invocation`) still finds an Event invocation "
        "after it settled: its status, attempts and deliveries",
        minimum=0.1,
    )
    max_retained_invocations: int = setting(
        100000,
        "settled invocations GetInvocation remembers at most, the oldest forgotten first, "
        "within `invocation_retention` too (checked every 10 s)",
        minimum=1,
    )
    delivery_max_attempts: int = setting(
        8, "destination delivery attempts before the failed-delivery store", minimum=1
    )
    delivery_backoff_base: float = setting(
        1.0, "seconds before the first delivery retry (full jitter, doubling)", minimum=0
    )
    delivery_backoff_cap: float = setting(
        300.0, "the longest wait between delivery retries, in seconds", minimum=0
    )
    keep_failures_without_destination: bool = setting(
        False,
        "keep the record of an event that failed for good (retries exhausted, too old, a "
        "recursive loop stopped) with no OnFailure destination or dead-letter queue in the "
        "failed-delivery store, where it can be read and purged; false: it ends there, as on AWS",
    )
    disabled_destinations: tuple[str, ...] = setting(
        (), "destination plugins not to load, comma-separated names"
    )
    destination_allow_networks: tuple[str, ...] = setting(
        (),
        "networks (comma-separated CIDR, such as `127.0.0.0/8,10.1.0.0/16`) that destinations "
        "at user-given addresses (webhooks) may reach although they are loopback, private, "
        "link-local, multicast, reserved or cloud-metadata addresses (SECURITY.md)",
        parse=lambda networks: [ipaddress.ip_network(network) for network in networks],
    )
    log_format: Literal["auto", "json", "console"] = setting(
        "auto", "`json` lines, `console`, or `auto`: JSON when not a terminal"
    )
    log_level: Literal["debug", "info", "warning", "error"] = setting(
        "info", "`info` logs a line per RPC and per settled event"
    )
    destinations: Mapping[str, Mapping[str, Any]] = setting(
        {},
        "settings handed to destination adapters, by adapter name: the `[destinations.<name>]` "
        "tables of the TOML file; as a flag or variable, a JSON object",
    )
    auth: Auth = setting(
        Auth(),
        "who may call: `[[auth.credentials]]` tables of `access_key_id`, `secret_access_key` and "
        "`role` (`invoke`, `admin` (the default) or `service`) in the TOML file; as a flag or "
        "variable, `KEY_ID:SECRET:ROLE,...`. With none, every call is accepted, on loopback only",
    )
    insecure: bool = setting(
        False,
        "serve with no credentials on addresses other than loopback (anyone who reaches the "
        "ports may do anything)",
    )
    tls_cert: str = setting(
        "",
        "a PEM certificate chain: gRPC and the gateway serve TLS with it (and `tls_key`), and "
        "the suite's services present it to each other and trust it (end the chain with its "
        "CA, or give `tls_client_ca`)",
    )
    tls_key: str = setting("", "the PEM private key of `tls_cert`")
    tls_client_ca: str = setting(
        "",
        "PEM CA certificates: with them, only clients presenting a certificate they signed are "
        "served (mutual TLS); the suite's services also check each other's against them",
    )

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check(spec, getattr(self, spec.name), f"setting {spec.name}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SettingError("tls_cert and tls_key go together: give both, or neither")
        if self.tls_client_ca and not self.tls_cert:
            raise SettingError(
                "tls_client_ca asks for mutual TLS, which needs tls_cert and tls_key"
            )
        uids = self.sandbox_uid_range
        if uids is not None:
            first, last = uids
            if not 0 < first <= last < 2**31 - 1:
                raise SettingError(
                    f"sandbox_uids {self.sandbox_uids}: give first-last, from 1 to {2**31 - 2}"
                )
            if last - first + 1 < self.max_sandboxes:
                raise SettingError(
                    f"sandbox_uids {self.sandbox_uids} has {last - first + 1} uids, fewer than "
                    f"max_sandboxes ({self.max_sandboxes}): each sandbox needs its own"
                )
        if not self.auth.credentials and not self.insecure:
            for name in ("listen", "http_listen"):
                address = getattr(self, name)
                if not is_loopback(address):
                    raise SettingError(
                        f"{name} {address} is not a loopback address and no credentials are "
                        "configured: add [[auth.credentials]] (SECURITY.md), or pass "
                        "--insecure to serve it open"
                    )
        # Resolved once, here: every component (and every sandbox, which starts in its own
        # working directory) sees the same absolute paths.
        object.__setattr__(self, "data_dir", Path(os.path.abspath(self.data_dir)))

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> Settings:
        """Defaults < TOML file < EVENTINVOKE_* variables < flags (``overrides``).

        Raises ``SettingError`` naming the setting and where its bad value came from.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_file = config_file or _path_or_none(environ.get(CONFIG_VARIABLE))
        if config_file:
            for name, value in _read_toml(config_file).items():
                values[name] = _convert(_FIELDS[name], value, f"{name} in {config_file}")
        for spec in _FIELDS.values():
            raw = environ.get(variable(spec.name))
            if raw:
                values[spec.name] = _convert(spec, raw, variable(spec.name))
        for name, value in (overrides or {}).items():
            if value is None:
                continue
            if name not in _FIELDS:
                raise SettingError(f"unknown setting {name!r}{_did_you_mean(name)}")
            values[name] = _convert(_FIELDS[name], value, _flag(name))
        return cls(**values)

    @property
    def sandbox_uid_range(self) -> tuple[int, int] | None:
        if self.sandbox_uids == "none":
            return None
        first, _, last = self.sandbox_uids.partition("-")
        return int(first), int(last)

    def peer(self, name: str) -> str:
        """The address of a peer service; this process's own address when not configured."""
        return getattr(self, f"{name}_endpoint") or self.listen


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = typing.get_type_hints(Settings)


def variable(name: str) -> str:
    """The environment variable of a setting."""
    return ENV_PREFIX + name.upper()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def fields() -> Iterator[tuple[str, str, Any, str]]:
    """Each setting's name, flag, default and help, in declaration order."""
    for spec in _FIELDS.values():
        default = spec.default_factory() if callable(spec.default_factory) else spec.default
        yield spec.name, _flag(spec.name), default, spec.metadata["help"]


def kind(name: str) -> str:
    """What a setting's value is: bool, int, float, path, text, list, table or a choice."""
    hint = _TYPES[name]
    if typing.get_origin(hint) is Literal:
        return "choice"
    return {
        bool: "bool",
        int: "int",
        float: "float",
        Path: "path",
        str: "text",
        tuple: "list",
        Auth: "credentials",
    }.get(typing.get_origin(hint) or hint, "table")


def choices(name: str) -> tuple[str, ...]:
    return typing.get_args(_TYPES[name])


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as error:
        raise SettingError(f"cannot read the settings file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingError(f"the settings file {path} is not valid TOML: {error}") from None
    unknown = [key for key in document if key not in _FIELDS]
    if unknown:
        key = unknown[0]
        raise SettingError(f"unknown setting {key!r} in {path}{_did_you_mean(key)}")
    return document


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.replace("-", "_").lower(), _FIELDS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(spec: dataclasses.Field[Any], value: Any, source: str) -> Any:
    """``value`` (typed, or text from a flag or variable) as the setting's type, checked."""
    converted = _parse(spec, value, source)
    _check(spec, converted, source)
    return converted


def _parse(spec: dataclasses.Field[Any], value: Any, source: str) -> Any:
    what = kind(spec.name)
    text = value.strip() if isinstance(value, str) else None
    try:
        if what == "bool":
            if isinstance(value, bool):
                return value
            if text is not None and text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError("is not a boolean (true or false)")
        if what == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if text is not None and re.fullmatch(r"[+-]?\d+", text):
                return int(text)
            raise ValueError("is not an integer")
        if what == "float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if text is not None and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
                return float(text)
            raise ValueError("is not a number")
        if what == "path":
            if isinstance(value, str | Path) and str(value):
                return Path(value)
            raise ValueError("is not a path")
        if what == "list":
            if text is not None:
                return tuple(v.strip() for v in text.split(",") if v.strip())
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                return tuple(value)
            raise ValueError("is not a list of names")
        if what == "credentials":
            return _auth(value, text)
        if what == "table":
            if text is not None:
                try:
                    value = json.loads(text)
                except ValueError:
                    raise ValueError("is not a JSON object") from None
            if isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values()):
                return {k: dict(v) for k, v in value.items()}
            raise ValueError("is not a table of tables (adapter name -> its settings)")
        if isinstance(value, str):
            return text
        raise ValueError("is not text")
    except ValueError as error:
        shown = "the value" if what == "credentials" else _excerpt(value)  # holds secrets
        raise SettingError(f"bad value for {source}: {shown} {error}") from None


_CREDENTIAL_KEYS = ("access_key_id", "secret_access_key", "role")


def _auth(value: Any, text: str | None) -> Auth:
    """``[auth]``'s credentials, from the TOML table or from ``KEY_ID:SECRET[:ROLE],...``."""
    if isinstance(value, Auth):
        return value
    if text is not None:
        entries: list[Any] = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            fields = item.split(":")
            if len(fields) not in (2, 3):
                raise ValueError("is not a list of KEY_ID:SECRET:ROLE")
            entries.append(dict(zip(_CREDENTIAL_KEYS, fields, strict=False)))
        value = {"credentials": entries}
    if not isinstance(value, Mapping) or set(value) - {"credentials"}:
        raise ValueError("is not an [auth] table with a credentials list")
    found: list[Credential] = []
    for entry in value.get("credentials", []):
        if not isinstance(entry, Mapping) or set(entry) - set(_CREDENTIAL_KEYS):
            raise ValueError(f"has a credential with keys other than {', '.join(_CREDENTIAL_KEYS)}")
        key_id, secret = entry.get("access_key_id"), entry.get("secret_access_key")
        role = entry.get("role", "admin")
        if not isinstance(key_id, str) or not re.fullmatch(r"[A-Za-z0-9_+=.@-]{1,128}", key_id):
            raise ValueError("has a credential whose access_key_id is missing or not a key id")
        if not isinstance(secret, str) or not secret:
            raise ValueError(f"has no secret_access_key for {key_id}")
        if role not in ROLES:
            raise ValueError(f"gives {key_id} the role {role!r}, not one of {', '.join(ROLES)}")
        if any(c.access_key_id == key_id for c in found):
            raise ValueError(f"names {key_id} twice")
        found.append(Credential(key_id, secret, role))
    return Auth(tuple(found))


def _check(spec: dataclasses.Field[Any], value: Any, source: str) -> None:
    """The checks a setting's declaration asks for, whatever the value's origin."""
    minimum, pattern = spec.metadata["minimum"], spec.metadata["pattern"]
    if spec.metadata["parse"] is not None:
        try:
            spec.metadata["parse"](value)
        except ValueError as error:
            raise SettingError(f"bad value for {source}: {error}") from None
    if minimum is not None and value < minimum:
        bound = "positive" if minimum > 0 and minimum < 1 else f"at least {minimum}"
        raise SettingError(f"bad value for {source}: {value!r} must be {bound}")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise SettingError(f"bad value for {source}: {_excerpt(value)} {_PATTERN_HELP[pattern]}")
    allowed = choices(spec.name) if kind(spec.name) == "choice" else ()
    if allowed and value not in allowed:
        raise SettingError(
            f"bad value for {source}: {_excerpt(value)} is not one of {', '.join(allowed)}"
        )


_PATTERN_HELP = {
    _ADDRESS: "is not an address of the form host:port",
    _OPTIONAL_ADDRESS: "is not an address of the form host:port",
    _PEER: "is not an address of the form host:port, dns:///host:port or ipv4:host:port,...",
    r"\d{12}": "is not a 12-digit account id",
    _BACKEND: "is not a PostgreSQL URL (postgresql://user:password@host:port/database)",
    r"[a-z]{2}(-gov)?-[a-z]+-\d": "is not a region name such as us-east-1",
}


def _excerpt(value: Any) -> str:
    """A value as an error quotes it: short, and without a URL's password."""
    if isinstance(value, str):
        value = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", value)
    text = repr(str(value)) if isinstance(value, str | Path) else repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


# --- the README's table of settings, derived from the declarations ------------------------------

TABLE_START = "<!-- settings table: generated from server/config.py by `make readme` -->"
TABLE_END = "<!-- end of settings table -->"


def shown(default: Any) -> str:
    """A default as the docs show it: ``true``, ``30``, ``.eventinvoke``, or ``none``."""
    if isinstance(default, bool):
        return str(default).lower()
    if default in ("", (), {}, Auth()):
        return "none"
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return str(default)


def reference_table() -> str:
    """The settings as a Markdown table: key, flag and variable, default, meaning."""
    rows = [
        "| setting: TOML key, flag, variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, flag, default, help_text in fields():
        where = f"`{name}` `{flag}` `{variable(name)}`"
        value = shown(default)
        rows.append(f"| {where} | {value if value == 'none' else f'`{value}`'} | {help_text} |")
    return "\n".join(rows)


def rewrite_readme(path: Path) -> bool:
    """Put the current table between the README's markers; True when the file changed."""
    return rewrite_table(path, TABLE_START, TABLE_END, reference_table())


def rewrite_table(path: Path, start_marker: str, end_marker: str, table: str) -> bool:
    """Put ``table`` between the two markers of a Markdown file; True when the file changed."""
    text = path.read_text()
    start, end = text.index(start_marker) + len(start_marker), text.index(end_marker)
    updated = f"{text[:start]}\n{table}\n{text[end:]}"
    if updated != text:
        path.write_text(updated)
    return updated != text


if __name__ == "__main__":  # `make readme`
    import sys

    for arg in sys.argv[1:]:
        print(f"{arg}: {'updated' if rewrite_readme(Path(arg)) else 'up to date'}")
