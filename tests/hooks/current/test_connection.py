"""Today's connection: generation from the credentials, region hosts, login, userinfo, masking."""

from __future__ import annotations

import json

import pytest
from airflow.sdk._shared.secrets_masker import redact

from tests.emulator.current.conftest import USERINFO_PATH, CurrentClient
from up42_provider.api.endpoints import V2
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks._connection import UP42ConnectionConfigError, settings_from_connection
from up42_provider.hooks.up42 import UP42Hook

PROJECT = "0d5a7f2c-4e1b-4b7a-9c33-2f6e8a1d9b42"


def settings(host=None, login="me@example.com", password="pw", **extra):
    return settings_from_connection("c", host=host, login=login, password=password, extra=extra)


def test_generation_follows_the_credentials_or_the_extra():
    assert settings(login=PROJECT).generation == "2023"
    assert settings().generation == "current"
    assert settings(login=PROJECT, api_generation="current").generation == "current"
    assert settings(login="me@example.com", api_generation="auto").generation == "current"
    with pytest.raises(UP42ConnectionConfigError, match="api_generation"):
        settings(login="a-name")
    with pytest.raises(UP42ConnectionConfigError, match="is not a UUID"):
        settings(login="me@example.com", api_generation="2023")


@pytest.mark.parametrize(
    ("region", "api", "auth"),
    [
        (None, "https://api.up42.com", "https://auth.up42.com"),
        ("eu", "https://api.up42.com", "https://auth.up42.com"),
        ("SA", "https://api.sa.up42.com", "https://auth.sa.up42.com"),
    ],
)
def test_region_picks_api_and_auth_hosts(region, api, auth):
    s = settings(region=region)
    assert (s.base_url, s.auth_url, s.username, s.password) == (api, auth, "me@example.com", "pw")


def test_host_overrides_both_hosts_of_any_region():
    s = settings(host="http://127.0.0.1:8042", region="sa")
    assert (s.base_url, s.auth_url) == ("http://127.0.0.1:8042", "http://127.0.0.1:8042")


def test_test_connection_logs_in_and_names_the_workspace(emulator: EmulatorServer, monkeypatch):
    raw = CurrentClient(emulator)
    raw.authenticate()
    workspace = raw.get(USERINFO_PATH).json()["sub"]
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection("current"))
    hook = UP42Hook()
    ok, message = hook.test_connection()
    assert ok, message
    assert workspace in message and emulator.config.account_username in message
    assert hook.generation == "current"
    assert hook.get_conn().workspace_id == workspace


def test_region_sa_with_the_host_override_reaches_the_emulator(emulator: EmulatorServer, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection("current", region="sa"))
    ok, message = UP42Hook().test_connection()
    assert ok, message


def test_wrong_password_is_refused_without_echoing_it(emulator: EmulatorServer, monkeypatch):
    conn = json.loads(emulator.airflow_connection("current"))
    conn["password"] = "not-the-password-42"
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", json.dumps(conn))
    ok, message = UP42Hook().test_connection()
    assert not ok
    assert "rejected the credentials" in message and "account e-mail" in message
    assert "not-the-password-42" not in message


def test_password_and_tokens_are_masked(emulator: EmulatorServer, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection("current"))
    hook = UP42Hook()
    client = hook.get_conn()
    token = client.bearer_token()
    password = emulator.config.account_password
    text = redact(f"password={password} token={token}")
    assert password not in text and token not in text
    assert password not in repr(client) + repr(hook.settings)


def test_sync_and_async_clients_share_one_token(emulator: EmulatorServer, monkeypatch):
    import asyncio

    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection("current"))
    hook = UP42Hook()
    workspace = hook.get_conn().workspace_id
    logins = hook.get_conn().tokens.fetches

    async def run() -> tuple[str, object]:
        client = await hook.aget_client()
        info = await client.call(V2.userinfo)
        same = await hook.aget_client()
        await hook.aclose()
        return info["sub"], same is client

    sub, pooled = asyncio.run(run())
    assert sub == workspace and pooled is True
    assert hook.get_conn().tokens.fetches == logins  # no second login on the async path


def test_token_expiry_mid_run_logs_in_again(fresh_emulator: EmulatorServer, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", fresh_emulator.airflow_connection("current"))
    hook = UP42Hook()
    hook.get_orders(limit=1)
    first = hook.get_conn().tokens.token
    logins = hook.get_conn().tokens.fetches
    raw = CurrentClient(fresh_emulator)
    raw.authenticate()
    assert raw.post("/_emulator/clock", json={"advance": 3600}).ok  # the emulator's token expired
    hook.get_orders(limit=1)  # 401, one new password grant, same request again
    assert hook.get_conn().tokens.fetches == logins + 1
    assert hook.get_conn().tokens.token != first
