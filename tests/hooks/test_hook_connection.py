"""Connection parsing, clients, test_connection, the async connection path and import weight."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from up42_provider.api.client import AsyncUP42Client, UP42Client
from up42_provider.api.endpoints import V1
from up42_provider.api.errors import UP42AuthenticationError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.get_provider_info import get_provider_info
from up42_provider.hooks._connection import UP42ConnectionConfigError, base_url_from, settings_from_connection
from up42_provider.hooks.up42 import UP42Hook

PROJECT = "0d5a7f2c-4e1b-4b7a-9c33-2f6e8a1d9b42"


def settings(host=None, login=PROJECT, password="key", port=None, **extra):
    return settings_from_connection("c", host=host, login=login, password=password, port=port, extra=extra)


# ------------------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (None, None, "https://api.up42.com"),
        ("", None, "https://api.up42.com"),
        ("api.up42.com", None, "https://api.up42.com"),
        ("api.up42.dev/", None, "https://api.up42.dev"),
        ("http://127.0.0.1:8042", None, "http://127.0.0.1:8042"),
        ("http://127.0.0.1", 8042, "http://127.0.0.1:8042"),
        ("127.0.0.1:9000", 8042, "https://127.0.0.1:9000"),
        ("https://proxy.example/up42/", None, "https://proxy.example/up42"),
    ],
)
def test_base_url(host, port, expected):
    assert base_url_from("c", host, port) == expected


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("ftp://api.up42.com", "uses scheme 'ftp'; use https://"),
        ("https://", "has no host name"),
        ("https://user:pw@api.up42.com", "must not contain credentials"),
        ("https://api.up42.com/?env=dev", "must not have a query string"),
        ("http://[::1", "is not a valid URL"),
    ],
)
def test_bad_host(host, message):
    with pytest.raises(UP42ConnectionConfigError, match=message):
        base_url_from("c", host)


@pytest.mark.parametrize(
    "host",
    [
        "http://u:SECRET@127.0.0.1:99999",
        "u:SECRET@127.0.0.1:99999",
        "http://u:SECRET@[::1",
        "http://u:SE/CRET@127.0.0.1:99999",
        "http://127.0.0.1:99999/?key=SECRET",
    ],
)
def test_bad_host_errors_never_echo_a_password(host):
    with pytest.raises(UP42ConnectionConfigError) as info:
        base_url_from("c", host)
    assert "SECRET" not in str(info.value) and "SE/" not in str(info.value)
    assert "is not a valid URL" in str(info.value) or "query" in str(info.value)


def test_defaults_and_extras():
    s = settings()
    assert (s.base_url, s.project_id, s.api_key, s.verify) == ("https://api.up42.com", PROJECT, "key", True)
    s = settings(timeout=30, max_attempts="3", max_retry_wait="12.5", verify_ssl="false")
    assert (
        s.timeout == (10.0, 30.0) and s.max_attempts == 3 and s.max_retry_wait == 12.5 and s.verify is False
    )
    assert settings(timeout=[2, 7]).timeout == (2.0, 7.0)
    assert settings(timeout=3).timeout == (3.0, 3.0)
    assert settings(verify_ssl="/etc/ssl/ca.pem").verify == "/etc/ssl/ca.pem"
    assert settings(verify_ssl=True, timeout=None).verify is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"login": None}, r"login is empty; use either the 2023 project credentials"),
        (
            {"login": "my-project"},
            r"cannot tell the API generation from login 'my-project'.*'api_generation'",
        ),
        (
            {"login": "my-project", "api_generation": "2023"},
            r"login \(Project ID\) 'my-project' is not a UUID",
        ),
        ({"api_generation": "2024"}, r"extra 'api_generation' must be one of auto, 2023, current"),
        ({"login": "me@example.com", "region": "us"}, r"extra 'region' must be one of eu, sa"),
        ({"login": "me@example.com", "password": ""}, r"password \(account password\) is empty"),
        ({"password": ""}, r"password \(Project API key\) is empty"),
        ({"timeout": "soon"}, "extra 'timeout' must be a number"),
        ({"timeout": 0}, "extra 'timeout' must be at least"),
        ({"timeout": [1, 2, 3]}, r"must be seconds or \[connect, read\]"),
        ({"max_attempts": 1.5}, "extra 'max_attempts' must be a whole number"),
        ({"max_attempts": 0}, "extra 'max_attempts' must be at least 1"),
        ({"max_attempts": True}, "extra 'max_attempts' must be a whole number"),
        ({"max_retry_wait": -1}, "extra 'max_retry_wait' must be at least 0"),
        ({"verify_ssl": 3}, "extra 'verify_ssl' must be true, false or a CA bundle path"),
    ],
)
def test_field_errors_name_field_and_fix(kwargs, message):
    with pytest.raises(UP42ConnectionConfigError, match=message):
        settings(**kwargs)


def test_unknown_extras_are_warned_about(caplog):
    with caplog.at_level(logging.WARNING):
        settings(timout=3)
    assert "unknown extra field(s) timout" in caplog.text


def test_hook_reads_uri_form_connection(emulator: EmulatorServer, monkeypatch):
    # URI form with the protocol inside the host (Airflow's "scheme://protocol://host" syntax).
    host = emulator.url.replace("http://", "")
    uri = f"up42://http://{PROJECT}:{emulator.config.project_api_key}@{host}?timeout=20&verify_ssl=false"
    monkeypatch.setenv("AIRFLOW_CONN_UP42_URI", uri)
    hook = UP42Hook(up42_conn_id="up42_uri")
    assert hook.settings.base_url == emulator.url
    assert hook.settings.timeout == (10.0, 20.0) and hook.settings.verify is False
    assert hook.get_project()["id"] == PROJECT


def test_hook_class_attributes_and_ui():
    assert (UP42Hook.conn_name_attr, UP42Hook.default_conn_name, UP42Hook.conn_type, UP42Hook.hook_name) == (
        "up42_conn_id",
        "up42_default",
        "up42",
        "UP42",
    )
    ui = UP42Hook.get_ui_field_behaviour()
    assert ui["hidden_fields"] == ["schema", "port"]
    # one declaration: the hook's fallback is the provider info's form
    form = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    assert ui["relabeling"] == form["relabeling"] and ui["placeholders"] == form["placeholders"]
    assert "project ID" in ui["relabeling"]["login"] and "e-mail" in ui["relabeling"]["login"]


# ----------------------------------------------------------------------------------------- clients


def test_get_conn_is_cached_and_authenticates(hook: UP42Hook):
    client = hook.get_conn()
    assert isinstance(client, UP42Client) and hook.get_conn() is client
    assert hook.get_workspace_id() == hook.get_project()["workspaceId"]


def test_test_connection_ok(hook: UP42Hook):
    ok, message = hook.test_connection()
    assert ok, message
    assert message == f"Connected to UP42 project emulator-project ({PROJECT})"


def test_test_connection_wrong_credentials(emulator: EmulatorServer, monkeypatch):
    conn = json.loads(emulator.airflow_connection())
    conn["password"] = "wrong-key"
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", json.dumps(conn))
    ok, message = UP42Hook().test_connection()
    assert not ok
    assert "rejected the credentials" in message and "API key (password)" in message
    assert "wrong-key" not in message
    with pytest.raises(UP42AuthenticationError):
        UP42Hook().get_project()


def test_test_connection_unreachable(monkeypatch):
    conn = {"conn_type": "up42", "host": "http://127.0.0.1:9", "login": PROJECT, "password": "k"}
    conn["extra"] = {"max_attempts": 1, "timeout": 2}
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", json.dumps(conn))
    ok, message = UP42Hook().test_connection()
    assert not ok and message.startswith("Cannot reach UP42 at http://127.0.0.1:9")


def test_test_connection_bad_fields(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", json.dumps({"conn_type": "up42", "password": "k"}))
    ok, message = UP42Hook().test_connection()
    assert not ok and "login is empty" in message
    ok, message = UP42Hook(up42_conn_id="does_not_exist").test_connection()
    assert not ok and "does_not_exist" in message


async def test_async_client_from_async_connection_api(emulator: EmulatorServer, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection(timeout=15))

    def forbidden(*args, **kwargs):
        raise AssertionError("sync connection lookup inside async code")

    monkeypatch.setattr(UP42Hook, "get_connection", classmethod(forbidden))
    hook = UP42Hook()
    client = await hook.aget_client()
    assert isinstance(client, AsyncUP42Client)
    assert await hook.aget_client() is client
    assert client.settings.timeout == (10.0, 15.0)
    project = await client.call(V1.get_project)
    assert project["id"] == PROJECT
    await hook.aclose()


# ------------------------------------------------------------------------------------- import cost


def test_import_does_not_load_heavy_libraries():
    code = (
        "import sys, up42_provider.hooks.up42, up42_provider.utils.geometry, up42_provider.utils.parameters, "
        "up42_provider.status\n"
        "heavy = [m for m in ('geopandas', 'rasterio', 'matplotlib', 'pystac_client', 'pyogrio', 'fiona') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == ""


def test_create_settle_seconds_from_extra_hook_or_default(emulator: EmulatorServer, monkeypatch):
    """The wait before re-sending a creation with a lost answer outlasts the read timeout."""
    from tests.hooks.conftest import make_hook
    from up42_provider.hooks._connection import settle_seconds_from

    assert settle_seconds_from("c", {}, read_timeout=60) == 120  # twice the read timeout
    assert settle_seconds_from("c", {}, read_timeout=5) == 30  # never below 30 s
    assert settle_seconds_from("c", {"create_settle_seconds": "7.5"}, read_timeout=60) == 7.5
    with pytest.raises(UP42ConnectionConfigError, match="'create_settle_seconds' must be a number"):
        settle_seconds_from("c", {"create_settle_seconds": "soon"}, read_timeout=60)
    with pytest.raises(UP42ConnectionConfigError, match="'create_settle_seconds' must be at least 0"):
        settle_seconds_from("c", {"create_settle_seconds": -1}, read_timeout=60)
    assert make_hook(emulator, monkeypatch, timeout=[5, 45]).create_settle_seconds == 90
    assert make_hook(emulator, monkeypatch, create_settle_seconds=12).create_settle_seconds == 12
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection(create_settle_seconds=12))
    assert UP42Hook(create_settle_seconds=3).create_settle_seconds == 3  # the hook argument wins
    with pytest.raises(ValueError, match="create_settle_seconds must be >= 0"):
        UP42Hook(create_settle_seconds=-2)
