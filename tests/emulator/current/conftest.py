"""Fixtures for today's generation: a client that signs in with the account's e-mail and password."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import RawClient
from up42_provider.emulator.server import EmulatorServer

TOKEN_PATH = "/realms/public/protocol/openid-connect/token"
USERINFO_PATH = "/realms/public/protocol/openid-connect/userinfo"


def password_grant(server: EmulatorServer, password: str | None = None, **extra: str) -> requests.Response:
    """The 4.x SDK's token call: form-encoded password grant, no Authorization header."""
    form = {
        "grant_type": "password",
        "username": server.config.account_username,
        "password": server.config.account_password if password is None else password,
        "client_id": "up42-sdk",
        "scope": "openid",
        **extra,
    }
    return requests.post(f"{server.url}{TOKEN_PATH}", data=form, timeout=10)


class CurrentClient:
    """Real HTTP with a token of today's generation (bare JSON, no envelopes)."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.base = server.url
        self.session = requests.Session()
        self.workspace_id = server.config.workspace_id
        self.token = self.authenticate()

    def authenticate(self) -> str:
        r = password_grant(self.server)
        r.raise_for_status()
        token = r.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        return token

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}{path}"
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, url, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def current_api(emulator: EmulatorServer) -> CurrentClient:
    return CurrentClient(emulator)


@pytest.fixture
def fresh_current_api(fresh_emulator: EmulatorServer) -> CurrentClient:
    return CurrentClient(fresh_emulator)


def current_client(server: EmulatorServer) -> RawClient:
    """A raw client for storage/processing tests (still the 2023 token; both generations accept it)."""
    return RawClient(server)


@pytest.fixture
def v2(emulator: EmulatorServer) -> RawClient:
    return current_client(emulator)


@pytest.fixture
def fresh_v2(fresh_emulator: EmulatorServer) -> RawClient:
    return current_client(fresh_emulator)
