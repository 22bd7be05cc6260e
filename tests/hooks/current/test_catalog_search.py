"""Catalog search with today's credentials: same arguments, same shapes as the 2023 search."""

from __future__ import annotations

from tests.emulator.test_orders import HAMBURG
from tests.hooks.conftest import make_hook
from tests.hooks.current.conftest import make_current_hook
from up42_provider.emulator.server import EmulatorServer


def test_search_is_the_same_in_both_generations(emulator: EmulatorServer, monkeypatch):
    query = {"collections": ["phr"], "intersects": HAMBURG, "limit": 5}
    today = make_current_hook(emulator, monkeypatch).search(query)
    old = make_hook(emulator, monkeypatch).search(query)
    assert today["features"] and set(today) == set(old)
    ids = [f["properties"]["id"] for f in today["features"]]
    assert ids == [f["properties"]["id"] for f in old["features"]]
    assert set(today["features"][0]) == set(old["features"][0])


def test_glossary_lists_collections_with_products(emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(emulator, monkeypatch)
    archive = list(hook.iter_collections_v2("ARCHIVE"))
    assert archive and {c["type"] for c in archive} == {"ARCHIVE"}
    assert any(c["name"] == "phr" and c["dataProducts"] for c in archive)
