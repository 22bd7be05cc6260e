"""STAC through pystac-client with a token that refreshes, in both generations (storage and catalog)."""

from __future__ import annotations

import time

import pytest

from tests.hooks.conftest import make_hook
from tests.hooks.current.conftest import make_current_hook
from up42_provider.emulator.server import EmulatorServer

SHORT_TOKENS = {"speed": 1.0, "token_lifetime": 2}


@pytest.mark.parametrize("fresh_emulator", [SHORT_TOKENS], indirect=True)
@pytest.mark.parametrize("generation", ["2023", "current"])
def test_stac_client_outlives_its_first_token(generation, fresh_emulator: EmulatorServer, monkeypatch):
    if generation == "current":
        hook = make_current_hook(fresh_emulator, monkeypatch)
    else:
        hook = make_hook(fresh_emulator, monkeypatch)
    client = hook.stac_client()
    first = hook.get_conn().tokens.token
    assert list(client.search(max_items=5).items()) == []
    time.sleep(2.5)  # the first token has expired on both sides
    assert list(client.search(max_items=5).items()) == []  # a fixed header would get 401 here
    assert hook.get_conn().tokens.token != first


def test_catalog_stac_client_is_todays(fresh_emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(fresh_emulator, monkeypatch)
    root = hook.stac_client(catalog=True)
    assert root.get_self_href().rstrip("/").endswith("/v2/catalog")
    old = make_hook(fresh_emulator, monkeypatch)
    with pytest.raises(ValueError, match="today's UP42 API"):
        old.stac_client(catalog=True)
