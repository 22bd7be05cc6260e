"""Storage E31-E36 and the storage STAC API over real HTTP (API.md §8.7, §6 P3/P6, §10, §12.1)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
import requests
from pystac_client import Client

from tests.conftest import RawClient
from tests.emulator.test_orders import (
    BERLIN,
    HAMBURG,
    archive_body,
    place,
    scene_ids,
    tasking_body,
    wait_status,
)
from up42_provider.emulator.clock import parse_iso
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer

COUNTS = {"phr": 30, "spot": 15, "sentinel-2": 10}
TOTAL = sum(COUNTS.values()) + 1  # + one tasking delivery
NOT_FOUND = {"status": 404, "title": "Resource does not exist.", "detail": {}}
SEARCH = "/v2/assets/stac/search"


@dataclass
class Storage:
    api: RawClient
    orders: dict[str, dict]  # asset id -> fulfilled order
    by_collection: dict[str, list[str]]  # collection -> asset ids
    tasking_asset: str


@pytest.fixture(scope="module")
def storage() -> Iterator[Storage]:
    """A private emulator holding 56 delivered assets (3 archive collections + 1 tasking delivery)."""
    with EmulatorServer(EmulatorConfig(speed=1000.0, seed=11)) as server:
        api = RawClient(server)
        placed = []
        for collection, count in COUNTS.items():
            for scene in scene_ids(api, collection, count):
                placed.append(place(api, archive_body(scene, collection, tags=[f"{collection}-set", "bulk"])))
        tasking = place(api, tasking_body("Storage tasking", tags=["tasking-set"]))
        quotation = api.get(f"/v2/tasking/quotation?page=0&orderId={tasking['id']}").json()["content"][0]
        assert api.patch(f"/v2/tasking/quotation/{quotation['id']}", json={"decision": "ACCEPTED"}).ok
        orders, by_collection = {}, {}
        for order in [*placed, tasking]:
            done = wait_status(api, order["id"], "FULFILLED", timeout=60)
            (asset_id,) = done["assets"]
            orders[asset_id] = done
            meta = api.get(f"/v2/assets/{asset_id}/metadata").json()
            by_collection.setdefault(meta["collectionName"], []).append(asset_id)
        yield Storage(api, orders, by_collection, done["assets"][0])


def walk(api: RawClient, query: str = "") -> tuple[list[dict], list[dict]]:
    """P3 as the SDK walks E31: first ``size=50`` without page, then ``page=1..``."""
    base = f"/v2/assets?{query}&size=50" if query else "/v2/assets?size=50"
    first = api.get(base).json()
    pages = [first] + [api.get(f"{base}&page={n}").json() for n in range(1, first["totalPages"])]
    return [a for p in pages for a in p["content"]], pages


def ids(assets: list[dict]) -> set[str]:
    return {a["id"] for a in assets}


# -- E31 -------------------------------------------------------------------------------------------


def test_asset_list_is_a_bare_spring_page_walked_like_the_sdk(storage: Storage):
    assets, pages = walk(storage.api)
    assert [len(p["content"]) for p in pages] == [50, TOTAL - 50]
    assert pages[0]["totalElements"] == TOTAL and pages[0]["totalPages"] == 2
    assert [p["last"] for p in pages] == [False, True] and [p["number"] for p in pages] == [0, 1]
    assert "data" not in pages[0]
    assert ids(assets) == set(storage.orders) and len(assets) == TOTAL
    created = [a["createdAt"] for a in assets]
    assert created == sorted(created, reverse=True)  # default createdAt,desc
    one = assets[0]
    assert set(one) >= {
        "id",
        "accountId",
        "workspaceId",
        "createdAt",
        "updatedAt",
        "name",
        "title",
        "tags",
        "size",
        "order",
        "source",
        "productId",
        "contentType",
        "producerName",
        "collectionName",
        "geospatialMetadataExtraction",
    }
    assert one["order"]["status"] == "FULFILLED" and one["geospatialMetadataExtraction"] == "SUCCESSFUL"
    page = storage.api.get("/v2/assets?size=20&page=2").json()
    assert page["size"] == 20 and page["numberOfElements"] == TOTAL - 40 and page["last"]


@pytest.mark.parametrize("field", ["createdAt", "updatedAt", "size", "name"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_asset_list_sorting(storage: Storage, field: str, direction: str):
    assets, _ = walk(storage.api, f"sort={field},{direction}")
    values = [a[field].lower() if isinstance(a[field], str) else a[field] for a in assets]
    assert values == sorted(values, reverse=direction == "desc")
    assert storage.api.get(f"/v2/assets?sort={field}%2C{direction}&size=50").json()["content"] == assets[:50]


def test_asset_list_filters(storage: Storage):
    api, ws = storage.api, storage.api.workspace_id
    phr, spot, s2 = (set(storage.by_collection[c]) for c in ("phr", "spot", "sentinel-2"))
    # collectionNames / producerNames: the SDK's Python-list text, comma-separated and repeated
    assert ids(walk(api, "collectionNames=%5B'phr',%20'spot'%5D")[0]) == phr | spot
    assert ids(walk(api, "collectionNames=phr,spot")[0]) == phr | spot
    assert ids(walk(api, "collectionNames=phr&collectionNames=sentinel-2")[0]) == phr | s2
    assert ids(walk(api, "collectionNames=%5B'sentinel-2'%5D")[0]) == s2
    assert ids(walk(api, "producerNames=%5B'esa'%5D")[0]) == s2
    assert len(walk(api, "producerNames=airbus")[0]) == TOTAL - len(s2)
    # workspace
    assert len(walk(api, f"workspaceId={ws}")[0]) == TOTAL
    assert walk(api, f"workspaceId={uuid.uuid4()}")[1][0]["totalElements"] == 0
    # repeated tags: any of them; the order's tags are the asset's tags
    assert ids(walk(api, "tags=phr-set&tags=spot-set")[0]) == phr | spot
    assert len(walk(api, "tags=bulk")[0]) == TOTAL - 1
    # sources, comma-separated
    assert len(walk(api, "sources=ARCHIVE,TASKING")[0]) == TOTAL
    assert ids(walk(api, "sources=TASKING")[0]) == {storage.tasking_asset}
    assert walk(api, "sources=USER")[1][0]["totalElements"] == 0
    r = api.get("/v2/assets?sources=ARCHIVE,SATELLITE")
    assert r.status_code == 400 and r.json()["title"] == "Bad request"
    # search: name, title or order id
    some_id = sorted(phr)[3]
    some = api.get(f"/v2/assets/{some_id}/metadata").json()
    assert ids(walk(api, f"search={some['order']['id']}")[0]) == {some_id}
    assert some_id in ids(walk(api, f"search={some['name'][2:-2].lower()}")[0])
    assert ids(walk(api, "search=Storage%20tasking")[0]) == {storage.tasking_asset}
    # created bounds (exclusive)
    ordered = sorted(walk(api, "sort=createdAt,asc")[0], key=lambda a: a["createdAt"])
    pivot = ordered[20]["createdAt"]
    after = walk(api, f"createdAfter={pivot}")[0]
    before = walk(api, f"createdBefore={pivot}")[0]
    assert all(parse_iso(a["createdAt"]) > parse_iso(pivot) for a in after)
    assert all(parse_iso(a["createdAt"]) < parse_iso(pivot) for a in before)
    assert len(after) + len(before) == TOTAL - sum(a["createdAt"] == pivot for a in ordered)
    day = pivot[:10]
    r = api.get(
        f"/v2/assets?sort=createdAt,asc&createdBefore=2099-01-01T00:00:00Z&createdAfter={day}T00:00:00Z"
        f"&workspaceId={ws}&tags=phr-set&tags=spot-set&sources=ARCHIVE,TASKING&size=50"
    )
    assert ids(r.json()["content"]) == phr | spot
    assert api.get("/v2/assets?createdAfter=yesterday").status_code == 400


# -- E32 / E33 -------------------------------------------------------------------------------------


def test_metadata_read_and_update(storage: Storage):
    api, asset_id = storage.api, storage.tasking_asset
    original = api.get(f"/v2/assets/{asset_id}/metadata").json()
    assert original["id"] == asset_id and original["source"] == "TASKING"
    r = api.post(f"/v2/assets/{asset_id}/metadata", json={"title": "Renamed", "tags": None})
    assert r.status_code == 200
    assert r.json()["title"] == "Renamed" and r.json()["tags"] == original["tags"]  # null keeps
    r = api.post(
        f"/v2/assets/{asset_id}/metadata", json={"title": None, "tags": ["a", "b"], "customer": "ACME"}
    )
    updated = r.json()
    assert updated["title"] == "Renamed" and updated["tags"] == ["a", "b"]
    assert updated["metadata"] == {"customer": "ACME"} and updated["updatedAt"] > original["updatedAt"]
    assert updated["createdAt"] == original["createdAt"]
    assert api.get(f"/v2/assets/{asset_id}/metadata").json() == updated
    assert ids(walk(api, "search=renamed")[0]) == {asset_id}
    assert ids(walk(api, "tags=b")[0]) == {asset_id}
    for bad in ({"title": 5, "tags": None}, {"title": None, "tags": "a"}, {"tags": [1]}, ["x"]):
        r = api.post(f"/v2/assets/{asset_id}/metadata", json=bad)
        assert r.status_code == 400 and r.json()["title"] == "Bad request"
    missing = str(uuid.uuid4())
    assert api.get(f"/v2/assets/{missing}/metadata").json() == NOT_FOUND
    r = api.post(f"/v2/assets/{missing}/metadata", json={"title": None, "tags": None})
    assert r.status_code == 404 and r.json() == NOT_FOUND


# -- E34 and the download ---------------------------------------------------------------------------


def test_signed_download_url_serves_the_order_zip(storage: Storage):
    api = storage.api
    asset_id = storage.by_collection["spot"][0]
    meta = api.get(f"/v2/assets/{asset_id}/metadata").json()
    r = api.post(f"/v2/assets/{asset_id}/download-url", json={})
    assert r.status_code == 200 and set(r.json()) == {"url"}
    url = r.json()["url"]
    assert url.startswith(api.base) and ".zip?" in url and "X-Goog-Signature=" in url
    download = requests.get(url, timeout=30)  # no UP42 credentials
    assert download.status_code == 200
    body = download.content
    assert len(body) == meta["size"] == int(download.headers["Content-Length"])
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert f"md5={md5}" in download.headers["x-goog-hash"]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("output/data.json"))
    (feature,) = data["features"]
    path = feature["properties"]["up42.data_path"]
    folder = path.split("/")[0]
    assert path == f"{folder}/{folder}_0-0.tif"
    assert f"output/{path}" in names and "output/data.json" in names
    assert feature["properties"]["id"] == storage.orders[asset_id]["orderDetails"]["id"]
    # the STAC data href redirects to a fresh signed URL
    r = api.get(f"/v2/assets/{asset_id}", allow_redirects=False)
    assert r.status_code == 307 and ".zip?" in r.headers["location"]
    missing = api.post(f"/v2/assets/{uuid.uuid4()}/download-url", json={})
    assert missing.status_code == 404 and missing.json() == NOT_FOUND


# -- E35 --------------------------------------------------------------------------------------------


def stac_all(api: RawClient, body: dict) -> tuple[list[dict], list[dict]]:
    """P6 as the SDK does it: POST the same body plus the next link's ``body.token``."""
    pages = []
    token = None
    while True:
        page = api.post(SEARCH, json={**body, **({"token": token} if token else {})}).json()
        pages.append(page)
        nxt = [link for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            return [f for p in pages for f in p["features"]], pages
        token = nxt[0]["body"]["token"]


def asset_ids(features: list[dict]) -> set[str]:
    return {f["properties"]["up42-system:asset_id"] for f in features}


def test_stac_search_single_asset_like_stac_info(storage: Storage):
    api = storage.api
    asset_id = storage.by_collection["phr"][0]
    body = {"max_items": 50, "limit": 50, "filter": {"op": "=", "args": [{"property": "asset_id"}, asset_id]}}
    r = api.post(SEARCH, json=body)
    assert r.status_code == 200
    page = r.json()
    assert page["type"] == "FeatureCollection"
    assert page["links"] == [
        {"href": f"{api.base}/v2/assets/stac/", "rel": "root", "type": "application/json"}
    ]
    (feature,) = page["features"]
    props = feature["properties"]
    assert props["up42-system:asset_id"] == asset_id
    assert props["up42-system:workspace_id"] == api.workspace_id
    assert props["proj:epsg"] == 4326 and 0.5 <= props["gsd"] < 1 and props["platform"].startswith("PHR")
    assert props["up42-product:collection_name"] == "phr" and isinstance(props["eo:cloud_cover"], float)
    assert props["datetime"] == props["start_datetime"] == props["end_datetime"]
    assert props["datetime"].endswith("+00:00")
    assert feature["stac_version"] == "1.0.0" and feature["type"] == "Feature"
    assert feature["assets"] == {"data": {"href": f"{api.base}/v2/assets/{asset_id}"}}
    assert {link["rel"] for link in feature["links"]} == {"self", "parent", "collection", "root"}
    self_href = next(link["href"] for link in feature["links"] if link["rel"] == "self")
    assert self_href == f"{api.base}/v2/assets/stac/collections/{feature['collection']}/items/{feature['id']}"
    assert api.get(self_href).json()["id"] == feature["id"]
    uuid.UUID(feature["collection"])


def test_stac_search_pages_with_the_token(storage: Storage):
    api = storage.api
    features, pages = stac_all(api, {"max_items": 100, "limit": 20, "datetime": None})
    assert [len(p["features"]) for p in pages] == [20, 20, TOTAL - 40]
    assert asset_ids(features) == set(storage.orders) and len(features) == TOTAL
    nxt = next(link for link in pages[0]["links"] if link["rel"] == "next")
    assert nxt["href"] == f"{api.base}{SEARCH}" and nxt["method"] == "POST"
    assert nxt["body"]["token"].startswith("next:") and "sortby" in nxt["body"] and "filter" in nxt["body"]
    # following the next link's body alone (pystac-client) gives the same pages
    page, alone = pages[0], [pages[0]]
    while nxt := next((link for link in page["links"] if link["rel"] == "next"), None):
        page = api.post(nxt["href"], json=nxt["body"]).json()
        alone.append(page)
    assert [f["id"] for p in alone for f in p["features"]] == [f["id"] for f in features]
    # the SDK's limit of 10 000: pages of at most 100
    assert len(stac_all(api, {"max_items": 100, "limit": 10000})[1]) == 1
    assert api.post(SEARCH, json={"token": "next:garbage"}).status_code == 400


def test_stac_search_filters(storage: Storage):
    api = storage.api
    everything, _ = stac_all(api, {"limit": 100})
    clouds = {f["properties"]["up42-system:asset_id"]: f["properties"]["eo:cloud_cover"] for f in everything}
    times = {f["properties"]["up42-system:asset_id"]: f["properties"]["datetime"] for f in everything}
    median = sorted(clouds.values())[len(clouds) // 2]

    def found(body: dict) -> set[str]:
        return asset_ids(stac_all(api, {"max_items": 100, "limit": 10000, **body})[0])

    cloud = {"property": "eo:cloud_cover"}
    assert found({"filter": {"op": "gte", "args": [cloud, median]}}) == {
        a for a, c in clouds.items() if c >= median
    }
    assert found({"filter": {"op": "<", "args": [cloud, median]}}) == {
        a for a, c in clouds.items() if c < median
    }
    assert found({"filter": {"op": "<=", "args": [cloud, median]}}) == {
        a for a, c in clouds.items() if c <= median
    }
    assert found({"filter": {"op": ">", "args": [cloud, median]}}) == {
        a for a, c in clouds.items() if c > median
    }
    s2 = set(storage.by_collection["sentinel-2"])
    by_collection = {"op": "=", "args": [{"property": "up42-product:collection_name"}, "sentinel-2"]}
    assert found({"filter": by_collection}) == s2
    assert found({"filter": {"op": "<>", "args": by_collection["args"]}}) == set(clouds) - s2
    assert found({"filter": {"op": "not", "args": [by_collection]}}) == set(clouds) - s2
    low = {"op": "<", "args": [cloud, median]}
    assert found({"filter": {"op": "and", "args": [by_collection, low]}}) == {
        a for a in s2 if clouds[a] < median
    }
    assert found({"filter": {"op": "or", "args": [by_collection, low]}}) == s2 | {
        a for a, c in clouds.items() if c < median
    }
    one = sorted(s2)[0]
    pair = {"op": "in", "args": [{"property": "asset_id"}, [one, storage.tasking_asset]]}
    assert found({"filter": pair}) == {one, storage.tasking_asset}

    # datetime: closed, open-ended, instant, null
    pivot = sorted(times.values())[len(times) // 2]
    later = {a for a, t in times.items() if datetime.fromisoformat(t) >= datetime.fromisoformat(pivot)}
    assert found({"datetime": f"{pivot}/.."}) == later
    assert found({"datetime": f"../{pivot}"}) == {
        a for a, t in times.items() if datetime.fromisoformat(t) <= datetime.fromisoformat(pivot)
    }
    assert found({"datetime": f"2000-01-01T00:00:00Z/{pivot}"}) == found({"datetime": f"../{pivot}"})
    assert found({"datetime": None}) == set(clouds)
    assert storage.tasking_asset in found({"datetime": "2030-05-01T00:00:00Z/2030-05-31T23:59:59Z"})

    # geometry
    assert found({"intersects": BERLIN}) == set(clouds)
    assert found({"intersects": HAMBURG}) == set()
    assert found({"bbox": [13.0, 52.0, 14.0, 53.0]}) == set(clouds)
    # collections and ids
    feature = everything[0]
    assert found({"collections": [feature["collection"]]}) == {feature["properties"]["up42-system:asset_id"]}
    assert found({"ids": [feature["id"]]}) == {feature["properties"]["up42-system:asset_id"]}

    for bad in (
        {"filter": {"op": "≈", "args": [cloud, 1]}},
        {"filter": {"op": "=", "args": [cloud]}},
        {"filter": {"args": []}},
        {"datetime": "yesterday/today"},
        {"datetime": "2022-02-01T00:00:00Z/2022-01-01T00:00:00Z"},
        {"intersects": {"type": "Polygon", "coordinates": "nope"}},
        {"limit": 0},
    ):
        r = api.post(SEARCH, json=bad)
        assert r.status_code == 400, bad
        assert r.json()["title"] == "Bad request"


# -- E36 and the STAC API below it -----------------------------------------------------------------


def test_landing_page(storage: Storage):
    api = storage.api
    page = api.get("/v2/assets/stac").json()
    assert api.get("/v2/assets/stac/").json() == page
    assert set(page) == {
        "conformsTo",
        "links",
        "stac_extensions",
        "title",
        "description",
        "stac_version",
        "id",
        "type",
    }
    assert (page["type"], page["id"], page["title"]) == ("Catalog", "up42-storage", "UP42 Storage")
    assert page["description"] == "UP42 Storage STAC API" and page["stac_version"] == "1.0.0"
    assert page["stac_extensions"] == [] and len(page["conformsTo"]) == 15
    assert {
        "https://api.stacspec.org/v1.0.0-rc.1/core",
        "https://api.stacspec.org/v1.0.0-rc.1/item-search",
        "https://api.stacspec.org/v1.0.0-rc.1/item-search#filter",
        "https://api.stacspec.org/v1.0.0-rc.1/item-search#sort",
        "https://api.stacspec.org/v1.0.0-rc.1/collections",
    } <= set(page["conformsTo"])
    root = f"{api.base}/v2/assets/stac"
    assert page["links"] == [
        {"href": f"{root}/", "rel": "self", "type": "application/json"},
        {"href": f"{root}/", "rel": "root", "type": "application/json"},
        {"href": f"{root}/collections", "rel": "data", "type": "application/json"},
        {"href": f"{root}/search", "rel": "search", "type": "application/json", "method": "POST"},
    ]
    assert requests.get(f"{root}", timeout=10).status_code == 401  # bearer required


def test_pystac_client_opens_and_searches(storage: Storage):
    api = storage.api
    client = Client.open(
        f"{api.base}/v2/assets/stac", headers={"Authorization": api.session.headers["Authorization"]}
    )
    assert client.id == "up42-storage"
    items = list(client.search().items())  # server pages of 10, followed through the next links
    assert {i.properties["up42-system:asset_id"] for i in items} == set(storage.orders)
    asset_id = storage.by_collection["spot"][2]
    search = client.search(
        intersects=BERLIN,
        datetime="2000-01-01/..",
        filter={"op": "=", "args": [{"property": "asset_id"}, asset_id]},
        max_items=10,
    )
    (item,) = list(search.items())
    assert item.properties["up42-system:asset_id"] == asset_id
    assert item.assets["data"].href == f"{api.base}/v2/assets/{asset_id}"
    collections = list(client.get_collections())
    assert len(collections) == TOTAL
    collection = client.get_collection(item.collection_id)
    assert [i.id for i in collection.get_items()] == [item.id]
    assert collection.get_item(item.id).id == item.id


def test_stac_collections_routes(storage: Storage):
    api = storage.api
    root = f"{api.base}/v2/assets/stac"
    page = api.get("/v2/assets/stac/collections?limit=20").json()
    assert len(page["collections"]) == 20
    seen = [c["id"] for c in page["collections"]]
    while nxt := next((link for link in page["links"] if link["rel"] == "next"), None):
        page = api.get(nxt["href"]).json()
        seen += [c["id"] for c in page["collections"]]
    assert len(seen) == len(set(seen)) == TOTAL
    collection = api.get(f"/v2/assets/stac/collections/{seen[0]}").json()
    assert collection["type"] == "Collection" and collection["license"] == "proprietary"
    assert {link["rel"] for link in collection["links"]} >= {"self", "root", "items"}
    assert collection["extent"]["spatial"]["bbox"][0][0] < collection["extent"]["spatial"]["bbox"][0][2]
    items = api.get(f"/v2/assets/stac/collections/{seen[0]}/items").json()
    (item,) = items["features"]
    assert item["collection"] == seen[0]
    assert api.get(f"{root}/collections/{seen[0]}/items/{item['id']}").json() == item
    assert api.get(f"{root}/collections/{uuid.uuid4()}").json() == NOT_FOUND
    assert api.get(f"{root}/collections/{seen[0]}/items/{uuid.uuid4()}").json() == NOT_FOUND
    # GET search with a query string pages with GET next links
    page = api.get(f"{root}/search?limit=25").json()
    total = len(page["features"])
    while nxt := next((link for link in page["links"] if link["rel"] == "next"), None):
        assert nxt["method"] == "GET"
        page = api.get(nxt["href"]).json()
        total += len(page["features"])
    assert total == TOTAL
