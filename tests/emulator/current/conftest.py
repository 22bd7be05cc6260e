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


class CurrentClient(RawClient):
    """Real HTTP with a token of today's generation (bare JSON, no envelopes): the password grant."""

    def authenticate(self) -> str:
        r = password_grant(self.server)
        r.raise_for_status()
        self.token: str = r.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        return self.token


@pytest.fixture
def current_api(emulator: EmulatorServer) -> CurrentClient:
    return CurrentClient(emulator)


@pytest.fixture
def fresh_current_api(fresh_emulator: EmulatorServer) -> CurrentClient:
    return CurrentClient(fresh_emulator)


def current_client(server: EmulatorServer) -> CurrentClient:
    """A client signed in as today's users are (e-mail and password)."""
    return CurrentClient(server)


@pytest.fixture
def v2(emulator: EmulatorServer) -> CurrentClient:
    return current_client(emulator)


@pytest.fixture
def fresh_v2(fresh_emulator: EmulatorServer) -> CurrentClient:
    return current_client(fresh_emulator)
