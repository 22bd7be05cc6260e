"""Blocks, credits, catalog (collections, products, schemas, search P5, quicklooks) through the hook."""

from __future__ import annotations

import json

import pytest

from up42_provider.api.errors import UP42NotFoundError, UP42ValidationError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import example_aoi

from .conftest import api_calls

BERLIN = example_aoi("Berlin")


def search_body(collections=("sentinel-2",), limit=10, **kwargs):
    return P.search_parameters(BERLIN, list(collections), "2022-01-01", "2022-12-31", limit=limit, **kwargs)


# ----------------------------------------------------------------------------------- blocks, credits


def test_blocks_and_block_details(hook: UP42Hook):
    blocks = hook.get_blocks()
    assert {"DATA", "PROCESSING"} <= {b["type"] for b in blocks}
    data = hook.get_blocks(block_type="data")
    assert data and all(b["type"] == "DATA" for b in data)
    details = hook.get_block(data[0]["id"])
    assert details["id"] == data[0]["id"] and details["name"] == data[0]["name"]
    with pytest.raises(ValueError, match="block_type 'BOTH' is unknown"):
        hook.get_blocks(block_type="BOTH")
    with pytest.raises(UP42NotFoundError):
        hook.get_block("00000000-0000-0000-0000-000000000000")


def test_block_coverage_is_fetched_from_the_public_url(hook: UP42Hook):
    data_block = hook.get_blocks(block_type="DATA")[0]
    coverage = hook.get_block_coverage(data_block["id"])
    assert coverage["type"] == "FeatureCollection" and coverage["features"]


def test_validate_manifest(hook: UP42Hook, tmp_path):
    manifest = {
        "_up42_specification_version": 2,
        "name": "my-block",
        "type": "processing",
        "tags": ["imagery"],
        "display_name": "My block",
        "description": "Does things",
        "parameters": {},
        "machine": {"type": "small"},
        "input_capabilities": {"raster": {"up42_standard": {"format": "GTiff"}}},
        "output_capabilities": {"raster": {"up42_standard": {"format": "GTiff"}}},
    }
    result = hook.validate_manifest(manifest)
    assert result["valid"] is True
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    assert hook.validate_manifest(path)["valid"] is True
    with pytest.raises(UP42ValidationError):
        hook.validate_manifest({"name": "broken"})
    with pytest.raises(ValueError, match="neither a dict nor an existing JSON file"):
        hook.validate_manifest(tmp_path / "missing.json")


def test_credits_balance(hook: UP42Hook):
    assert isinstance(hook.get_credits_balance()["balance"], int)


# -------------------------------------------------------------------------------- catalog metadata


def test_collections_and_data_products(hook: UP42Hook):
    archive = hook.get_collections(collection_type="ARCHIVE")
    tasking = hook.get_collections(collection_type="TASKING")
    assert archive and tasking and not {c["name"] for c in archive} & {c["name"] for c in tasking}
    products = hook.get_data_products(collection_type="ARCHIVE")
    assert products and all(p["collection"]["type"] == "ARCHIVE" for p in products)
    basic = hook.get_data_products(basic=True)
    entry = next(iter(basic.values()))
    assert set(entry) == {"collection", "host", "data_products"}
    with pytest.raises(ValueError, match="collection_type"):
        hook.get_collections(collection_type="STREAMING")


def test_data_product_schema(hook: UP42Hook):
    product = hook.get_data_products(collection_type="ARCHIVE")[0]
    schema = hook.get_data_product_schema(product["id"])
    assert "required" in schema and "properties" in schema
    with pytest.raises(UP42NotFoundError):
        hook.get_data_product_schema("00000000-0000-0000-0000-000000000000")


def test_catalog_host(hook: UP42Hook):
    assert hook.get_catalog_host(["phr", "spot"]) == "oneatlas"
    assert hook.get_catalog_host("sentinel-2") == "earthsearch"
    with pytest.raises(ValueError, match="served by different hosts"):
        hook.get_catalog_host(["phr", "sentinel-2"])
    with pytest.raises(ValueError, match=r"unknown collection\(s\) \['landsat-99'\]"):
        hook.get_catalog_host(["landsat-99"])


