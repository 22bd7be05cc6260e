"""Hooks of today's generation: the connection signs in with the account's e-mail and password."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook


def make_current_hook(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, **extra: object) -> UP42Hook:
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", server.airflow_connection("current", **extra))
    return UP42Hook()


@pytest.fixture
def current_hook(fresh_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[UP42Hook]:
    """A today's-generation hook on a private emulator."""
    h = make_current_hook(fresh_emulator, monkeypatch, max_retry_wait=5, create_settle_seconds=1)
    yield h
    h.close()
