"""Catalogue endpoints E18-E22 over real HTTP, plus the world functions the orders workstream uses."""

from __future__ import annotations

import base64
import io
import json
import time
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import requests
from PIL import Image
from shapely.geometry import Point, box, shape

from tests.conftest import RawClient
from up42_provider.emulator import world
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer
from up42_provider.emulator.world import (
    DATA_PRODUCTS,
    Catalog,
    estimate_order_credits,
    order_schema,
    validate_order_params,
)

SEARCH = "/catalog/hosts/{host}/stac/search"
BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.35, 52.45], [13.45, 52.45], [13.45, 52.53], [13.35, 52.53], [13.35, 52.45]]],
}


def square(lon: float, lat: float, size: float = 0.05) -> dict:
    return box(lon, lat, lon + size, lat + size).__geo_interface__


def search_body(**overrides) -> dict:
    body = {
        "datetime": "2022-01-01T00:00:00Z/2022-12-31T23:59:59Z",
        "intersects": BERLIN,
        "limit": 50,
        "collections": ["phr"],
        "query": {},
        "sortby": [{"field": "properties.acquisitionDate", "direction": "asc"}],
    }
    body.update(overrides)
    return body


def product(collection: str, title: str) -> dict:
    return next(
        p
        for p in DATA_PRODUCTS
        if p["collectionName"] == collection and p["productConfiguration"]["title"] == title
    )


def collect_all(api: RawClient, host: str, body: dict) -> tuple[list[dict], int]:
    """Follow links[1] with the same body like the SDK does (P5); returns (features, pages)."""
    r = api.post(SEARCH.format(host=host), json=body)
    assert r.status_code == 200, r.text
    page = r.json()
    features, pages = list(page["features"]), 1
    while len(page["links"]) > 1:
        r = api.post(page["links"][1]["href"], json=body)
        assert r.status_code == 200, r.text
        page = r.json()
        features.extend(page["features"])
        pages += 1
    return features, pages


def assert_v1_error(r: requests.Response, status: int, fragment: str = "") -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["data"] is None and body["error"]["code"] == status
    assert fragment.lower() in body["error"]["message"].lower()


# ---------------------------------------------------------------------------------------- E18/E19/E20
def test_collections_envelope_lists_archive_and_tasking(api: RawClient):
    r = api.get("/collections", json={})  # GET with a {} body must be tolerated
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"data", "error"} and body["error"] is None
    by_name = {c["name"]: c for c in body["data"]}
    assert {"phr", "spot", "sentinel-2", "phr-tasking"} <= set(by_name)
    assert {c["type"] for c in body["data"]} == {"ARCHIVE", "TASKING"}
    assert by_name["phr"]["hostName"] == "oneatlas" and by_name["phr"]["host"]["name"] == "oneatlas"
    assert by_name["sentinel-2"]["hostName"] == "earthsearch"
    assert by_name["phr-tasking"]["type"] == "TASKING"


def test_data_products_envelope_shape_and_sdk_basic_view(api: RawClient):
    r = api.get("/data-products/")  # trailing slash variant
    assert r.status_code == 200
    products = r.json()["data"]
    for p in products:
        assert {
            "id",
            "collectionName",
            "productConfigurationId",
            "productConfiguration",
            "collection",
        } <= set(p)
        assert p["collection"]["host"]["name"] == world.host_of(p["collectionName"])
        assert p["productConfiguration"]["id"] == p["productConfigurationId"]
    assert any(p["productConfiguration"]["isIntegrated"] is False for p in products)
    # The SDK's basic=True view: integrated products grouped by collection title.
    basic: dict = {}
    for p in products:
        if not (
            p["collection"].get("isIntegrated", True) and p["productConfiguration"].get("isIntegrated", True)
        ):
            continue
        entry = basic.setdefault(
            p["collection"]["title"],
            {"collection": p["collectionName"], "host": p["collection"]["host"]["name"], "data_products": {}},
        )
        entry["data_products"][p["productConfiguration"]["title"]] = p["id"]
    assert basic["Pléiades"]["host"] == "oneatlas"
    assert set(basic["Pléiades"]["data_products"]) == {"Display", "Analytic"}
    assert "Analytic" not in basic["SPOT"]["data_products"]  # the non-integrated one is dropped
    assert any(p["collection"]["type"] == "TASKING" for p in products)


