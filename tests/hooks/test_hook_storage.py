"""Storage through the hook: assets (E31-E34, P3), storage STAC search (E35, P6), STAC API (E36)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
import requests

from up42_provider import status
from up42_provider.api.errors import UP42NotFoundError
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import example_aoi

from .conftest import api_calls, make_hook, wait_for

N_ORDERS = 7


@pytest.fixture(scope="module")
def storage() -> Iterator[tuple[EmulatorServer, list[dict]]]:
    """A private emulator holding N_ORDERS fulfilled archive orders (one asset each)."""
    with EmulatorServer(EmulatorConfig(speed=100.0, seed=11)) as server, pytest.MonkeyPatch.context() as mp:
        hook = make_hook(server, mp)
        products = hook.get_data_products(basic=True)
        product_id = next(v for v in products.values() if v["collection"] == "phr")["data_products"][
            "Display"
        ]
        body = P.search_parameters(example_aoi("Berlin"), ["phr"], "2022-01-01", "2022-12-31", limit=N_ORDERS)
        scenes = hook.search(body)["features"]
        orders = []
        for i, scene in enumerate(scenes):
            tags = ["storage-test", f"n{i}"] + (["odd"] if i % 2 else [])
            params = hook.construct_catalog_order_parameters(
                product_id, scene["properties"]["id"], aoi=example_aoi("Berlin"), tags=tags
            )
            orders.append(hook.place_order(params))
        for order in orders:
            wait_for(
                lambda o=order: status.classify_order_status(hook.get_order(o["id"])["status"]) == "success"
            )
        fulfilled = [hook.get_order(o["id"]) for o in orders]
        hook.close()
        yield server, fulfilled


@pytest.fixture
def shook(storage, monkeypatch) -> Iterator[UP42Hook]:
    hook = make_hook(storage[0], monkeypatch)
    yield hook
    hook.close()


def asset_ids(orders: list[dict]) -> set[str]:
    return {a for o in orders for a in o["assets"]}


def test_asset_list_pages_and_filters(shook: UP42Hook, storage, monkeypatch):
    server, orders = storage
    assert len(shook.get_assets()) == N_ORDERS
    shook.page_size = 3
    before = api_calls(server, shook)
    assets = shook.get_assets()
    assert api_calls(server, shook) - before == 3  # 3 + 3 + 1
    assert {a["id"] for a in assets} == asset_ids(orders)
    assert len(shook.get_assets(limit=4)) == 4
    assert next(shook.iter_assets(tags=["n0"]))["id"] in asset_ids(orders[:1])
    assert len(shook.get_assets(tags=["odd"])) == N_ORDERS // 2
    assert len(shook.get_assets(tags="n0")) == 1
    assert len(shook.get_assets(sources=["ARCHIVE"])) == N_ORDERS
    assert shook.get_assets(sources="TASKING") == []
    assert len(shook.get_assets(collection_names=["phr", "spot"], producer_names="airbus")) == N_ORDERS
    assert shook.get_assets(collection_names="spot") == []
    assert len(shook.get_assets(search=orders[0]["id"])) == 1
    assert len(shook.get_assets(created_after="2000-01-01", created_before="2100-01-01")) == N_ORDERS
    assert shook.get_assets(created_before="2000-01-01") == []
    assert len(shook.get_assets(workspace_id=shook.get_workspace_id())) == N_ORDERS
    oldest_first = shook.get_assets(descending=False)
    assert [a["id"] for a in oldest_first] == [a["id"] for a in shook.get_assets()][::-1]
    with pytest.raises(ValueError, match="sources"):
        shook.get_assets(sources=["PIRATED"])


def test_asset_filters_through_storage_stac(shook: UP42Hook, storage):
    _, orders = storage
    assert len(shook.get_assets(geometry=example_aoi("Berlin"))) == N_ORDERS
    assert shook.get_assets(geometry=example_aoi("Washington")) == []
    assert len(shook.get_assets(acquired_after="2022-01-01", acquired_before="2023-01-01")) == N_ORDERS
    assert shook.get_assets(acquired_after="2030-01-01") == []
    target = orders[0]["assets"][0]
    found = shook.get_assets(custom_filter={"op": "=", "args": [{"property": "asset_id"}, target]})
    assert [a["id"] for a in found] == [target]
    with pytest.raises(ValueError, match=r"acquired_after .* is after acquired_before"):
        shook.get_assets(acquired_after="2023-01-01", acquired_before="2022-01-01")


def test_asset_metadata_and_download(shook: UP42Hook, storage):
    _, orders = storage
    asset_id = orders[1]["assets"][0]
    asset = shook.get_asset(asset_id)
    assert asset["id"] == asset_id and asset["source"] == "ARCHIVE"
    updated = shook.update_asset_metadata(asset_id, title="Berlin scene", tags=["a", "b"], note="hook")
    assert updated["title"] == "Berlin scene" and updated["tags"] == ["a", "b"]
    kept = shook.update_asset_metadata(asset_id, tags=["c"])
    assert kept["title"] == "Berlin scene" and kept["tags"] == ["c"]
    url = shook.get_asset_download_url(asset_id)
    assert url.startswith("http") and ".zip" in url
    archive = requests.get(url, timeout=30)
    archive.raise_for_status()
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert "output/data.json" in names
    with pytest.raises(UP42NotFoundError):
        shook.get_asset("00000000-0000-0000-0000-000000000000")


def test_storage_stac_search_pages_with_token(shook: UP42Hook, storage):
    server, orders = storage
    before = api_calls(server, shook)
    result = shook.search_storage_stac({"limit": 3})
    assert api_calls(server, shook) - before == 3  # 3 + 3 + 1 items
    found = {f["properties"]["up42-system:asset_id"] for f in result["features"]}
    assert found == asset_ids(orders)
    assert len(shook.search_storage_stac({"limit": 2}, limit=3)["features"]) == 3
    body = shook.storage_stac_search_parameters(geometry=example_aoi("Berlin"), acquired_after="2022-01-01")
    assert body["datetime"] == "2022-01-01T00:00:00Z/.."
    assert len(list(shook.iter_storage_stac(body))) == N_ORDERS


def test_asset_stac_info_and_stac_client(shook: UP42Hook, storage):
    _, orders = storage
    asset_id = orders[2]["assets"][0]
    info = shook.get_asset_stac_info(asset_id)
    assert "links" not in info
    assert [f["properties"]["up42-system:asset_id"] for f in info["features"]] == [asset_id]
    root = shook.get_storage_stac_root()
    assert root["type"] == "Catalog" and any(link["rel"] == "search" for link in root["links"])
    client = shook.stac_client()
    items = list(client.search(max_items=20).items())
    assert {i.properties["up42-system:asset_id"] for i in items} == asset_ids(orders)
