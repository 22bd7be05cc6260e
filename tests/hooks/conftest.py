"""Hook fixtures: a ``UP42Hook`` whose Airflow connection (``AIRFLOW_CONN_UP42_DEFAULT``) points at
the in-process emulator, so every hook test goes over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook


def make_hook(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, **extra: object) -> UP42Hook:
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", server.airflow_connection(**extra))
    return UP42Hook()


@pytest.fixture
def hook(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[UP42Hook]:
    """A hook on the shared session emulator (read-only or self-contained tests)."""
    h = make_hook(emulator, monkeypatch)
    yield h
    h.close()


@pytest.fixture
def fresh_hook(fresh_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[UP42Hook]:
    """A hook on a private emulator (faults, settings, credits, counting)."""
    h = make_hook(fresh_emulator, monkeypatch, max_retry_wait=5, create_settle_seconds=1)
    yield h
    h.close()


def wait_for(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.1) -> object:
    """Poll ``check`` until it returns something truthy (the emulator runs at speed 100)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def api_calls(server: EmulatorServer, hook: UP42Hook) -> int:
    """Requests the emulator has seen, without the hook's token calls (a refresh may fall anywhere)."""
    return server.state.requests_seen - hook.get_conn().tokens.fetches