@pytest.mark.parametrize(
    "p", DATA_PRODUCTS, ids=lambda p: f"{p['collectionName']}-{p['productConfiguration']['title']}"
)
def test_order_schema_is_bare_draft07_the_sdk_can_read(api: RawClient, p: dict):
    r = api.get(f"/orders/schema/{p['id']}")
    assert r.status_code == 200
    schema = r.json()
    assert "data" not in schema and schema["$schema"].startswith("https://json-schema.org/draft-07")
    jsonschema.Draft7Validator.check_schema(schema)
    # What Catalog/Tasking.construct_order_parameters dereference for each missing required parameter:
    for name in schema["required"]:
        prop = schema["properties"][name]
        if name in ("aoi", "geometry"):
            continue
        assert "title" in prop
        if "allOf" in prop:
            consts = [o["const"] for o in schema["definitions"][name]["anyOf"]]
            assert consts and all(isinstance(c, str) for c in consts)
    if p["collection"]["type"] == "ARCHIVE":
        assert schema["required"] == ["id", "aoi"]
    else:
        assert {"displayName", "acquisitionStart", "acquisitionEnd", "geometry"} <= set(schema["required"])
        assert any("allOf" in schema["properties"][n] for n in schema["required"])


def test_order_schema_unknown_product_is_404_envelope(api: RawClient):
    assert_v1_error(api.get("/orders/schema/00000000-0000-4000-8000-000000000000"), 404, "not found")


# ---------------------------------------------------------------------------------------- E21 search
def test_search_answers_a_bare_feature_collection_matching_the_body(api: RawClient):
    body = search_body(query={"cloudCoverage": {"lte": 20}, "up42:usageType": {"in": ["DATA"]}})
    r = api.post(SEARCH.format(host="oneatlas"), json=body)
    assert r.status_code == 200, r.text
    page = r.json()
    assert set(page) == {"type", "features", "links"} and page["type"] == "FeatureCollection"
    assert page["links"][0] == {"rel": "self", "href": f"{api.base}/catalog/hosts/oneatlas/stac/search"}
    features = page["features"]
    assert features
    aoi = shape(BERLIN)
    dates = []
    for f in features:
        assert "id" not in f and f["type"] == "Feature"
        props = f["properties"]
        assert {
            "id",
            "acquisitionDate",
            "start_datetime",
            "end_datetime",
            "constellation",
            "collection",
            "providerName",
            "cloudCoverage",
            "up42:usageType",
            "providerProperties",
            "sceneId",
            "resolution",
            "deliveryTime",
            "producer",
        } <= set(props)
        assert (
            props["collection"] == "phr"
            and props["providerName"] == "oneatlas"
            and props["producer"] == "airbus"
        )
        assert props["cloudCoverage"] <= 20 and "DATA" in props["up42:usageType"]
        assert "2022-01-01" <= props["acquisitionDate"] <= "2022-12-31T23:59:59Z"
        assert props["acquisitionDate"].endswith("Z") and len(props["acquisitionDate"]) == 20
        footprint = shape(f["geometry"])
        assert footprint.is_valid and footprint.intersects(aoi)
        assert f["bbox"] == pytest.approx(list(footprint.bounds))
        assert props["providerProperties"]["acquisitionIdentifier"].startswith("DS_PHR1")
        dates.append(props["acquisitionDate"])
    assert dates == sorted(dates)


