"""Today's catalog: the host search and quicklooks as the 4.x SDK uses them, and the STAC catalog
``/v2/catalog/`` opened with pystac-client, over real HTTP."""

from __future__ import annotations

import warnings

import pytest
import requests
from pystac_client import Client
from pystac_client.exceptions import APIError
from shapely.geometry import shape

from tests.conftest import RawClient
from tests.emulator.current.conftest import CurrentClient

BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.35, 52.45], [13.45, 52.45], [13.45, 52.53], [13.35, 52.53], [13.35, 52.45]]],
}
BBOX = [13.35, 52.45, 13.45, 52.53]
YEAR = "2022-01-01T00:00:00Z/2022-12-31T23:59:59Z"


def open_catalog(api: CurrentClient) -> Client:
    def sign(request: requests.Request) -> requests.Request:
        request.headers["Authorization"] = f"Bearer {api.token}"
        return request

    return Client.open(f"{api.base}/v2/catalog/", request_modifier=sign)


# -- legacy host search, as the 4.x SDK sends it (no limit, rel=next paging) ------------------------


def test_host_search_without_limit_pages_by_next_links(current_api: CurrentClient):
    body = {"intersects": BERLIN, "datetime": YEAR, "collections": ["sentinel-2"]}
    url, ids, pages = f"{current_api.base}/catalog/hosts/earthsearch/stac/search", [], 0
    while url:
        page = current_api.post(url, json=body).json()
        assert "features" in page and "links" in page
        ids += [f["properties"]["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        pages += 1
    assert pages > 1 and len(ids) == len(set(ids))
    everything = current_api.post(
        "/catalog/hosts/earthsearch/stac/search", json={**body, "limit": 500}
    ).json()["features"]
    assert ids == [f["properties"]["id"] for f in everything]
    # Today's 4.x ``Scene`` reads ``properties.datetime``: the acquisition time.
    assert all(f["properties"]["datetime"] == f["properties"]["acquisitionDate"] for f in everything)


def test_invalid_host_search_is_422_in_the_envelope_for_today(current_api: CurrentClient, api: RawClient):
    body = {"intersects": BERLIN, "datetime": "yesterday", "collections": ["phr"]}
    r = current_api.post("/catalog/hosts/oneatlas/stac/search", json=body)
    assert r.status_code == 422
    assert (
        r.json()["data"] == {}
        and r.json()["error"]["code"] == 422
        and "datetime" in r.json()["error"]["message"]
    )
    # The 2023 generation keeps its 400.
    assert api.post("/catalog/hosts/oneatlas/stac/search", json=body).status_code == 400


def test_quicklook_for_today_is_jpeg_and_missing_one_is_a_json_404(current_api: CurrentClient):
    body = {"intersects": BERLIN, "datetime": YEAR, "collections": ["phr"], "limit": 50}
    features = current_api.post("/catalog/hosts/oneatlas/stac/search", json=body).json()["features"]
    scene_id = features[0]["properties"]["id"]
    r = current_api.get(f"/catalog/oneatlas/image/{scene_id}/quicklook")
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    r = current_api.get("/catalog/oneatlas/image/00000000-0000-4000-8000-000000000000/quicklook")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404


# -- STAC catalog ------------------------------------------------------------------------------------


def test_pystac_client_opens_the_catalog_without_warnings(current_api: CurrentClient):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = open_catalog(current_api)
        ids = {c.id for c in client.get_collections()}
    assert ids == {"phr", "spot", "sentinel-2"}  # the glossary names of the searchable collections
    glossary = {c["name"] for c in current_api.get("/v2/collections").json()["content"]}
    assert ids <= glossary
    assert client.get_collection("phr").title == "Pléiades"


def test_pystac_client_search_without_limit_reads_pages(current_api: CurrentClient):
    client = open_catalog(current_api)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search = client.search(
            collections=["sentinel-2"], bbox=BBOX, datetime="2022-01-01/2022-12-31", max_items=25
        )
        items = list(search.items())
    assert len(items) == 25 and len({i.id for i in items}) == 25
    box_shape = shape(BERLIN)
    for item in items:
        assert item.collection_id == "sentinel-2"
        assert shape(item.geometry).intersects(box_shape)
        assert "2022-01-01" <= item.properties["datetime"][:10] <= "2022-12-31"


def test_pystac_client_cql2_filter_and_ids(current_api: CurrentClient):
    client = open_catalog(current_api)
    cql2 = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 10]}
    items = list(
        client.search(collections=["phr"], intersects=BERLIN, datetime=YEAR, filter=cql2, limit=50).items()
    )
    assert items and all(i.properties["eo:cloud_cover"] <= 10 for i in items)
    wanted = [items[0].id]
    found = list(client.search(ids=wanted, collections=["phr"]).items())
    assert [i.id for i in found] == wanted


