"""Fixtures of today's-generation emulator tests."""

from __future__ import annotations

from tests.conftest import RawClient
from up42_provider.emulator.server import EmulatorServer


def current_client(server: EmulatorServer) -> RawClient:
    """A client of today's generation: the one place that says how it authenticates.

    Until the emulator's OAuth password grant is merged it uses the 2023 token (both generations
    accept it); switch it to the password grant here.
    """
    return RawClient(server)
