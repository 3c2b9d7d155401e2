"""Settings: every one reachable as a flag, a variable and a TOML key; bad ones refused by name.

The cases are derived from the declarations in ``server/config.py``, so a setting added there is
covered here without a new test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from eventinvoke.cli import cli
from eventinvoke.core.auth import Credential
from eventinvoke.server import config
from eventinvoke.server.config import SettingError, Settings

README = Path(__file__).parents[2] / "README.md"

# A value for each setting that differs from its default, as text and as the parsed value.
_SAMPLES: dict[str, tuple[str, Any]] = {
    "data_dir": ("/srv/eventinvoke", Path("/srv/eventinvoke")),
    "listen": ("127.0.0.2:7000", "127.0.0.2:7000"),
    "http_listen": ("[::1]:7001", "[::1]:7001"),
    "metrics_listen": ("0.0.0.0:9090", "0.0.0.0:9090"),
    "region": ("eu-west-1", "eu-west-1"),
    "account": ("123456789012", "123456789012"),
    "invoker_endpoint": ("dns:///invoker:50051", "dns:///invoker:50051"),
    "executor_endpoint": ("executor:50051", "executor:50051"),
    "backend": ("postgresql://ei:secret@db:5432/ei", "postgresql://ei:secret@db:5432/ei"),
    "disabled_destinations": ("s3, sns", ("s3", "sns")),
    "destination_allow_networks": ("127.0.0.0/8, fd00::/8", ("127.0.0.0/8", "fd00::/8")),
    "max_queued_events_per_function": ("1000", 1000),
    "max_queued_events": ("100000", 100000),
    "log_format": ("console", "console"),
    "sandbox_start": ("exec", "exec"),
    "log_level": ("warning", "warning"),
    "destinations": (
        '{"sqs": {"endpoint_url": "http://q"}}',
        {"sqs": {"endpoint_url": "http://q"}},
    ),
    "tls_cert": ("/srv/tls/cert.pem", "/srv/tls/cert.pem"),
    "tls_key": ("/srv/tls/key.pem", "/srv/tls/key.pem"),
    "tls_client_ca": ("/srv/tls/clients.pem", "/srv/tls/clients.pem"),
    "sandbox_uids": ("70000-70031", "70000-70031"),
    "auth": (
        "AKIDINVOKE:s3cret:invoke,AKIDADMIN:0ther",
        config.Auth(
            (
                Credential("AKIDINVOKE", "s3cret", "invoke"),
                Credential("AKIDADMIN", "0ther", "admin"),
            )
        ),
    ),
}


# TLS settings go together: a certificate needs its key, a client CA both.
_TLS = {"EVENTINVOKE_TLS_CERT": "/etc/ei/cert.pem", "EVENTINVOKE_TLS_KEY": "/etc/ei/key.pem"}
_GIVEN_WITH: dict[str, dict[str, str]] = {
    "tls_cert": {"EVENTINVOKE_TLS_KEY": "/etc/ei/key.pem"},
    "tls_key": {"EVENTINVOKE_TLS_CERT": "/etc/ei/cert.pem"},
    "tls_client_ca": _TLS,
}


def _sample(name: str, default: Any) -> tuple[str, Any]:
    if name in _SAMPLES:
        return _SAMPLES[name]
    if isinstance(default, bool):
        return str(not default).lower(), not default
    if isinstance(default, int):
        return str(default + 3), default + 3
    if isinstance(default, float):
        return str(default + 1.5), default + 1.5
    raise AssertionError(f"no sample value for the setting {name}: add one to _SAMPLES")


SETTINGS = [(name, flag, *_sample(name, default)) for name, flag, default, _ in config.fields()]


def _flags(args: list[str]) -> dict[str, Any]:
    """``eventinvoke up ARGS`` parsed by the real command, as its settings overrides."""
    context = cli.commands["up"].make_context("up", list(args))
    return {k: v for k, v in context.params.items() if k != "config_file"}


def _toml(name: str, value: Any) -> str:
    if isinstance(value, config.Auth):
        return "\n".join(
            f"[[{name}.credentials]]\naccess_key_id = {json.dumps(c.access_key_id)}\n"
            f"secret_access_key = {json.dumps(c.secret_access_key)}\nrole = {json.dumps(c.role)}"
            for c in value.credentials
        )
    if isinstance(value, dict):
        return "\n".join(
            f"[{name}.{table}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in keys.items())
            for table, keys in value.items()
        )
    if isinstance(value, bool):
        return f"{name} = {str(value).lower()}"
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    return f"{name} = {json.dumps(value)}"


@pytest.mark.parametrize(("name", "flag", "text", "value"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_each_setting_is_a_flag_a_variable_and_a_toml_key(
    tmp_path: Path, name: str, flag: str, text: str, value: Any
) -> None:
    negative = "--no-" + flag[2:]
    args = [flag if value else negative] if isinstance(value, bool) else [flag, text]
    others = _GIVEN_WITH.get(name, {})  # settings this one needs beside it, as variables
    from_flag = Settings.load(_flags(args), environ=others)
    from_variable = Settings.load(environ={**others, config.variable(name): text})
    toml = tmp_path / "eventinvoke.toml"
    toml.write_text(_toml(name, value) + "\n")
    from_file = Settings.load(environ=others, config_file=toml)

    assert getattr(from_flag, name) == value
    assert getattr(from_variable, name) == value
    assert getattr(from_file, name) == value
    assert getattr(Settings.load(environ={}), name) != value  # the sample is not the default


def test_flags_win_over_variables_and_variables_over_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "eventinvoke.toml"
    toml.write_text('region = "eu-west-1"\naccount = "111111111111"\nlog_level = "error"\n')
    environ = {
        "EVENTINVOKE_CONFIG": str(toml),
        "EVENTINVOKE_ACCOUNT": "222222222222",
        "EVENTINVOKE_LOG_LEVEL": "warning",
    }

    settings = Settings.load(_flags(["--log-level", "debug"]), environ=environ)

    assert (settings.region, settings.account, settings.log_level) == (
        "eu-west-1",
        "222222222222",
        "debug",
    )


def test_a_relative_data_dir_is_made_absolute_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert Settings().data_dir == tmp_path / ".eventinvoke"
    assert Settings.load(environ={"EVENTINVOKE_DATA_DIR": "state"}).data_dir == tmp_path / "state"


def test_an_unknown_toml_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    toml = tmp_path / "eventinvoke.toml"
    toml.write_text("executor_concurency = 4\n")

    with pytest.raises(SettingError) as raised:
        Settings.load(environ={}, config_file=toml)

    assert str(raised.value) == (
        f"unknown setting 'executor_concurency' in {toml} (did you mean 'executor_concurrency'?)"
    )


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("EVENTINVOKE_TIME_SCALE", "fast", "'fast' is not a number"),
        ("EVENTINVOKE_EXECUTOR_CONCURRENCY", "0", "0 must be at least 1"),
        ("EVENTINVOKE_SANDBOX_HOST", "maybe", "'maybe' is not a boolean (true or false)"),
        ("EVENTINVOKE_LOG_LEVEL", "loud", "'loud' is not one of debug, info, warning, error"),
        ("EVENTINVOKE_ACCOUNT", "42", "'42' is not a 12-digit account id"),
        ("EVENTINVOKE_LISTEN", "50051", "'50051' is not an address of the form host:port"),
        ("EVENTINVOKE_METRICS_LISTEN", "9090", "'9090' is not an address of the form host:port"),
        ("EVENTINVOKE_DESTINATIONS", "{sqs}", "'{sqs}' is not a JSON object"),
        (
            "EVENTINVOKE_BACKEND",
            "mysql://ei:secret@db/ei",
            "'mysql://ei:***@db/ei' is not a PostgreSQL URL "
            "(postgresql://user:password@host:port/database)",
        ),
    ],
)
def test_a_bad_variable_is_refused_by_name(name: str, text: str, why: str) -> None:
    with pytest.raises(SettingError) as raised:
        Settings.load(environ={name: text})

    assert str(raised.value) == f"bad value for {name}: {why}"


def test_a_bad_toml_value_names_the_key_and_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "eventinvoke.toml"
    toml.write_text('lease_margin = "soon"\n')

    with pytest.raises(SettingError) as raised:
        Settings.load(environ={}, config_file=toml)

    assert str(raised.value) == f"bad value for lease_margin in {toml}: 'soon' is not a number"


def test_a_bad_flag_names_the_flag() -> None:
    with pytest.raises(SettingError) as raised:
        Settings.load(_flags(["--max-sandboxes", "many"]), environ={})

    assert str(raised.value) == "bad value for --max-sandboxes: 'many' is not an integer"


def test_a_settings_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "eventinvoke.toml"
    toml.write_text("listen = \n")

    with pytest.raises(
        SettingError, match=rf"^the settings file {re.escape(str(toml))} is not valid TOML"
    ):
        Settings.load(environ={}, config_file=toml)


def test_the_readme_table_is_generated_from_the_declarations() -> None:
    text = README.read_text()
    start = text.index(config.TABLE_START) + len(config.TABLE_START)
    table = text[start : text.index(config.TABLE_END)].strip()

    assert table == config.reference_table(), "run `make readme` to regenerate the table"
    assert table.count("\n| `") == len(SETTINGS)


def test_the_readme_example_files_load(tmp_path: Path) -> None:
    loaded = []
    for number, example in enumerate(re.findall(r"```toml\n(.*?)```", README.read_text(), re.S)):
        toml = tmp_path / f"eventinvoke-{number}.toml"
        toml.write_text(example)
        loaded.append(Settings.load(environ={}, config_file=toml))
    secured, settings = loaded  # in the order the README shows them

    assert settings.executor_concurrency == 32
    assert settings.destinations == {"sqs": {"endpoint_url": "http://localhost:4566"}}
    assert [(c.access_key_id, c.role) for c in secured.auth.credentials] == [
        ("AKIDOPS", "admin"),
        ("AKIDAPP", "invoke"),
        ("AKIDSUITE", "service"),
    ]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"tls_cert": "c.pem"}, "tls_cert and tls_key go together: give both, or neither"),
        ({"tls_key": "k.pem"}, "tls_cert and tls_key go together: give both, or neither"),
        (
            {"tls_client_ca": "ca.pem"},
            "tls_client_ca asks for mutual TLS, which needs tls_cert and tls_key",
        ),
        (
            {"listen": "0.0.0.0:50051"},
            "listen 0.0.0.0:50051 is not a loopback address and no credentials are configured: "
            "add [[auth.credentials]] (SECURITY.md), or pass --insecure to serve it open",
        ),
        (
            {"sandbox_uids": "70000-70009"},
            "sandbox_uids 70000-70009 has 10 uids, fewer than max_sandboxes (32): each sandbox "
            "needs its own",
        ),
        ({"sandbox_uids": "0-99"}, "sandbox_uids 0-99: give first-last, from 1 to 2147483646"),
        ({"sandbox_uids": "99-1"}, "sandbox_uids 99-1: give first-last, from 1 to 2147483646"),
    ],
)
def test_settings_that_cannot_work_together_are_refused(
    given: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingError) as refused:
        Settings.load(given, environ={})

    assert str(refused.value) == message
