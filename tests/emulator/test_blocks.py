"""Block marketplace E05-E08 and X2 over real HTTP, plus chain compatibility and block prices."""

from __future__ import annotations

import uuid

import pytest
import requests
from shapely.geometry import shape

from tests.conftest import RawClient
from up42_provider.emulator.blocks.models import (
    BLOCKS,
    block_consumption,
    block_credits,
    chain_errors,
    compatible_blocks,
    find_block,
    select_scenes,
    validate_block_inputs,
)

S2 = "esa-s2-l2a-gtiff-visual"
S2_ANALYTIC = "esa-s2-l2a-gtiff-analytic"
PHR = "oneatlas-pleiades-aoiclipped"
BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.35, 52.45], [13.45, 52.45], [13.45, 52.53], [13.35, 52.53], [13.35, 52.45]]],
}
MANIFEST = {
    "_up42_specification_version": 2,
    "name": "my-sharpening",
    "type": "processing",
    "tags": ["imagery", "processing"],
    "display_name": "My Sharpening",
    "description": "Sharpens rasters.",
    "parameters": {"strength": {"type": "string", "default": "medium"}},
    "machine": {"type": "large"},
    "input_capabilities": {"raster": {"up42_standard": {"format": "GTiff"}}},
    "output_capabilities": {"raster": {"up42_standard": {"format": "GTiff", "bands": ">"}}},
}


def by_name(api: RawClient) -> dict[str, dict]:
    return {b["name"]: b for b in api.get("/blocks").json()["data"]}


# ---------------------------------------------------------------------------------------- E05/E06
def test_block_list_is_an_envelope_of_public_blocks(api: RawClient):
    r = api.get("/blocks", json={})
    assert r.status_code == 200
    body = r.json()
    assert body["error"] is None
    blocks = body["data"]
    assert {"DATA", "PROCESSING"} == {b["type"] for b in blocks}
    for b in blocks:
        assert {"id", "name", "displayName", "type"} <= set(b)
        assert uuid.UUID(b["id"]).version in (4, 5)
    assert len({b["id"] for b in blocks}) == len(blocks)
    assert {
        S2,
        PHR,
        "oneatlas-spot-aoiclipped",
        "tiling",
        "sharpening",
        "ndvi",
        "pansharpen",
        "data-conversion",
    } <= {b["name"] for b in blocks}
    assert by_name(api)[S2]["displayName"] == "Sentinel-2 L2A Visual (GeoTIFF)"
    assert api.get("/blocks/").json()["data"] == blocks


def test_block_details_carry_parameters_and_capabilities(api: RawClient):
    blocks = by_name(api)
    collections = {c["name"] for c in api.get("/collections").json()["data"]}
    for name, item in blocks.items():
        r = api.get(f"/blocks/{item['id']}")
        assert r.status_code == 200
        detail = r.json()["data"]
        assert detail["id"] == item["id"] and detail["name"] == name and "createdAt" in detail
        assert detail["version"] and isinstance(detail["isDryRunSupported"], bool)
        assert "outputCapabilities" in detail and "inputCapabilities" in detail
        for spec in detail["parameters"].values():
            assert "type" in spec
        if detail["type"] == "DATA":
            assert detail["collection"] in collections
            assert {"time", "limit", "ids", "bbox", "intersects", "contains", "max_cloud_cover"} <= set(
                detail["parameters"]
            )
            assert "default" in detail["parameters"]["time"]  # the SDK drops 'time' for scene_ids
    tiling = api.get(f"/blocks/{blocks['tiling']['id']}").json()["data"]["parameters"]
    assert tiling["tile_width"] == {
        "type": "number",
        "default": 768,
        "required": True,
        "description": "Width of a tile in pixels.",
    }
    assert {"tile_height", "match_extents", "discard_empty_tiles", "nodata"} <= set(tiling)


def test_unknown_block_is_404_envelope(api: RawClient):
    r = api.get("/blocks/3f1e0c4e-0000-4000-8000-000000000000")
    assert r.status_code == 404
    assert r.json()["data"] is None and r.json()["error"]["code"] == 404


