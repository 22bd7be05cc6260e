"""Orders E23-E26 over real HTTP (API.md §7.4, §8.5, §6 P3, §9.2)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.conftest import RawClient
from up42_provider.emulator import world

BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.38, 52.50], [13.42, 52.50], [13.42, 52.52], [13.38, 52.52], [13.38, 52.50]]],
}
HAMBURG = {
    "type": "Polygon",
    "coordinates": [[[9.95, 53.54], [10.05, 53.54], [10.05, 53.58], [9.95, 53.58], [9.95, 53.54]]],
}


def product_id(collection: str) -> str:
    """The first orderable data product of a collection (world data, not an example file)."""
    return next(
        p["id"] for p in world.DATA_PRODUCTS if p["collectionName"] == collection and p["isIntegrated"]
    )


def scene_ids(api: RawClient, collection: str, count: int = 1, aoi: dict | None = None) -> list[str]:
    """Ids of archive scenes over ``aoi`` (picked from the emulator's own catalogue)."""
    catalog = api.server.state.catalog
    scenes = catalog.search(
        world.host_of(collection), {"collections": [collection], "intersects": aoi or BERLIN}
    )
    assert len(scenes) >= count
    return [s.id for s in scenes[:count]]


def archive_body(scene_id: str, collection: str = "phr", tags: list[str] | None = None, aoi=BERLIN) -> dict:
    body: dict[str, Any] = {"dataProduct": product_id(collection), "params": {"id": scene_id, "aoi": aoi}}
    if tags is not None:
        body["tags"] = tags
    return body


def tasking_body(
    name: str = "Berlin tasking", tags: list[str] | None = None, geometry=BERLIN, **params
) -> dict:
    body: dict[str, Any] = {
        "dataProduct": product_id("phr-tasking"),
        "params": {
            "displayName": name,
            "acquisitionStart": "2030-05-01T00:00:00Z",
            "acquisitionEnd": "2030-05-31T23:59:59Z",
            "geometry": geometry,
            "acquisitionMode": "mono",
            "cloudCoverage": 20,
            "incidenceAngle": 40,
            "geometricProcessing": "ortho",
            "spectralProcessing": "bundle",
            "pixelCoding": "12bits",
            "radiometricProcessing": "reflectance",
            "deliveredAs": "geotiff",
            **params,
        },
    }
    if tags is not None:
        body["tags"] = tags
    return body


def orders_path(api: RawClient) -> str:
    return f"/workspaces/{api.workspace_id}/orders"


def place(api: RawClient, body: dict) -> dict:
    r = api.post(orders_path(api), json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def get_order(api: RawClient, order_id: str) -> dict:
    r = api.get(f"{orders_path(api)}/{order_id}")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def wait_status(api: RawClient, order_id: str, wanted: set[str] | str, timeout: float = 20) -> dict:
    """Poll E25 (real time; the test emulators run at speed 100) until the status is in ``wanted``."""
    wanted = {wanted} if isinstance(wanted, str) else wanted
    deadline = time.monotonic() + timeout
    while True:
        order = get_order(api, order_id)
        if order["status"] in wanted:
            return order
        assert time.monotonic() < deadline, f"order {order_id} stuck in {order['status']}"
        time.sleep(0.05)


def list_all(api: RawClient, query: str) -> tuple[list[dict], list[dict]]:
    """Walk E26 like the SDK (P3): first page without ``page``, then ``page=1..totalPages-1``."""
    base = (
        f"{orders_path(api)}?format=paginated&{query}&size=50"
        if query
        else f"{orders_path(api)}?format=paginated&size=50"
    )
    first = api.get(base).json()["data"]
    pages = [first] + [api.get(f"{base}&page={n}").json()["data"] for n in range(1, first["totalPages"])]
    return [o for p in pages for o in p["content"]], pages


# -- placement, estimate and credits ---------------------------------------------------------------


def test_estimate_is_exactly_what_placement_charges(fresh_api: RawClient):
    (scene,) = scene_ids(fresh_api, "phr")
    body = archive_body(scene, tags=["estimate"])
    r = fresh_api.post(f"{orders_path(fresh_api)}/estimate", json=body)
    assert r.status_code == 200
    assert r.json()["error"] is None
    estimate = r.json()["data"]["credits"]
    assert isinstance(estimate, int) and estimate > 0
    credits = fresh_api.server.state.credits
    before = credits.balance
    order = place(fresh_api, body)
    assert before - credits.balance == estimate
    record = credits.history[-1]
    assert (
        record["delta"] == -estimate
        and record["type"] == "ORDER"
        and order["id"] in record["details"]["description"]
    )
    # the estimate does not charge anything
    fresh_api.post(f"{orders_path(fresh_api)}/estimate", json=body)
    assert before - credits.balance == estimate


def test_placed_order_object(api: RawClient):
    (scene,) = scene_ids(api, "spot")
    tags = ["Test", "SDK", f"client:{uuid.uuid4()}"]
    body = archive_body(scene, "spot", tags=tags)
    r = api.post(orders_path(api), json=body)
    assert r.status_code == 200
    assert r.json()["error"] is None
    order = r.json()["data"]
    uuid.UUID(order["id"])
    assert order["status"] == "PLACED" and order["type"] == "ARCHIVE"
    assert order["workspaceId"] == api.workspace_id
    assert order["dataProductId"] == body["dataProduct"] and order["dataProvider"] == "OneAtlas"
    assert order["tags"] == tags and order["assets"] == []
    assert order["createdBy"] == {"id": order["userId"], "type": "USER"}
    assert order["orderDetails"] == body["params"]
    assert order["createdAt"].endswith("Z") and order["createdAt"] == order["updatedAt"]
    assert get_order(api, order["id"])["id"] == order["id"]


def test_insufficient_credits_creates_nothing(fresh_api: RawClient):
    (scene,) = scene_ids(fresh_api, "phr")
    state = fresh_api.server.state
    state.credits.balance = 5
    r = fresh_api.post(orders_path(fresh_api), json=archive_body(scene, tags=["poor"]))
    assert r.status_code == 402
    assert r.json()["data"] is None and r.json()["error"]["code"] == 402
    assert state.credits.balance == 5
    listed, _ = list_all(fresh_api, "tags=poor")
    assert listed == [] and state.orders.records == {}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.pop("params"),
        lambda b: b.update(dataProduct=str(uuid.uuid4())),
        lambda b: b.update(tags="not-a-list"),
        lambda b: b["params"].update(id=str(uuid.uuid4())),
        lambda b: b["params"].update(unknownParameter=1),
        lambda b: b["params"].update(
            aoi={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
        ),
        lambda b: b.update(dataProduct=product_id("sentinel-2")),  # image of another collection
        lambda b: b.update(
            dataProduct=next(p["id"] for p in world.DATA_PRODUCTS if not p["isIntegrated"])
        ),  # listed but not orderable
    ],
    ids=[
        "no-params",
        "unknown-product",
        "bad-tags",
        "unknown-image",
        "unknown-param",
        "aoi-miss",
        "collection",
        "nonint",
    ],
)
def test_invalid_order_is_400_and_creates_nothing(fresh_api: RawClient, mutate):
    (scene,) = scene_ids(fresh_api, "phr")
    body = archive_body(scene, tags=["bad"])
    mutate(body)
    state = fresh_api.server.state
    before = state.credits.balance
    for path in (f"{orders_path(fresh_api)}/estimate", orders_path(fresh_api)):
        r = fresh_api.post(path, json=body)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert r.json()["data"] is None and error["code"] == 400 and error["message"]
    assert state.orders.records == {} and state.credits.balance == before


def test_invalid_json_and_missing_tasking_params_are_400(api: RawClient):
    r = api.post(orders_path(api), data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    body = tasking_body()
    del body["params"]["acquisitionMode"]
    r = api.post(orders_path(api), json=body)
    assert r.status_code == 400 and "acquisitionMode" in r.json()["error"]["message"]


def test_unknown_order_and_foreign_workspace(api: RawClient):
    r = api.get(f"{orders_path(api)}/{uuid.uuid4()}")
    assert r.status_code == 404
    assert r.json()["data"] is None and r.json()["error"]["code"] == 404
    other = f"/workspaces/{uuid.uuid4()}/orders"
    for method, path in (
        ("GET", other),
        ("POST", other),
        ("POST", f"{other}/estimate"),
        ("GET", f"{other}/x"),
    ):
        r = api.request(method, path, json={})
        assert r.status_code == 403 and r.json()["error"]["code"] == 403


# -- life cycle ------------------------------------------------------------------------------------


def test_archive_order_is_fulfilled_with_one_asset_and_events(fresh_api: RawClient):
    events: list[dict] = []
    state = fresh_api.server.state
    state.subscribe(lambda name, payload: events.append(payload) if name == "order.status" else None)
    (scene,) = scene_ids(fresh_api, "phr")
    order = place(fresh_api, archive_body(scene, tags=["life"]))
    assert order["status"] == "PLACED"
    done = wait_status(fresh_api, order["id"], "FULFILLED")
    assert len(done["assets"]) == 1
    assert done["updatedBy"] == {"id": "system", "type": "INTERNAL"}
    assert done["updatedAt"] > done["createdAt"]
    asset = fresh_api.get(f"/v2/assets/{done['assets'][0]}/metadata").json()
    assert asset["order"] == {"id": order["id"], "status": "FULFILLED", "hostId": "oneatlas"}
    assert asset["source"] == "ARCHIVE" and asset["collectionName"] == "phr" and asset["size"] > 0
    assert asset["tags"] == ["life"] and asset["productId"] == order["dataProductId"]
    mine = [e for e in events if e["orderId"] == order["id"]]
    assert [e["status"] for e in mine] == ["PLACED", "BEING_FULFILLED", "FULFILLED"]
    assert all(e["orderType"] == "ARCHIVE" and e["workspaceId"] == fresh_api.workspace_id for e in mine)
    assert mine[-1]["statusChangedAt"] == done["updatedAt"]


@pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0}], indirect=True)
def test_order_progresses_with_the_simulated_clock(fresh_api: RawClient):
    (scene,) = scene_ids(fresh_api, "phr")
    order = place(fresh_api, archive_body(scene))
    clock = fresh_api.server.state.clock
    time.sleep(0.3)
    assert get_order(fresh_api, order["id"])["status"] == "PLACED"
    clock.advance(10.5)
    assert get_order(fresh_api, order["id"])["status"] == "BEING_FULFILLED"
    clock.advance(30)
    assert get_order(fresh_api, order["id"])["status"] == "BEING_FULFILLED"
    clock.advance(30)
    done = wait_status(fresh_api, order["id"], "FULFILLED", timeout=10)
    assert done["assets"]


