"""Clients of today's generation: the one place that decides how these tests authenticate.

Today's OAuth password grant is being built beside this suite; until it lands the clients hold
the 2023 bearer token (the emulator accepts it on every path). Switch ``current_client`` only.
"""

from __future__ import annotations

import pytest

from tests.conftest import RawClient
from up42_provider.emulator.server import EmulatorServer


def current_client(server: EmulatorServer) -> RawClient:
    """An authenticated raw client for today's generation."""
    return RawClient(server)


@pytest.fixture
def v2(emulator: EmulatorServer) -> RawClient:
    return current_client(emulator)


@pytest.fixture
def fresh_v2(fresh_emulator: EmulatorServer) -> RawClient:
    return current_client(fresh_emulator)