# ------------------------------------------------------------------------------------------- search


def test_search_honours_body_limit(hook: UP42Hook):
    result = hook.search(search_body(limit=4))
    assert result["type"] == "FeatureCollection" and len(result["features"]) == 4
    feature = result["features"][0]
    assert feature["properties"]["id"] and feature["properties"]["collection"] == "sentinel-2"


def test_search_paginates_over_next_links(hook: UP42Hook, emulator: EmulatorServer):
    body = search_body(limit=10)
    everything = hook.search(body, limit=1000, page_size=500)["features"]
    assert len(everything) > 25, "need a result spanning several pages"
    before = api_calls(emulator, hook)
    paged = list(hook.iter_search(body, limit=25, page_size=7))
    assert api_calls(emulator, hook) - before == 4  # 7+7+7+4: four pages, none fetched beyond the limit
    assert [f["properties"]["id"] for f in paged] == [f["properties"]["id"] for f in everything[:25]]
    assert body["limit"] == 10  # the caller's dict is not mutated
    all_pages = list(hook.iter_search(body, limit=len(everything) + 50, page_size=9))
    assert len(all_pages) == len(everything)  # stops when there is no next link


def test_search_without_a_limit_stops_at_the_cap_and_says_so(
    hook: UP42Hook, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    body = search_body()
    del body["limit"]  # nothing says how many: the default cap applies, not "every match"
    everything = hook.search(body, limit="all", page_size=500)["features"]
    monkeypatch.setattr(hook, "search_cap", 8)  # the emulator's catalog is smaller than 500 scenes
    assert len(everything) > 8
    capfd.readouterr()
    capped = hook.search(body)["features"]
    assert [f["properties"]["id"] for f in capped] == [f["properties"]["id"] for f in everything[:8]]
    assert "stopped at 8 features, the default cap" in capfd.readouterr().out
    assert len(hook.search(body, limit=len(everything) + 1)["features"]) == len(everything)
    assert len(list(hook.iter_search(body, limit="all", page_size=7))) == len(everything)
    assert "default cap" not in capfd.readouterr().out  # an explicit limit is not a cap
    assert UP42Hook.search_cap == 500
    with pytest.raises(ValueError, match="positive integer or 'all'"):
        hook.search(body, limit="everything")


def test_search_validates_geometry_before_any_request(hook: UP42Hook, emulator: EmulatorServer):
    hook.get_project()  # token and client ready
    body = search_body()
    body["intersects"] = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    before = api_calls(emulator, hook)
    with pytest.raises(ValueError, match="AOI polygon is invalid"):
        hook.search(body)
    with pytest.raises(ValueError, match="need 'collections'"):
        hook.search({"intersects": BERLIN["features"][0]["geometry"]})
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        hook.search(search_body(), limit=0)
    assert api_calls(emulator, hook) == before


def test_search_refuses_tasking_collections(hook: UP42Hook):
    """Listings include tasking collections; a catalog search over one is refused with the fix."""
    assert {c["type"] for c in hook.get_collections()} == {"ARCHIVE", "TASKING"}
    with pytest.raises(ValueError, match=r"\['phr-tasking'\] are TASKING collections"):
        hook.search(search_body(collections=["phr-tasking"]))


def test_search_with_explicit_host(hook: UP42Hook):
    body = search_body(collections=["phr"], limit=3)
    assert len(hook.search(body, host="oneatlas")["features"]) == 3


def test_catalog_quicklook(hook: UP42Hook):
    feature = hook.search(search_body(collections=["phr"], limit=1))["features"][0]
    image = hook.download_catalog_quicklook(feature["properties"]["id"], collection="phr")
    assert image is not None and image[:2] == b"\xff\xd8"  # JPEG
    assert hook.download_catalog_quicklook("not-a-scene", host="oneatlas") is None
    with pytest.raises(ValueError, match="pass the image's collection"):
        hook.download_catalog_quicklook("x")