def test_catalog_items_are_orderable_scenes(current_api: CurrentClient):
    client = open_catalog(current_api)
    item = next(client.search(collections=["phr"], bbox=BBOX, datetime=YEAR, max_items=1).items())
    r = current_api.get(f"/v2/catalog/collections/phr/items/{item.id}")
    assert r.status_code == 200 and r.json()["id"] == item.id
    assert current_api.server.state.catalog.scene(item.id) is not None
    ql = item.assets["thumbnail"].href
    assert current_api.get(ql).status_code == 200


def test_catalog_collection_items_page_with_token_links(current_api: CurrentClient):
    query = f"bbox=13.35,52.45,13.45,52.53&datetime={YEAR}&limit=5"
    url = f"{current_api.base}/v2/catalog/collections/phr/items?{query}"
    seen: list[str] = []
    for _ in range(3):
        page = current_api.get(url).json()
        assert len(page["features"]) == 5
        seen += [f["id"] for f in page["features"]]
        url = next(link["href"] for link in page["links"] if link["rel"] == "next")
        assert "token=next%3A" in url
    assert len(set(seen)) == 15


def test_catalog_errors(current_api: CurrentClient):
    client = open_catalog(current_api)
    with pytest.raises(APIError) as unknown:
        list(client.search(collections=["nope"], bbox=BBOX).items())
    assert unknown.value.status_code == 404
    bad_filter = {"op": "like", "args": [{"property": "platform"}, "PHR%"]}
    with pytest.raises(APIError) as bad:
        list(client.search(collections=["phr"], bbox=BBOX, filter=bad_filter).items())
    assert bad.value.status_code == 400 and "like" in str(bad.value)
    r = current_api.post("/v2/catalog/search", json={"collections": ["phr"], "bbox": BBOX, "token": "bogus"})
    assert r.status_code == 400 and r.json()["status"] == 400


def test_catalog_needs_a_token(emulator):
    r = requests.get(f"{emulator.url}/v2/catalog/", timeout=10)
    assert r.status_code == 401


def test_conformance_lists_what_pystac_client_checks(current_api: CurrentClient):
    r = current_api.get("/v2/catalog/conformance")
    assert r.status_code == 200
    classes = r.json()["conformsTo"]
    for needed in ("core", "collections", "item-search", "item-search#filter"):
        assert f"https://api.stacspec.org/v1.0.0/{needed}" in classes
    landing = current_api.get("/v2/catalog/").json()
    assert landing["conformsTo"] == classes
    searches = [link for link in landing["links"] if link["rel"] == "search"]
    assert {link["method"] for link in searches} == {"GET", "POST"}
    assert all(link["type"] == "application/geo+json" for link in searches)


def test_get_search_with_intersects_sortby_and_paging(current_api: CurrentClient):
    params = {
        "collections": "phr,spot",
        "intersects": '{"type": "Point", "coordinates": [13.4, 52.5]}',
        "datetime": YEAR,
        "sortby": "-properties.eo:cloud_cover",
        "limit": "4",
    }
    first = current_api.get("/v2/catalog/search", params=params).json()
    clouds = [f["properties"]["eo:cloud_cover"] for f in first["features"]]
    assert len(clouds) == 4 and clouds == sorted(clouds, reverse=True)
    assert {f["collection"] for f in first["features"]} <= {"phr", "spot"}
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = current_api.get(nxt).json()
    more = [f["properties"]["eo:cloud_cover"] for f in second["features"]]
    assert more and max(more) <= min(clouds)
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}


def test_last_search_page_has_no_next_link(current_api: CurrentClient):
    body = {"collections": ["phr"], "intersects": BERLIN, "datetime": YEAR, "limit": 500}
    page = current_api.post("/v2/catalog/search", json=body).json()
    assert page["numberReturned"] == page["numberMatched"] > 0
    assert [link["rel"] for link in page["links"]] == ["root"]


def test_unknown_catalog_item_and_collection_are_404(current_api: CurrentClient):
    assert current_api.get("/v2/catalog/collections/phr-tasking").status_code == 404
    r = current_api.get("/v2/catalog/collections/phr/items/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and "not found" in r.json()["detail"]