@pytest.mark.parametrize(
    ("tag", "final"), [("emulator:fail", "FAILED"), ("emulator:fail-permanently", "FAILED_PERMANENTLY")]
)
def test_failure_tags_fail_after_being_fulfilled_and_refund(fresh_api: RawClient, tag, final):
    statuses: list[str] = []
    state = fresh_api.server.state
    state.subscribe(lambda name, payload: statuses.append(payload["status"]))
    (scene,) = scene_ids(fresh_api, "phr")
    before = state.credits.balance
    order = place(fresh_api, archive_body(scene, tags=["x", tag]))
    assert state.credits.balance < before
    failed = wait_status(fresh_api, order["id"], {"FAILED", "FAILED_PERMANENTLY", "FULFILLED"})
    assert failed["status"] == final and failed["assets"] == []
    assert statuses == ["PLACED", "BEING_FULFILLED", final]
    assert state.credits.balance == before
    assert state.credits.history[-1]["delta"] > 0
    assert fresh_api.get("/v2/assets?tags=x").json()["totalElements"] == 0


# -- listing (E26, P3) ----------------------------------------------------------------------------


@pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0}], indirect=True)
def test_order_list_pagination_sorting_and_filters(fresh_api: RawClient):
    scenes = scene_ids(fresh_api, "phr", 40) + scene_ids(fresh_api, "spot", 25)
    placed = []
    for i, scene in enumerate(scenes):
        collection = "phr" if i < 40 else "spot"
        tags = ["bulk", f"n{i}"] + (["even"] if i % 2 == 0 else [])
        placed.append(place(fresh_api, archive_body(scene, collection, tags=tags)))
    for i in range(45):
        placed.append(place(fresh_api, tasking_body(f"t{i}", tags=["bulk", "tasking"])))
    ids = [o["id"] for o in placed]

    listed, pages = list_all(fresh_api, "sort=createdAt,desc&tags=bulk")
    assert [p["totalPages"] for p in pages] == [3, 3, 3] and pages[0]["totalElements"] == 110
    assert [len(p["content"]) for p in pages] == [50, 50, 10] and [p["number"] for p in pages] == [0, 1, 2]
    assert [p["last"] for p in pages] == [False, False, True] and pages[0]["size"] == 50
    assert [o["id"] for o in listed] == ids[::-1]
    # default sort is createdAt,desc; %2C-encoded sort works the same
    assert [o["id"] for o in list_all(fresh_api, "tags=bulk")[0]] == ids[::-1]
    assert [o["id"] for o in list_all(fresh_api, "sort=createdAt%2Casc&tags=bulk")[0]] == ids

    by_type, _ = list_all(fresh_api, "sort=type,asc&tags=bulk")
    assert [o["type"] for o in by_type] == ["ARCHIVE"] * 65 + ["TASKING"] * 45
    tasking, _ = list_all(fresh_api, "sort=updatedAt,desc&type=TASKING&tags=bulk")
    assert {o["id"] for o in tasking} == set(ids[65:])
    archive, _ = list_all(fresh_api, "type=ARCHIVE")
    assert {o["id"] for o in archive} == set(ids[:65])
    by_provider, _ = list_all(fresh_api, "sort=dataProvider,asc")
    assert len(by_provider) == 110
    by_status, _ = list_all(fresh_api, "sort=status,desc")
    statuses = [o["status"] for o in by_status]
    assert statuses == sorted(statuses, reverse=True) and len(statuses) == 110

    # repeated tags match orders carrying any of them
    some, _ = list_all(fresh_api, "tags=n3&tags=n4&tags=tasking")
    assert {o["id"] for o in some} == {ids[3], ids[4], *ids[65:]}
    even, _ = list_all(fresh_api, "type=ARCHIVE&tags=even")
    assert {o["id"] for o in even} == {ids[i] for i in range(0, 65, 2)}
    assert list_all(fresh_api, "tags=nobody")[1][0]["totalElements"] == 0

    # legacy form without format=paginated: the plain list
    r = fresh_api.get(f"{orders_path(fresh_api)}?tags=tasking")
    assert isinstance(r.json()["data"], list) and len(r.json()["data"]) == 45

    for bad in ("sort=colour,asc", "type=SUBSCRIPTION", "size=abc", "page=-1"):
        r = fresh_api.get(f"{orders_path(fresh_api)}?format=paginated&{bad}")
        assert r.status_code == 400, bad


# -- lost response ----------------------------------------------------------------------------------


def test_lost_response_still_creates_exactly_one_order(fresh_api: RawClient):
    state = fresh_api.server.state
    state.faults.add_rule("lost_response", count=1, method="POST", path=r"/orders$")
    (scene,) = scene_ids(fresh_api, "phr")
    tag = f"client-request:{uuid.uuid4()}"
    with pytest.raises(requests.exceptions.RequestException):
        fresh_api.post(orders_path(fresh_api), json=archive_body(scene, tags=[tag]))
    listed, pages = list_all(fresh_api, f"tags={tag}")
    assert pages[0]["totalElements"] == 1
    (order,) = listed
    assert order["tags"] == [tag]
    assert get_order(fresh_api, order["id"])["id"] == order["id"]
    # the next placement answers normally
    assert place(fresh_api, archive_body(scene, tags=["after"]))["id"] != order["id"]