# ---------------------------------------------------------------------------------------- E07/X2
def test_coverage_url_is_public_geojson(api: RawClient):
    block = by_name(api)[S2]
    r = api.get(f"/blocks/{block['id']}/coverage")
    assert r.status_code == 200
    url = r.json()["data"]["url"]
    assert url == f"{api.base}/coverage/{block['id']}.geojson"
    plain = requests.get(url, timeout=10)  # no UP42 headers, like the SDK
    assert plain.status_code == 200
    geojson = plain.json()
    assert geojson["type"] == "FeatureCollection" and geojson["features"]
    geometry = geojson["features"][0]["geometry"]
    assert geometry["type"] == "MultiPolygon" and geometry["coordinates"]


def test_coverage_of_processing_or_unknown_blocks_is_an_error(api: RawClient):
    tiling = by_name(api)["tiling"]
    assert api.get(f"/blocks/{tiling['id']}/coverage").status_code == 404
    assert api.get("/blocks/3f1e0c4e-0000-4000-8000-000000000000/coverage").status_code == 404
    assert requests.get(f"{api.base}/coverage/{tiling['id']}.geojson", timeout=10).status_code == 404
    assert requests.get(f"{api.base}/coverage/nothing.geojson", timeout=10).status_code == 404


# ---------------------------------------------------------------------------------------- E08
def test_valid_manifest(api: RawClient):
    r = api.post("/validate-schema/block", json=MANIFEST)
    assert r.status_code == 200
    assert r.json()["data"] == {"valid": True, "errors": []}