def test_pagination_follows_links_with_the_same_body(api: RawClient):
    body = search_body(
        datetime="2021-01-01T00:00:00Z/2022-12-31T23:59:59Z", collections=["phr", "spot"], limit=7
    )
    features, pages = collect_all(api, "oneatlas", body)
    expected = api.server.state.catalog.search("oneatlas", body)
    ids = [f["properties"]["id"] for f in features]
    assert len(ids) == len(set(ids)) == len(expected)
    assert ids == [s.id for s in expected]
    assert pages == -(-len(expected) // 7) and pages > 3

    first = api.post(SEARCH.format(host="oneatlas"), json=body).json()
    assert len(first["features"]) == 7
    href = first["links"][1]["href"]
    assert first["links"][1]["rel"] == "next"
    assert href.startswith(f"{api.base}/catalog/hosts/oneatlas/stac/search?next=")
    token = parse_qs(urlsplit(href).query)["next"][0]
    assert json.loads(base64.b64decode(token)) == {"providerName": "oneatlas", "nextOffset": 7}


def test_last_page_has_only_the_self_link_and_limit_is_capped_at_500(api: RawClient):
    body = search_body(datetime="2015-01-01T00:00:00Z/..", collections=["phr", "spot"], limit=5000)
    r = api.post(SEARCH.format(host="oneatlas"), json=body)
    page = r.json()
    assert len(page["features"]) == 500 and len(page["links"]) == 2
    features, _ = collect_all(api, "oneatlas", body)
    assert len(features) == len(api.server.state.catalog.search("oneatlas", body)) > 500
    small = api.post(SEARCH.format(host="oneatlas"), json=search_body(limit=500)).json()
    assert len(small["links"]) == 1 and small["links"][0]["rel"] == "self"


def test_search_is_deterministic_per_seed_and_ids_survive_restarts(api: RawClient):
    body = search_body(limit=20)
    first = [
        f["properties"]["id"] for f in api.post(SEARCH.format(host="oneatlas"), json=body).json()["features"]
    ]
    again = [
        f["properties"]["id"] for f in api.post(SEARCH.format(host="oneatlas"), json=body).json()["features"]
    ]
    assert first == again
    seed = api.server.config.seed
    with (
        EmulatorServer(EmulatorConfig(seed=seed)) as same,
        EmulatorServer(EmulatorConfig(seed=seed + 1)) as other,
    ):
        same_api, other_api = RawClient(same), RawClient(other)
        restarted = same_api.post(SEARCH.format(host="oneatlas"), json=body).json()["features"]
        assert [f["properties"]["id"] for f in restarted] == first
        assert same.state.catalog.scene(first[0]) is not None
        assert same_api.get(f"/catalog/oneatlas/image/{first[0]}/quicklook").status_code in (200, 404)
        different = other_api.post(SEARCH.format(host="oneatlas"), json=body).json()["features"]
        assert different and not {f["properties"]["id"] for f in different} & set(first)
        assert other.state.catalog.scene(first[0]) is None


PLACES = {
    "berlin": (13.38, 52.51),
    "sydney": (151.2, -33.87),
    "nairobi": (36.82, -1.29),
    "fiji-antimeridian-east": (179.94, -16.6),
    "fiji-antimeridian-west": (-179.99, -16.6),
    "svalbard": (15.6, 78.22),
    "ushuaia": (-68.3, -54.8),
    "quito-equator": (-78.5, -0.2),
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(
    "host,collection", [("oneatlas", "phr"), ("oneatlas", "spot"), ("earthsearch", "sentinel-2")]
)
def test_any_place_on_earth_has_scenes(api: RawClient, place: str, host: str, collection: str):
    aoi = square(*PLACES[place], size=0.04)
    body = search_body(
        intersects=aoi,
        collections=[collection],
        datetime="2023-01-01T00:00:00Z/2023-12-31T23:59:59Z",
        limit=500,
    )
    r = api.post(SEARCH.format(host=host), json=body)
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    assert len(features) >= 5
    for f in features:
        footprint = shape(f["geometry"])
        assert footprint.is_valid and footprint.intersects(shape(aoi))
        assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in f["geometry"]["coordinates"][0])


def test_beyond_collection_latitude_limits_there_are_no_scenes(api: RawClient):
    body = search_body(intersects=square(166.7, -77.85), collections=["sentinel-2"], limit=10)
    r = api.post(SEARCH.format(host="earthsearch"), json=body)
    assert r.status_code == 200 and r.json()["features"] == []


def test_filters_cloud_usage_datetime_and_sort(api: RawClient):
    catalog_url = SEARCH.format(host="oneatlas")
    body = search_body(
        collections=["phr", "spot"],
        datetime="../2016-06-30T23:59:59Z",
        query={"cloudCoverage": {"gte": 30, "lt": 60}, "up42:usageType": {"in": ["ANALYTICS"]}},
        sortby=[{"field": "properties.cloudCoverage", "direction": "desc"}],
        limit=500,
    )
    features = api.post(catalog_url, json=body).json()["features"]
    assert features
    clouds = [f["properties"]["cloudCoverage"] for f in features]
    assert clouds == sorted(clouds, reverse=True) and all(30 <= c < 60 for c in clouds)
    assert all("ANALYTICS" in f["properties"]["up42:usageType"] for f in features)
    assert all("2015-01-01" <= f["properties"]["acquisitionDate"] < "2016-07" for f in features)
    assert {f["properties"]["collection"] for f in features} == {"phr", "spot"}

    data_only = search_body(query={"up42:usageType": {"in": ["DATA"]}}, limit=500)
    assert len(api.post(catalog_url, json=data_only).json()["features"]) >= len(
        api.post(
            catalog_url, json=search_body(query={"up42:usageType": {"in": ["ANALYTICS"]}}, limit=500)
        ).json()["features"]
    )
    newest_first = search_body(
        datetime="2020-03-01T00:00:00Z/..",
        sortby=[{"field": "properties.acquisitionDate", "direction": "desc"}],
        limit=30,
    )
    dates = [
        f["properties"]["acquisitionDate"]
        for f in api.post(catalog_url, json=newest_first).json()["features"]
    ]
    assert dates == sorted(dates, reverse=True) and dates[-1] >= "2020-03-01"
    by_angle = search_body(sortby=[{"field": "properties.incidenceAngle", "direction": "asc"}], limit=40)
    angles = [
        f["properties"]["providerProperties"]["incidenceAngle"]
        for f in api.post(catalog_url, json=by_angle).json()["features"]
    ]
    assert angles == sorted(angles)


def test_bbox_search_including_an_antimeridian_crossing_bbox(api: RawClient):
    url = SEARCH.format(host="earthsearch")
    body = {"bbox": [13.35, 52.45, 13.45, 52.53], "datetime": "2023-05-01T00:00:00Z/2023-05-31T23:59:59Z"}
    features = api.post(url, json=body).json()["features"]
    assert features and all(
        shape(f["geometry"]).intersects(box(13.35, 52.45, 13.45, 52.53)) for f in features
    )
    crossing = {
        "bbox": [179.8, -17.0, -179.8, -16.8],
        "datetime": "2023-05-01T00:00:00Z/2023-05-31T23:59:59Z",
    }
    lons = [f["bbox"][0] for f in api.post(url, json=crossing).json()["features"]]
    assert any(x > 0 for x in lons) and any(x < 0 for x in lons)


def test_search_without_collections_covers_every_archive_collection_of_the_host(api: RawClient):
    body = {"intersects": BERLIN, "datetime": "2022-01-01T00:00:00Z/2022-12-31T23:59:59Z", "limit": 500}
    features = api.post(SEARCH.format(host="oneatlas"), json=body).json()["features"]
    assert {f["properties"]["collection"] for f in features} == {"phr", "spot"}
    # default order: newest first
    dates = [f["properties"]["acquisitionDate"] for f in features]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    "overrides,fragment",
    [
        ({"datetime": "2022-13-01T00:00:00Z/.."}, "datetime"),
        ({"datetime": "2023-01-01T00:00:00Z/2022-01-01T00:00:00Z"}, "start is after end"),
        ({"datetime": "yesterday"}, "datetime"),
        (
            {"intersects": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
            "valid",
        ),
        (
            {"intersects": {"type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 0]]]}},
            "EPSG:4326",
        ),
        ({"intersects": {"type": "Feature"}}, "intersects"),
        ({"collections": ["landsat-9"]}, "unknown collection"),
        ({"collections": ["sentinel-2"]}, "not provided by host"),
        ({"collections": ["phr-tasking"]}, "tasking"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sortby": [{"field": "properties.colour", "direction": "asc"}]}, "sort field"),
        ({"query": {"cloudCoverage": {"near": 3}}}, "operator"),
        ({"intersects": square(-20, -40, 60)}, "too large"),
    ],
)
def test_invalid_search_bodies_are_400_v1_errors(api: RawClient, overrides: dict, fragment: str):
    assert_v1_error(api.post(SEARCH.format(host="oneatlas"), json=search_body(**overrides)), 400, fragment)


def test_search_errors_for_host_token_and_body(api: RawClient):
    assert_v1_error(api.post(SEARCH.format(host="nowhere"), json=search_body()), 404, "host")
    assert_v1_error(api.post(SEARCH.format(host="oneatlas") + "?next=%%%", json=search_body()), 400, "next")
    foreign = base64.b64encode(b'{"providerName":"earthsearch","nextOffset":5}').decode()
    assert_v1_error(
        api.post(SEARCH.format(host="oneatlas") + f"?next={foreign}", json=search_body()), 400, "token"
    )
    assert_v1_error(api.post(SEARCH.format(host="oneatlas"), data="not json"), 400, "json")
    assert_v1_error(api.post(SEARCH.format(host="oneatlas"), json=[1, 2]), 400, "object")


def test_scene_decodes_every_search_result(api: RawClient):
    body = search_body(collections=["phr", "spot"], limit=200)
    features = api.post(SEARCH.format(host="oneatlas"), json=body).json()["features"]
    catalog = api.server.state.catalog
    for f in features:
        scene = catalog.scene(f["properties"]["id"])
        assert scene is not None and scene.feature() == f
    assert catalog.scene("a6f99ad8-493b-46ed-9f93-94f06bc1ab1e") is None
    assert catalog.scene("not-a-uuid") is None


def test_city_search_over_a_year_is_fast(api: RawClient):
    catalog = api.server.state.catalog
    body = search_body(collections=["phr", "spot"], datetime="2022-01-01T00:00:00Z/2022-12-31T23:59:59Z")
    catalog.search("oneatlas", body)
    best = min(_timed(lambda: catalog.search("oneatlas", body)) for _ in range(3))
    assert best < 0.1
    http = min(_timed(lambda: api.post(SEARCH.format(host="oneatlas"), json=body)) for _ in range(3))
    assert http < 0.5


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------- E22 quicklooks
def test_quicklook_is_a_deterministic_jpeg(api: RawClient):
    feature = api.post(SEARCH.format(host="oneatlas"), json=search_body(limit=30)).json()["features"]
    scene_id = next(
        f["properties"]["id"]
        for f in feature
        if api.server.state.catalog.scene(f["properties"]["id"]).has_quicklook
    )
    r = api.get(f"/catalog/oneatlas/image/{scene_id}/quicklook", json={})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(r.content))
    assert image.format == "JPEG" and image.size[0] >= 128 and image.mode == "RGB"
    assert api.get(f"/catalog/oneatlas/image/{scene_id}/quicklook").content == r.content


def test_missing_quicklooks_are_404_with_an_empty_body(api: RawClient):
    catalog = api.server.state.catalog
    scenes = catalog.search("oneatlas", search_body(datetime="2015-01-01T00:00:00Z/..", collections=["phr"]))
    without = next(s for s in scenes if not s.has_quicklook)
    with_ql = next(s for s in scenes if s.has_quicklook)
    assert 0.005 < sum(not s.has_quicklook for s in scenes) / len(scenes) < 0.1
    for path in (
        f"/catalog/oneatlas/image/{without.id}/quicklook",
        "/catalog/oneatlas/image/00000000-0000-4000-8000-000000000000/quicklook",
        "/catalog/oneatlas/image/not-an-id/quicklook",
        f"/catalog/earthsearch/image/{with_ql.id}/quicklook",  # scene of another host
        f"/catalog/nowhere/image/{with_ql.id}/quicklook",
    ):
        r = api.get(path)
        assert r.status_code == 404 and r.content == b"", path
        with pytest.raises(requests.exceptions.JSONDecodeError):
            r.json()  # what makes the SDK skip the image instead of aborting


# ---------------------------------------------------------------------------------------- order helpers
def _first_scene(catalog: Catalog, collection: str = "phr"):
    host = world.host_of(collection)
    body = search_body(collections=[collection], limit=5)
    return catalog.search(host, body)[0]


def test_validate_and_estimate_archive_orders(api: RawClient):
    catalog = api.server.state.catalog
    scene = _first_scene(catalog)
    display = product("phr", "Display")
    footprint = shape(scene.geometry)
    c = footprint.centroid
    aoi = box(c.x - 0.01, c.y - 0.01, c.x + 0.01, c.y + 0.01).__geo_interface__
    params = {"id": scene.id, "aoi": aoi}
    assert validate_order_params(display["id"], params) == []
    assert catalog.validate_order_params(display, params) == []

    credits = estimate_order_credits(display["id"], params)
    spec = world.SPECS["phr"]
    assert credits == pytest.approx(world.area_km2(shape(aoi)) * spec.price_per_km2, rel=0.02, abs=1)
    tiny = {"id": scene.id, "aoi": box(c.x, c.y, c.x + 0.001, c.y + 0.001).__geo_interface__}
    assert estimate_order_credits(display["id"], tiny) == spec.min_area_km2 * spec.price_per_km2
    analytic = product("phr", "Analytic")
    assert catalog.estimate_order_credits(analytic["id"], params) > credits
    # AOI partly outside the footprint is charged for the intersection only
    bigger = {"id": scene.id, "aoi": footprint.buffer(0.5).envelope.__geo_interface__}
    assert estimate_order_credits(display["id"], bigger) == pytest.approx(
        world.area_km2(footprint) * spec.price_per_km2, rel=0.01
    )


def test_validate_archive_order_problems(api: RawClient):
    catalog = api.server.state.catalog
    scene = _first_scene(catalog)
    display = product("phr", "Display")["id"]
    far = square(-70, -30)
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    s2_scene = _first_scene(catalog, "sentinel-2")

    def errors(params: dict, product_id: str = display) -> str:
        found = validate_order_params(product_id, params, catalog=catalog)
        assert found, params
        return " | ".join(found)

    assert "aoi" in errors({"id": scene.id, "aoi": None})
    assert "aoi" in errors({"id": scene.id})
    assert "does not intersect" in errors({"id": scene.id, "aoi": far})
    assert "not a valid" in errors({"id": scene.id, "aoi": bowtie})
    assert "Polygon" in errors({"id": scene.id, "aoi": {"type": "Point", "coordinates": [13.4, 52.5]}})
    assert "not found" in errors({"id": "00000000-0000-4000-8000-000000000000", "aoi": far})
    assert "collection 'sentinel-2'" in errors({"id": s2_scene.id, "aoi": s2_scene.geometry})
    assert "Unknown parameter 'colour'" in errors({"id": scene.id, "aoi": scene.geometry, "colour": "red"})
    assert "not integrated" in errors(
        {"id": scene.id, "aoi": scene.geometry}, product("spot", "Analytic")["id"]
    )
    assert validate_order_params("no-such-product", {}) == ["Data product 'no-such-product' not found"]


def test_validate_and_estimate_tasking_orders():
    tasking = product("phr-tasking", "Standard")
    schema = order_schema(tasking["id"])
    aoi = square(13.3, 52.4, 0.1)
    params = {
        "displayName": "Berlin tasking",
        "acquisitionStart": "2030-01-01T00:00:00Z",
        "acquisitionEnd": "2030-01-31T23:59:59Z",
        "geometry": aoi,
    }
    for name in schema["required"]:
        if name not in params:
            definition = schema["definitions"].get(name)
            params[name] = (
                definition["anyOf"][0]["const"] if definition else schema["properties"][name]["minimum"]
            )
    assert validate_order_params(tasking["id"], params) == []
    spec = world.SPECS["phr-tasking"]
    assert estimate_order_credits(tasking["id"], params) == pytest.approx(
        world.area_km2(shape(aoi)) * spec.price_per_km2, abs=1
    )

    broken = {
        **params,
        "acquisitionMode": "quadstereo",
        "cloudCoverage": 90,
        "pixelCoding": None,
        "acquisitionEnd": "2029-12-01T00:00:00Z",
        "acquisitionStart": "soon",
    }
    text = " | ".join(validate_order_params(tasking["id"], broken))
    assert "'acquisitionMode' must be one of ['mono', 'stereo', 'tristereo']" in text
    assert "'cloudCoverage' must be <= 20" in text
    assert "Missing required parameter 'pixelCoding'" in text
    assert "'acquisitionStart' must be an RFC 3339 date-time" in text

    point = {**params, "geometry": Point(13.4, 52.5).__geo_interface__}
    assert "Polygon" in " ".join(validate_order_params(tasking["id"], point))
    spot_tasking = product("spot-tasking", "Standard")
    assert validate_order_params(spot_tasking["id"], point) == []
    spot_spec = world.SPECS["spot-tasking"]
    assert (
        estimate_order_credits(spot_tasking["id"], point) == spot_spec.min_area_km2 * spot_spec.price_per_km2
    )
