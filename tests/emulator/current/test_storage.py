"""Today's storage over real HTTP: STAC under /v2/assets/stac/, PATCH, DELETE, downloads, results.

Deliveries come from real 2023 orders (placed over HTTP) and from the store's public methods that
orders v2 and processing call (``create(layout="files")``, ``add_results``), so both item shapes
are served side by side, as in one account storage.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import google_crc32c
import pystac
import pytest
import rasterio
import requests
from pystac_client import Client
from pystac_client.exceptions import APIError

from tests.conftest import RawClient
from tests.emulator.current.conftest import current_client
from tests.emulator.test_orders import (
    BERLIN,
    HAMBURG,
    archive_body,
    place,
    product_id,
    scene_ids,
    wait_status,
)
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.media import products
from up42_provider.emulator.server import EmulatorServer
from up42_provider.emulator.storage.models import GEOTIFF, ResultFile, ResultItem

STAC = "/v2/assets/stac"
SEARCH = f"{STAC}/search"
PROBLEM_404 = {"status": 404, "title": "Resource does not exist.", "detail": {}}


@dataclass
class World:
    server: EmulatorServer
    api: RawClient
    archive_orders: list[dict]  # fulfilled 2023 orders (one asset each)
    v2_order_id: str  # an order delivered with the "files" layout (two scenes)
    v2_assets: list[str]
    job_id: str
    results_collection: str


def _wait_built(server: EmulatorServer, asset_id: str) -> None:
    deadline = time.monotonic() + 60
    while server.state.assets.build_status(asset_id) == "building":
        assert time.monotonic() < deadline, f"archive of {asset_id} never built"
        time.sleep(0.05)
    assert server.state.assets.build_status(asset_id) == "ready"


def _deliver_files(server: EmulatorServer, order: dict, scene_id: str) -> str:
    """What orders v2 do on fulfilment: a ``files`` layout delivery, published once built."""
    state = server.state
    feature = state.catalog.scene(scene_id).feature()
    asset = state.assets.create(
        order, feature, aoi=BERLIN, source="ARCHIVE", collection_name="phr", layout="files"
    )
    _wait_built(server, asset["id"])
    state.assets.publish(asset["id"], state.clock.now())
    return asset["id"]


def _result_raster(path: Path) -> None:
    products.write_cog(path, BERLIN, 42, bands=3)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with EmulatorServer(EmulatorConfig(speed=1000.0, seed=23)) as server:
        api = current_client(server)
        placed = [place(api, archive_body(s, "phr", tags=["archive-set"])) for s in scene_ids(api, "phr", 3)]
        done = [wait_status(api, o["id"], "FULFILLED", timeout=60) for o in placed]
        v2_order = {
            "id": str(uuid.uuid4()),
            "workspaceId": server.config.workspace_id,
            "tags": ["v2-set"],
            "dataProductId": product_id("phr"),
            "type": "ARCHIVE",
        }
        v2_assets = [_deliver_files(server, v2_order, s) for s in scene_ids(api, "phr", 5)[3:5]]
        job_id = str(uuid.uuid4())
        results = server.state.assets.add_results(
            job_id=job_id,
            workspace_id=server.config.workspace_id,
            title="Pansharpened",
            items=[
                ResultItem(
                    geometry=BERLIN,
                    datetime=datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
                    files=[ResultFile("image", "pansharpened.tif", GEOTIFF, _result_raster)],
                    properties={"gsd": 0.5},
                )
            ],
        )
        yield World(server, api, done, v2_order["id"], v2_assets, job_id, results.id)


def search_all(api: RawClient, body: dict) -> list[dict]:
    """POST search, following next links with their body alone (as pystac-client does)."""
    page = api.post(SEARCH, json=body)
    assert page.status_code == 200, page.text
    data = page.json()
    features = list(data["features"])
    while nxt := next((link for link in data["links"] if link["rel"] == "next"), None):
        data = api.post(nxt["href"], json=nxt["body"]).json()
        features += data["features"]
    return features


def by_order(order_id: str) -> dict:
    return {"filter": {"op": "=", "args": [{"property": "order_id"}, order_id]}, "filter-lang": "cql2-json"}


def stac_client(api: RawClient) -> Client:
    return Client.open(f"{api.base}{STAC}/", headers={"Authorization": api.session.headers["Authorization"]})


# -- landing page, pystac-client --------------------------------------------------------------------


def test_pystac_client_over_the_landing_page(world: World):
    api = world.api
    client = stac_client(api)
    assert client.id == "up42-storage"
    assert (
        client.conforms_to("ITEM_SEARCH")
        and client.conforms_to("COLLECTIONS")
        and client.conforms_to("FILTER")
    )
    search = client.search(filter=by_order(world.v2_order_id)["filter"], filter_lang="cql2-json")
    items = list(search.items())
    assert {i.properties["up42-system:asset_id"] for i in items} == set(world.v2_assets)
    item = items[0]
    assert item.properties["up42-order:id"] == world.v2_order_id
    assert item.get_self_href() == f"{api.base}{STAC}/collections/{item.collection_id}/items/{item.id}"
    collection = client.get_collection(item.collection_id)
    assert {i.id for i in collection.get_items()} == {i.id for i in items}
    assert collection.extra_fields["up42-order:id"] == world.v2_order_id
    (original,) = collection.assets.values()
    assert original.roles == ["data", "original"] and original.media_type == "application/zip"
    # get_items(*ids), as BulkDeletion resolves items
    assert {i.id for i in client.get_items(*[i.id for i in items])} == {i.id for i in items}
    assert client.get_collection(str(uuid.uuid4())) is None  # pystac-client's answer to our 404
    with pytest.raises(APIError) as bad:
        list(client.search(filter={"op": "≈", "args": [1, 1]}).items())
    assert bad.value.status_code == 400


def test_every_delivery_is_an_item_with_the_up42_fields(world: World):
    api = world.api
    features = search_all(api, {"limit": 3})
    assert len(features) == len(world.archive_orders) + len(world.v2_assets) + 1
    for order in world.archive_orders:
        (feature,) = search_all(api, by_order(order["id"]))
        props = feature["properties"]
        assert props["up42-system:asset_id"] == order["assets"][0]
        assert (
            props["up42-order:id"] == order["id"]
            and props["up42-product:product_id"] == order["dataProductId"]
        )
        assert props["up42-system:workspace_id"] == api.workspace_id
        assert props["up42-system:account_id"] == world.server.config.account_id
        assert props["up42-user:title"] is None and props["up42-user:tags"] == ["archive-set"]
        assert props["up42-system:source"] == "ARCHIVE" and props["up42-product:collection_name"] == "phr"
        assert feature["assets"] == {"data": {"href": f"{api.base}/v2/assets/{order['assets'][0]}"}}
    (result,) = search_all(api, {"filter": {"op": "=", "args": [{"property": "job_id"}, world.job_id]}})
    assert result["collection"] == world.results_collection
    assert result["properties"]["up42-system:job_id"] == world.job_id and result["properties"]["gsd"] == 0.5
    assert result["properties"]["datetime"] == "2024-05-01T10:00:00.000000+00:00"
    assert set(result["assets"]) == {"image"}


# -- search: CQL2, paging, errors ---------------------------------------------------------------------


def test_cql2_filters_on_queryables(world: World):
    api = world.api
    everything = {f["properties"]["up42-system:asset_id"] for f in search_all(api, {"limit": 100})}

    def found(flt: dict) -> set[str]:
        return {f["properties"]["up42-system:asset_id"] for f in search_all(api, {"filter": flt, "limit": 2})}

    archive = {o["assets"][0] for o in world.archive_orders}
    results = found({"op": "=", "args": [{"property": "job_id"}, world.job_id]})
    assert len(results) == 1 and everything == archive | set(world.v2_assets) | results
    tags = {"property": "tags"}
    assert found({"op": "a_contains", "args": [tags, ["v2-set"]]}) == set(world.v2_assets)
    assert found({"op": "a_overlaps", "args": [tags, ["v2-set", "archive-set"]]}) == archive | set(
        world.v2_assets
    )
    assert found({"op": "isNull", "args": [{"property": "job_id"}]}) == everything - results
    assert found({"op": "like", "args": [{"property": "collection_name"}, "ph%"]}) == archive | set(
        world.v2_assets
    )
    assert found({"op": "s_intersects", "args": [{"property": "geometry"}, HAMBURG]}) == set()
    assert found({"op": "in", "args": [{"property": "order_id"}, [world.v2_order_id]]}) == set(
        world.v2_assets
    )
    at = {"op": "=", "args": [{"property": "datetime"}, {"timestamp": "2024-05-01T10:00:00Z"}]}
    assert found(at) == results


def test_search_paging_is_complete_and_stable(world: World):
    api = world.api
    first = api.post(
        SEARCH, json={"limit": 2, "sortby": [{"field": "properties.datetime", "direction": "asc"}]}
    )
    page = first.json()
    assert len(page["features"]) == 2
    nxt = next(link for link in page["links"] if link["rel"] == "next")
    assert nxt["method"] == "POST" and nxt["body"]["token"].startswith("next:")
    walked = search_all(api, {"limit": 2, "sortby": [{"field": "properties.datetime", "direction": "asc"}]})
    times = [f["properties"]["datetime"] for f in walked]
    assert times == sorted(times) and len({f["id"] for f in walked}) == len(walked) == 6
    # without limit: the default page of 10 holds everything here, and no next link
    alone = api.post(SEARCH, json={}).json()
    assert len(alone["features"]) == 6 and [link["rel"] for link in alone["links"]] == ["root"]
    # GET search and the fields extension
    got = api.get(f"{SEARCH}?limit=1&fields=id,properties.gsd,-links").json()
    (feature,) = got["features"]
    assert set(feature) == {"id", "type", "links", "properties"} and set(feature["properties"]) == {"gsd"}
    nxt = next(link for link in got["links"] if link["rel"] == "next")
    assert nxt["method"] == "GET" and "token=next" in nxt["href"]
    assert len(api.get(nxt["href"]).json()["features"]) == 1


def test_collection_list_and_items_page_with_tokens(world: World):
    api = world.api
    page = api.get(f"{STAC}/collections?limit=2").json()
    seen = [c["id"] for c in page["collections"]]
    while nxt := next((link for link in page["links"] if link["rel"] == "next"), None):
        assert "token=next" in nxt["href"]
        page = api.get(nxt["href"]).json()
        seen += [c["id"] for c in page["collections"]]
    assert len(seen) == len(set(seen)) == len(world.archive_orders) + 2  # + the v2 order + the results
    other = api.get(f"{STAC}/collections?workspace_id={uuid.uuid4()}").json()
    assert other["collections"] == []
    v2 = next(c for c in search_all(api, by_order(world.v2_order_id)))["collection"]
    items = api.get(f"{STAC}/collections/{v2}/items?limit=1&collections={v2}").json()
    assert len(items["features"]) == 1
    nxt = next(link for link in items["links"] if link["rel"] == "next")
    assert len(api.get(nxt["href"]).json()["features"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {"op": "≈", "args": [{"property": "gsd"}, 1]}},
        {"filter": {"op": "=", "args": [{"property": "gsd"}]}},
        {"filter": {"op": "=", "args": [1, 1]}, "filter-lang": "cql2-text"},
        {"datetime": "2024-02-01T00:00:00Z/2024-01-01T00:00:00Z"},
        {"intersects": {"type": "Polygon", "coordinates": "nope"}},
        {"limit": 0},
        {"token": "next:garbage"},
        {"sortby": [{"field": "gsd", "direction": "sideways"}]},
        {"fields": {"include": "id"}},
        {"bbox": [True, 52.0, 14.0, 53.0]},  # a JSON boolean is not a coordinate
    ],
)
def test_search_errors_are_400_problems(world: World, body: dict):
    """(The messages that name each problem are checked in tests/emulator/test_stac_query.py.)"""
    r = world.api.post(SEARCH, json=body)
    assert r.status_code == 400
    assert r.json()["title"] == "Bad request" and r.json()["status"] == 400


def test_queryables(world: World):
    page = world.api.get(f"{STAC}/queryables").json()
    assert {"order_id", "asset_id", "tags", "title", "eo:cloud_cover", "collection_name"} <= set(
        page["properties"]
    )


# -- PATCH (N17) ----------------------------------------------------------------------------------------


def test_patch_item_title_and_tags(world: World):
    api = world.api
    (feature,) = search_all(api, by_order(world.archive_orders[0]["id"]))
    url = f"{STAC}/collections/{feature['collection']}/items/{feature['id']}"
    body = {"up42-user:title": "Renamed", "up42-user:tags": ["a", "b", "a"]}
    r = api.patch(url, json=body)
    assert r.status_code == 200, r.text
    item = pystac.Item.from_dict(r.json())
    assert item.get_self_href() == f"{api.base}{url}" and item.collection_id == feature["collection"]
    assert item.properties["up42-user:title"] == "Renamed" and item.properties["up42-user:tags"] == ["a", "b"]
    assert api.get(url).json() == r.json()
    # one storage: the 2023 asset shows the same title and tags
    asset_id = feature["properties"]["up42-system:asset_id"]
    meta = api.get(f"/v2/assets/{asset_id}/metadata").json()
    assert meta["title"] == "Renamed" and meta["tags"] == ["a", "b"]
    # the new values are searchable
    title_filter = {"filter": {"op": "=", "args": [{"property": "title"}, "Renamed"]}}
    assert [f["id"] for f in search_all(api, title_filter)] == [feature["id"]]
    # merge-patch: a missing key keeps, null clears
    kept = api.patch(url, json={"up42-user:tags": ["c"]}).json()["properties"]
    assert kept["up42-user:title"] == "Renamed" and kept["up42-user:tags"] == ["c"]
    cleared = api.patch(url, json={"up42-user:title": None, "up42-user:tags": None}).json()["properties"]
    assert cleared["up42-user:title"] is None and cleared["up42-user:tags"] == []
    assert api.get(f"/v2/assets/{asset_id}/metadata").json()["title"] == meta["name"]


@pytest.mark.parametrize(
    "body", [{"up42-user:title": 5}, {"up42-user:tags": "a"}, {"up42-user:tags": [1]}, {"title": "x"}, ["x"]]
)
def test_patch_item_refuses_bad_bodies(world: World, body):
    api = world.api
    (feature,) = search_all(api, by_order(world.archive_orders[1]["id"]))
    r = api.patch(f"{STAC}/collections/{feature['collection']}/items/{feature['id']}", json=body)
    assert r.status_code == 400 and r.json()["title"] == "Bad request"


def test_patch_unknown_item_or_wrong_collection_is_404(world: World):
    api = world.api
    (feature,) = search_all(api, by_order(world.archive_orders[1]["id"]))
    other = search_all(api, by_order(world.v2_order_id))[0]["collection"]
    body = {"up42-user:title": None, "up42-user:tags": None}
    for url in (
        f"{STAC}/collections/{other}/items/{feature['id']}",
        f"{STAC}/collections/{feature['collection']}/items/{uuid.uuid4()}",
        f"{STAC}/collections/None/items/{feature['id']}",
    ):
        r = api.patch(url, json=body)
        assert r.status_code == 404 and r.json() == PROBLEM_404


# -- downloads (§10.4) ----------------------------------------------------------------------------------


def _crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def test_item_asset_is_a_geotiff_behind_download_url(world: World, tmp_path: Path):
    api = world.api
    feature = search_all(api, by_order(world.v2_order_id))[0]
    image = feature["assets"]["image"]
    assert image["type"] == GEOTIFF and image["roles"] == ["data"]
    assert image["href"].startswith(f"{api.base}/v2/assets/")
    r = api.post(f"{image['href']}/download-url")  # no body, as today's SDK sends it
    assert r.status_code == 200 and set(r.json()) == {"url"}
    url = r.json()["url"]
    parts = urlsplit(url)
    assert parts.path.endswith(".tif")
    (disposition,) = parse_qs(parts.query)["response-content-disposition"]
    stem = Path(parts.path).stem
    assert disposition == f'attachment; filename="{stem}"'
    full = requests.get(url, timeout=30)  # no UP42 credentials
    assert full.status_code == 200 and full.headers["Content-Type"] == GEOTIFF
    body = full.content
    assert f"crc32c={_crc32c(body)}" in full.headers["x-goog-hash"]
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert f"md5={md5}" in full.headers["x-goog-hash"]
    path = tmp_path / "image.tif"
    path.write_bytes(body)
    with rasterio.open(path) as raster:
        assert raster.crs.to_epsg() == 4326 and raster.count >= 1
        left, bottom, right, top = raster.bounds
        assert left < 13.42 and right > 13.38 and bottom < 52.52 and top > 52.50
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=30)
    assert part.status_code == 206 and part.content == body[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(body)}"
    # the href itself redirects to a fresh signed URL of the same file
    redirect = api.get(image["href"], allow_redirects=False)
    assert redirect.status_code == 307 and urlsplit(redirect.headers["location"]).path == parts.path
    # tampering with the signed disposition breaks the signature
    tampered = url.replace("attachment", "inline")
    assert tampered != url
    assert requests.get(tampered, timeout=30).status_code == 403


def test_original_delivery_zip_holds_the_same_raster(world: World):
    api = world.api
    feature = search_all(api, by_order(world.v2_order_id))[0]
    collection = api.get(f"{STAC}/collections/{feature['collection']}").json()
    (original,) = collection["assets"].values()
    assert original["title"] == "Original Delivery" and original["type"] == "application/zip"
    archive_url = api.post(f"{original['href']}/download-url").json()["url"]
    archive = requests.get(archive_url, timeout=30)
    assert archive.status_code == 200 and ".zip" in urlsplit(archive_url).path
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        assert "output/data.json" in zf.namelist()
        assert any(n.endswith(".tif") for n in zf.namelist())


def test_results_collection_file_downloads(world: World):
    api = world.api
    collection = api.get(f"{STAC}/collections/{world.results_collection}").json()
    assert collection["up42-system:job_id"] == world.job_id and "up42-order:id" not in collection
    (item,) = api.get(f"{STAC}/collections/{world.results_collection}/items").json()["features"]
    url = api.post(f"{item['assets']['image']['href']}/download-url").json()["url"]
    assert Path(urlsplit(url).path).name == "pansharpened.tif"
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content[:4] in (b"II*\x00", b"MM\x00*")
    # results are today's objects: not in the 2023 asset listing
    listed = {a["id"] for a in api.get("/v2/assets?size=100").json()["content"]}
    assert item["properties"]["up42-system:asset_id"] not in listed


def test_processing_inputs_resolve_items_and_their_rasters(world: World):
    """What processing reads: an input item by its self href, and the GeoTIFF it derives from."""
    api, state = world.api, world.server.state
    for order_id in (world.archive_orders[1]["id"], world.v2_order_id):
        feature = search_all(api, by_order(order_id))[0]
        self_href = next(link["href"] for link in feature["links"] if link["rel"] == "self")
        record = state.assets.find_item(self_href)
        assert record is not None and record.item["id"] == feature["id"]
        raster = state.blobs.ensure_sync(state.assets.raster_key(record))
        with rasterio.open(raster.path) as image:
            left, bottom, right, top = image.bounds
            assert left < 13.42 and right > 13.38 and bottom < 52.52 and top > 52.50
        if feature["assets"].keys() == {"data"}:  # a 2023 delivery: the raster of its ZIP
            url = api.post(f"{feature['assets']['data']['href']}/download-url").json()["url"]
            with zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=30).content)) as zf:
                (tif,) = [n for n in zf.namelist() if n.endswith(".tif")]
                assert zf.read(tif) == raster.path.read_bytes()
    collection = search_all(api, by_order(world.v2_order_id))[0]["collection"]
    assert state.assets.find_item(f"{api.base}{STAC}/collections/{collection}/items/{uuid.uuid4()}") is None
    assert state.assets.find_item("https://example.com/somewhere/else") is None


def test_download_url_of_unknown_file_is_404(world: World):
    r = world.api.post(f"/v2/assets/{uuid.uuid4()}/download-url")
    assert r.status_code == 404 and r.json() == PROBLEM_404


# -- DELETE (N18) ---------------------------------------------------------------------------------------


def test_delete_collection_removes_items_assets_and_files(world: World):
    api = world.api
    order = world.archive_orders[2]
    (feature,) = search_all(api, by_order(order["id"]))
    asset_id = feature["properties"]["up42-system:asset_id"]
    url = api.post(f"/v2/assets/{asset_id}/download-url").json()["url"]
    assert requests.get(url, timeout=30).status_code == 200
    collection_url = f"{STAC}/collections/{feature['collection']}"
    r = api.delete(collection_url)
    assert r.status_code == 204 and r.content == b""
    assert api.get(collection_url).json() == PROBLEM_404
    assert search_all(api, by_order(order["id"])) == []
    assert api.get(f"/v2/assets/{asset_id}/metadata").status_code == 404
    assert asset_id not in {a["id"] for a in api.get("/v2/assets?size=100").json()["content"]}
    gone = requests.get(url, timeout=30)
    assert gone.status_code == 404 and "NoSuchKey" in gone.text
    assert api.delete(collection_url).json() == PROBLEM_404


# -- faults ---------------------------------------------------------------------------------------------


def test_faults_on_storage_paths(fresh_emulator: EmulatorServer):
    api = current_client(fresh_emulator)
    rules = {
        "rules": [
            {"kind": "rate_limit", "count": 1, "method": "POST", "path": "^/v2/assets/stac/search$"},
            {"kind": "error", "count": 1, "method": "GET", "path": "^/v2/assets/stac/collections$"},
            {"kind": "token_expiry", "count": 1, "method": "GET", "path": "^/v2/assets/stac/queryables$"},
            {"kind": "slow", "count": 1, "method": "GET", "path": "^/v2/assets/stac$"},
        ]
    }
    assert api.post("/_emulator/faults", json=rules).status_code == 200
    limited = api.post(SEARCH, json={})
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert api.post(SEARCH, json={}).status_code == 200
    failed = api.get(f"{STAC}/collections")
    assert failed.status_code >= 500 and failed.json()["status"] == failed.status_code
    assert api.get(f"{STAC}/collections").status_code == 200
    assert api.get(f"{STAC}/queryables").status_code == 401
    assert api.get(STAC).status_code == 200  # slow, yet answered
    fired = api.get("/_emulator/info").json()["faultsFired"]
    assert {k: fired[k] for k in ("rate_limit", "error", "token_expiry", "slow")} == dict.fromkeys(
        ("rate_limit", "error", "token_expiry", "slow"), 1
    )
    # a dropped signed download resumes with Range
    state = fresh_emulator.state
    key = f"tests/{uuid.uuid4()}"
    data = bytes(range(256)) * 4096
    state.blobs.register(key, "file.bin", "application/octet-stream", lambda p: p.write_bytes(data))
    url = state.blobs.signed_url(fresh_emulator.url, key, disposition=True)
    path = urlsplit(url).path
    drop = {"rules": [{"kind": "drop", "count": 1, "method": "GET", "path": f"^{path}$"}]}
    assert api.post("/_emulator/faults", json=drop).status_code == 200
    got = b""
    with pytest.raises(requests.exceptions.RequestException), requests.get(url, stream=True, timeout=30) as r:
        for chunk in r.iter_content(65536):
            got += chunk
    assert 0 < len(got) < len(data)
    rest = requests.get(url, headers={"Range": f"bytes={len(got)}-"}, timeout=30)
    assert rest.status_code == 206 and got + rest.content == data