@pytest.mark.parametrize(
    "change,fragment",
    [
        ({"name": None}, "'name'"),
        ({"type": "analysis"}, "'type'"),
        ({"machine": {"type": "gigantic"}}, "machine.type"),
        ({"tags": "imagery"}, "'tags'"),
        ({"_up42_specification_version": 1}, "_up42_specification_version"),
        ({"output_capabilities": {}}, "output_capabilities"),
        ({"parameters": {"strength": {"default": 3}}}, "Parameter 'strength'"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_invalid_manifests_are_400_with_the_problems(api: RawClient, change: dict, fragment: str):
    manifest = {**MANIFEST, **change}
    manifest = {k: v for k, v in manifest.items() if v is not None}
    r = api.post("/validate-schema/block", json=manifest)
    assert r.status_code == 400
    body = r.json()
    assert body["error"]["code"] == 400 and fragment in body["error"]["message"]
    assert body["data"]["valid"] is False and any(fragment in e for e in body["data"]["errors"])


def test_manifest_body_must_be_json(api: RawClient):
    assert api.post("/validate-schema/block", data="{nope").status_code == 400
    assert api.post("/validate-schema/block", json=["list"]).status_code == 400


# ---------------------------------------------------------------------------------------- chains
@pytest.mark.parametrize(
    "chain",
    [
        [S2, "tiling"],
        [S2, "sharpening", "tiling", "data-conversion"],
        [S2_ANALYTIC, "ndvi", "tiling"],
        [PHR, "pansharpen", "ndvi"],
        [PHR, "pansharpen", "ship-detection"],
        [f"{S2}:1", "tiling:1", "tiling:2"],
    ],
)
def test_valid_chains(chain: list[str]):
    assert chain_errors(chain) == []


@pytest.mark.parametrize(
    "chain,fragment",
    [
        ([S2, "ndvi"], "missing nir"),
        (["tiling"], "first block must be a data block"),
        ([PHR, S2], "only be the first block"),
        ([S2_ANALYTIC, "pansharpen"], "missing pan"),
        ([S2, "ship-detection"], "resolution"),
        ([PHR, "ship-detection", "tiling"], "needs raster input"),
        ([PHR, "ndvi", "ndvi"], "missing red, nir"),
        ([S2, "no-such-block"], "Unknown block"),
        ([], "at least one block"),
    ],
)
def test_incompatible_chains_are_explained(chain: list[str], fragment: str):
    errors = chain_errors(chain)
    assert errors and any(fragment in e for e in errors), errors


def test_compatible_blocks_follow_capabilities():
    after_s2 = {b["name"] for b in compatible_blocks(S2)}
    assert {"tiling", "sharpening", "data-conversion"} <= after_s2
    assert "ndvi" not in after_s2 and "pansharpen" not in after_s2
    assert not any(find_block(n)["type"] == "DATA" for n in after_s2)
    assert {"ndvi", "pansharpen"} <= {b["name"] for b in compatible_blocks(PHR)}
    assert compatible_blocks("ship-detection") == []
    assert {b["name"] for b in compatible_blocks("tiling:1", chain=[f"{S2}:1", "tiling:1"])} == after_s2
    assert compatible_blocks("no-such-block") == []


def test_find_block_by_id_name_display_name_and_task_name():
    block = find_block(S2)
    assert find_block(block["id"]) is block
    assert find_block("Sentinel-2 L2A Visual (GeoTIFF)") is block
    assert find_block(f"{S2}:2") is block
    assert find_block("nope") is None


# ---------------------------------------------------------------------------------------- credits, inputs
def test_block_credits_match_the_e45_breakdown_and_scale_with_scenes():
    inputs = {"time": "2022-01-01T00:00:00Z/2022-12-31T23:59:59Z", "limit": 2, "intersects": BERLIN}
    for block in BLOCKS:
        task_inputs = inputs if block["type"] == "DATA" else {}
        total = block_credits(block, task_inputs, 2)
        parts = block_consumption(block["name"], task_inputs, 2)
        assert (
            total == parts["blockConsumption"]["credit"]["min"] + parts["machineConsumption"]["credit"]["min"]
        )
        assert parts["machineConsumption"]["duration"]["max"] > 0
        assert block_credits(block, task_inputs, 4) >= total > 0
        assert block_credits(block, task_inputs, 0) == 0
    assert block_credits(PHR, inputs, 1) > block_credits(S2, inputs, 1)
    bigger = {**inputs, "bbox": [13.2, 52.3, 13.6, 52.7]}
    bigger.pop("intersects")
    assert block_credits(PHR, bigger, 1) > block_credits(PHR, inputs, 1)


def test_data_block_inputs_are_validated():
    good = {
        "time": "2022-01-01T00:00:00+00:00/2022-12-31T23:59:59+00:00",
        "limit": 1,
        "ids": None,
        "bbox": None,
        "intersects": BERLIN,
        "max_cloud_cover": 20,
    }
    assert validate_block_inputs(S2, good) == []
    assert validate_block_inputs(S2, {"asset_ids": ["a"]}) == []
    problems = " | ".join(validate_block_inputs(S2, {"time": "2022/xx", "limit": 0, "colour": 1}))
    assert "time" in problems and "limit" in problems and "colour" in problems
    assert "needs one of" in " ".join(validate_block_inputs(S2, {"limit": 1}))
    assert "only one of" in " ".join(validate_block_inputs(S2, {"intersects": BERLIN, "bbox": [0, 0, 1, 1]}))
    assert validate_block_inputs("tiling", {"tile_width": 768, "nodata": None}) == []
    assert "tile_width" in " ".join(validate_block_inputs("tiling", {"tile_width": None}))
    assert "true or false" in " ".join(validate_block_inputs("tiling", {"match_extents": "yes"}))


def test_select_scenes_for_a_data_block(api: RawClient):
    catalog = api.server.state.catalog
    inputs = {
        "time": "2022-01-01T00:00:00+00:00/2022-12-31T23:59:59+00:00",
        "limit": 3,
        "intersects": BERLIN,
        "max_cloud_cover": 30,
    }
    scenes = select_scenes(catalog, S2, inputs)
    assert len(scenes) == 3
    assert all(s.collection == "sentinel-2" and s.cloud_coverage <= 30 for s in scenes)
    assert [s.acquired for s in scenes] == sorted((s.acquired for s in scenes), reverse=True)
    by_ids = select_scenes(catalog, S2, {"ids": [scenes[1].id], "limit": 1})
    assert [s.id for s in by_ids] == [scenes[1].id]
    contained = select_scenes(catalog, PHR, {**inputs, "intersects": None, "contains": BERLIN, "limit": 50})
    assert all(shape(s.geometry).contains(shape(BERLIN)) for s in contained)
    assert select_scenes(catalog, S2, {"asset_ids": ["x"]}) == []
