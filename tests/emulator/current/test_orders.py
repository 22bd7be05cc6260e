"""Orders of today's generation over real HTTP: batch estimate and placement, get, list, merge-patch,
cancellation, the life cycle on the emulator clock, failure triggers and faults.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
import requests

from tests.conftest import RawClient
from tests.emulator.test_orders import BERLIN, HAMBURG, archive_body, product_id, scene_ids
from tests.emulator.test_orders import place as place_2023
from up42_provider.emulator import world

ORDER_KEYS = {
    "id", "displayName", "status", "workspaceId", "accountId", "type", "dataProductId", "tags",
    "budgetId", "createdAt", "updatedAt", "createdBy", "updatedBy", "orderDetails",
}  # fmt: skip
SLOW = pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0}], indirect=True)
TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"
FAR_AWAY = {  # intersects no Berlin scene
    "type": "Polygon",
    "coordinates": [[[-60.0, -30.0], [-59.9, -30.0], [-59.9, -29.9], [-60.0, -29.9], [-60.0, -30.0]]],
}


def features(*geometries: Any) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": g} for g in geometries],
    }


def archive_batch(scene_id: str, *geometries: Any, name: str = "archive batch", **extra: Any) -> dict:
    """A 4.3.0 ``BatchOrderTemplate`` payload: one order per feature, geometry outside ``params``."""
    return {
        "dataProduct": product_id("phr"),
        "displayName": name,
        "params": {"id": scene_id},
        "featureCollection": features(*(geometries or (BERLIN,))),
        **extra,
    }


def tasking_batch(
    *geometries: Any, collection: str = "phr-tasking", name: str = "tasking", **extra: Any
) -> dict:
    """A tasking payload: the schema parameters in ``params``, each geometry a feature."""
    params = {
        "acquisitionStart": "2030-05-01T00:00:00Z",
        "acquisitionEnd": "2030-05-31T23:59:59Z",
        "acquisitionMode": "mono",
        "cloudCoverage": 20,
        "incidenceAngle": 40,
        "geometricProcessing": "ortho",
        "spectralProcessing": "bundle",
        "pixelCoding": "12bits",
        "radiometricProcessing": "reflectance",
        "deliveredAs": "geotiff",
    }
    return {
        "dataProduct": product_id(collection),
        "displayName": name,
        "params": params,
        "featureCollection": features(*(geometries or (BERLIN,))),
        **extra,
    }


def estimate(api: RawClient, body: dict) -> dict:
    r = api.post("/v2/orders/estimate", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def place(api: RawClient, body: dict) -> dict:
    r = api.post(f"/v2/orders?workspaceId={api.workspace_id}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def place_one(api: RawClient, body: dict) -> str:
    batch = place(api, body)
    assert batch["errors"] == [] and len(batch["results"]) == 1, batch
    return batch["results"][0]["id"]


def get(api: RawClient, order_id: str) -> dict:
    r = api.get(f"/v2/orders/{order_id}")
    assert r.status_code == 200, r.text
    return r.json()


def advance(api: RawClient, seconds: float) -> None:
    """Move the emulator clock, then log in again (the jump may outlive the 300 s token)."""
    assert api.post("/_emulator/clock", json={"advance": seconds}).status_code == 200
    api.authenticate()


def wait_for(api: RawClient, order_id: str, wanted: str, step: float = 5.0, timeout: float = 30.0) -> dict:
    """Advance the clock by ``step`` until the order reaches ``wanted`` (the delivery is built for real)."""
    deadline = time.monotonic() + timeout
    while True:
        order = get(api, order_id)
        if order["status"] == wanted:
            return order
        assert time.monotonic() < deadline, f"order {order_id} stuck in {order['status']}"
        advance(api, step)
        time.sleep(0.05)


def balance(api: RawClient) -> int:
    return api.get("/_emulator/info").json()["credits"]


def walk(api: RawClient, query: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """Walk ``/v2/orders`` like up42-py 4.3.0: ``page=0,1,...`` until ``page + 1 >= totalPages``."""
    pages: list[dict] = []
    while True:
        r = api.get("/v2/orders", params={**query, "page": len(pages)})
        assert r.status_code == 200, r.text
        pages.append(r.json())
        if len(pages) >= pages[-1]["totalPages"]:
            return [o for p in pages for o in p["content"]], pages


# -- estimate ----------------------------------------------------------------------------------------


def test_estimate_prices_each_feature_and_reports_the_others(v2: RawClient):
    (scene,) = scene_ids(v2, "phr")
    body = archive_batch(scene, BERLIN, FAR_AWAY, {"type": "Polygon", "coordinates": [[[13.4, 52.5]]]})
    body["featureCollection"]["features"].append({"type": "Feature", "properties": {}})
    answer = estimate(v2, body)
    assert set(answer) == {"summary", "results", "errors"}
    (result,) = answer["results"]
    assert set(result) == {"index", "credits", "size", "unit"} and result["index"] == 0
    legacy = v2.post(f"/workspaces/{v2.workspace_id}/orders/estimate", json=archive_body(scene))
    assert result["credits"] == legacy.json()["data"]["credits"] > 0  # one price in both generations
    assert result["unit"] == "SQ_KM" and 0 < result["size"] <= world.area_km2(BERLIN) + 0.01
    assert answer["summary"] == {
        "totalCredits": result["credits"],
        "totalSize": result["size"],
        "unit": "SQ_KM",
    }
    errors = {e["index"]: e for e in answer["errors"]}
    assert sorted(errors) == [1, 2, 3]
    assert all(set(e) == {"index", "message", "details"} for e in errors.values())
    assert "does not intersect" in errors[1]["details"]
    assert "'aoi'" in errors[2]["details"]
    assert "Feature 3" in errors[3]["details"]


def test_estimate_answers_tasking_products_too(v2: RawClient):
    answer = estimate(v2, tasking_batch(BERLIN, HAMBURG))
    spec = world.SPECS["phr-tasking"]
    assert [r["index"] for r in answer["results"]] == [0, 1] and answer["errors"] == []
    for result, geometry in zip(answer["results"], (BERLIN, HAMBURG), strict=True):
        area = max(world.area_km2(geometry), spec.min_area_km2)
        assert result["credits"] == world.estimate_order_credits(
            product_id("phr-tasking"), {"geometry": geometry}
        )
        assert result["size"] == pytest.approx(area, abs=0.01)
    assert answer["summary"]["totalCredits"] == sum(r["credits"] for r in answer["results"])
    point = {"type": "Point", "coordinates": [13.4, 52.5]}
    mixed = estimate(v2, tasking_batch(point, BERLIN))  # Pléiades tasking takes polygons only
    assert [r["index"] for r in mixed["results"]] == [1]
    assert [e["index"] for e in mixed["errors"]] == [0] and "'geometry'" in mixed["errors"][0]["details"]
    spot = estimate(v2, tasking_batch(point, collection="spot-tasking"))
    spot_spec = world.SPECS["spot-tasking"]
    assert spot["results"][0]["credits"] == spot_spec.min_area_km2 * spot_spec.price_per_km2


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda b: b.pop("displayName"), "displayName"),
        (lambda b: b.update(displayName="x" * 201), "displayName"),
        (
            lambda b: b.update(featureCollection={"type": "FeatureCollection", "features": []}),
            "featureCollection",
        ),
        (lambda b: b.update(featureCollection=BERLIN), "featureCollection"),
        (lambda b: b.update(tags=[f"t{i}" for i in range(31)]), "at most 30"),
        (lambda b: b.update(tags=["fine", "not#fine"]), "not#fine"),
        (lambda b: b.update(tags="one"), "'tags'"),
        (lambda b: b.update(budgetId=7), "budgetId"),
        (lambda b: b.update(dataProduct=str(uuid.uuid4())), "does not exist"),
        (lambda b: b["params"].update(aoi=BERLIN), "featureCollection"),
        (lambda b: b["params"].update(id="no-such-image"), "no-such-image"),
        (lambda b: b["params"].update(colour="red"), "Unknown parameter 'colour'"),
    ],
)
def test_body_level_problems_are_a_400_that_names_them(v2: RawClient, change, named: str):
    (scene,) = scene_ids(v2, "phr")
    body = archive_batch(scene)
    change(body)
    for path in ("/v2/orders/estimate", f"/v2/orders?workspaceId={v2.workspace_id}"):
        r = v2.post(path, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["title"] == "Bad request" and named in r.json()["detail"]


def test_display_name_may_also_come_inside_params(v2: RawClient):
    (scene,) = scene_ids(v2, "phr")
    body = archive_batch(scene)
    body["params"]["displayName"] = body.pop("displayName")
    assert estimate(v2, body)["errors"] == []
    body = tasking_batch()
    body["params"]["displayName"] = "inside"
    del body["displayName"]
    order = get(v2, place_one(v2, body))
    assert order["displayName"] == "inside" and order["orderDetails"]["displayName"] == "inside"


# -- place, get -----------------------------------------------------------------------------------------


@SLOW
def test_batch_place_creates_one_order_per_valid_feature_and_charges_each(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr", aoi=HAMBURG)
    body = archive_batch(scene, HAMBURG, FAR_AWAY, HAMBURG, name="hamburg", tags=["batch", "a b"])
    priced = estimate(fresh_v2, body)
    before = balance(fresh_v2)
    batch = place(fresh_v2, body)
    assert [r["index"] for r in batch["results"]] == [0, 2]
    assert all(set(r) == {"index", "id"} for r in batch["results"])
    assert [e["index"] for e in batch["errors"]] == [1] and batch["errors"][0]["message"] == "Failed"
    assert before - balance(fresh_v2) == priced["summary"]["totalCredits"]
    ids = [r["id"] for r in batch["results"]]
    assert len(set(ids)) == 2
    order = get(fresh_v2, ids[0])
    assert set(order) == ORDER_KEYS  # no assets, no dataProvider
    assert order["status"] == "CREATED" and order["displayName"] == "hamburg"
    assert order["type"] == "ARCHIVE" and order["dataProductId"] == product_id("phr")
    assert order["workspaceId"] == fresh_v2.workspace_id and order["accountId"]
    assert order["tags"] == ["batch", "a b"] and order["budgetId"] is None
    assert order["orderDetails"] == {"aoi": HAMBURG, "imageId": scene}
    for key in ("createdAt", "updatedAt"):
        assert re.match(TIMESTAMP, order[key])
    r = fresh_v2.get(f"/v2/orders/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["title"] == "Resource does not exist."


def test_placement_needs_the_workspace_and_enough_credits(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr")
    body = archive_batch(scene, BERLIN, BERLIN)
    r = fresh_v2.post("/v2/orders", json=body)
    assert r.status_code == 400 and "workspaceId" in r.json()["detail"]
    r = fresh_v2.post(f"/v2/orders?workspaceId={uuid.uuid4()}", json=body)
    assert r.status_code == 403
    one = estimate(fresh_v2, body)["results"][0]["credits"]
    fresh_v2.server.state.credits.balance = 2 * one - 1  # enough for one order, not for the batch
    r = fresh_v2.post(f"/v2/orders?workspaceId={fresh_v2.workspace_id}", json=body)
    assert r.status_code == 402 and r.json()["status"] == 402
    assert walk(fresh_v2, {})[0] == [] and balance(fresh_v2) == 2 * one - 1  # nothing created


@SLOW
def test_archive_life_cycle_on_the_clock_and_the_delivery_in_storage(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr")
    order_id = place_one(fresh_v2, archive_batch(scene, tags=["cycle"]))
    seen = [get(fresh_v2, order_id)["status"]]
    for seconds in (61, 5, 10):
        advance(fresh_v2, seconds)
        seen.append(get(fresh_v2, order_id)["status"])
    assert seen == ["CREATED", "BEING_PLACED", "PLACED", "BEING_FULFILLED"]
    fulfilled = wait_for(fresh_v2, order_id, "FULFILLED", step=60)
    assert fulfilled["updatedBy"] == {"id": "system", "type": "INTERNAL"}
    legacy = fresh_v2.get(f"/workspaces/{fresh_v2.workspace_id}/orders/{order_id}").json()["data"]
    assert legacy["status"] == "FULFILLED"  # the 2023 view of the same order carries its asset
    (asset_id,) = legacy["assets"]
    search = {"filter": {"op": "=", "args": [{"property": "asset_id"}, asset_id]}, "filter-lang": "cql2-json"}
    items = fresh_v2.post("/v2/assets/stac/search", json=search).json()["features"]
    assert len(items) == 1 and items[0]["properties"]["up42-system:workspace_id"] == fresh_v2.workspace_id
    # Today's delivery: the item's asset is the GeoTIFF itself, and it names its order.
    assert items[0]["properties"]["up42-order:id"] == order_id
    assert items[0]["assets"]["image"]["type"] == "image/tiff; application=geotiff"


def budget_of(api: RawClient, status: str) -> str:
    return api.get("/v2/budgets", params={"status": status}).json()["content"][0]["id"]


def usage(api: RawClient, budget_id: str) -> int:
    return api.get(f"/v2/budgets/{budget_id}/usage").json()["consumedCredits"]


def test_an_order_booked_on_a_budget_raises_its_usage_and_a_refund_lowers_it(fresh_v2: RawClient):
    budget = budget_of(fresh_v2, "ACTIVE")
    (scene,) = scene_ids(fresh_v2, "phr")
    body = archive_batch(scene, BERLIN, budgetId=budget)
    price = estimate(fresh_v2, body)["summary"]["totalCredits"]
    order_id = place_one(fresh_v2, body)
    assert get(fresh_v2, order_id)["budgetId"] == budget
    assert usage(fresh_v2, budget) == price > 0
    assert fresh_v2.post(f"/v2/orders/{order_id}/cancellation").status_code == 200
    assert usage(fresh_v2, budget) == 0


@pytest.mark.parametrize("which", ["INACTIVE", "unknown"])
def test_placement_on_an_unusable_budget_is_refused_before_any_order(fresh_v2: RawClient, which: str):
    budget = budget_of(fresh_v2, which) if which == "INACTIVE" else str(uuid.uuid4())
    (scene,) = scene_ids(fresh_v2, "phr")
    before = balance(fresh_v2)
    r = fresh_v2.post(
        f"/v2/orders?workspaceId={fresh_v2.workspace_id}",
        json=archive_batch(scene, BERLIN, name="on a bad budget", budgetId=budget),
    )
    assert r.status_code == 400 and budget in r.json()["detail"], r.text
    assert balance(fresh_v2) == before
    assert walk(fresh_v2, {"displayName": "on a bad budget"})[0] == []


# -- cancellation, failure triggers -----------------------------------------------------------------------


@SLOW
def test_new_orders_are_cancellable_for_a_while_and_refunded(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr")
    before = balance(fresh_v2)
    first, second = (place_one(fresh_v2, archive_batch(scene, name=n)) for n in ("keep", "cancel"))
    charged = before - balance(fresh_v2)
    assert charged > 0
    r = fresh_v2.post(f"/v2/orders/{second}/cancellation")
    assert r.status_code == 200 and r.json() == {"orderId": second, "status": "CANCELED"}
    assert get(fresh_v2, second)["status"] == "CANCELED"
    assert before - balance(fresh_v2) == charged // 2  # the cancelled one is refunded
    again = fresh_v2.post(f"/v2/orders/{second}/cancellation")
    assert again.status_code == 409 and "CANCELED" in again.json()["detail"]
    advance(fresh_v2, 61)
    assert get(fresh_v2, first)["status"] == "BEING_PLACED"
    late = fresh_v2.post(f"/v2/orders/{first}/cancellation")
    assert late.status_code == 409 and "BEING_PLACED" in late.json()["detail"]
    advance(fresh_v2, 600)
    assert get(fresh_v2, second)["status"] == "CANCELED"  # a cancelled order stays so
    assert fresh_v2.post(f"/v2/orders/{uuid.uuid4()}/cancellation").status_code == 404


@SLOW
def test_placement_failed_tag_waits_to_be_cancelled(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr")
    before = balance(fresh_v2)
    order_id = place_one(fresh_v2, archive_batch(scene, tags=["emulator:placement-failed"]))
    advance(fresh_v2, 61 + 5)
    assert get(fresh_v2, order_id)["status"] == "PLACEMENT_FAILED"
    advance(fresh_v2, 600)
    assert get(fresh_v2, order_id)["status"] == "PLACEMENT_FAILED"
    assert balance(fresh_v2) < before
    assert fresh_v2.post(f"/v2/orders/{order_id}/cancellation").json()["status"] == "CANCELED"
    assert balance(fresh_v2) == before


@SLOW
@pytest.mark.parametrize("tag", ["emulator:fail", "emulator:fail-permanently"])
def test_failure_tags_end_failed_permanently_and_refunded(fresh_v2: RawClient, tag: str):
    (scene,) = scene_ids(fresh_v2, "phr")
    before = balance(fresh_v2)
    order_id = place_one(fresh_v2, archive_batch(scene, tags=[tag]))
    assert balance(fresh_v2) < before
    failed = wait_for(fresh_v2, order_id, "FAILED_PERMANENTLY", step=30)
    assert failed["status"] == "FAILED_PERMANENTLY" and balance(fresh_v2) == before


# -- list --------------------------------------------------------------------------------------------------


@SLOW
def test_list_filters_paging_and_links_on_every_page(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr")
    archive = place(fresh_v2, archive_batch(scene, *[BERLIN] * 23, name="Berlin archive", tags=["many"]))
    archive_ids = [r["id"] for r in archive["results"]]
    tasking_id = place_one(fresh_v2, tasking_batch(name="Tasking one", tags=["other", "many"]))
    legacy = place_2023(fresh_v2, archive_body(scene, tags=["legacy", "emulator:fail"]))

    everything, pages = walk(fresh_v2, {"sort": "createdAt,asc"})
    assert len(pages) == 2 and [p["totalPages"] for p in pages] == [2, 2]  # 20 a page by default
    assert [o["id"] for o in everything] == [*archive_ids, tasking_id, legacy["id"]]
    for number, page in enumerate(pages):
        rels = {link["rel"]: link["href"] for link in page["links"]}
        assert rels["self"].endswith(f"page={number}")
        assert ("next" in rels) == (number == 0) and ("prev" in rels) == (number == 1)
    assert fresh_v2.get(pages[0]["links"][1]["href"]).json()["content"] == pages[1]["content"]

    newest = walk(fresh_v2, {})[0]
    assert [o["id"] for o in newest] == [o["id"] for o in reversed(everything)]  # createdAt,desc
    assert {o["id"] for o in walk(fresh_v2, {"type": "TASKING"})[0]} == {tasking_id}
    assert len(walk(fresh_v2, {"tags": ["other", "legacy"]})[0]) == 2  # any of the tags
    assert {o["id"] for o in walk(fresh_v2, {"displayName": "TASKING o"})[0]} == {tasking_id}
    picked = walk(fresh_v2, {"orderIds": f"{archive_ids[3]},{tasking_id}"})[0]
    assert {o["id"] for o in picked} == {archive_ids[3], tasking_id}
    assert len(walk(fresh_v2, {"workspaceId": fresh_v2.workspace_id})[0]) == 25
    assert walk(fresh_v2, {"workspaceId": str(uuid.uuid4())})[0] == []
    assert len(walk(fresh_v2, {"status": ["CREATED", "PLACED"]})[0]) == 25  # the 2023 one is PLACED

    # The 2023 order in today's view, and today's orders in the 2023 list.
    old = get(fresh_v2, legacy["id"])
    assert set(old) == ORDER_KEYS and old["displayName"] == f"{product_id('phr')} order"
    legacy_list = fresh_v2.get(f"/workspaces/{fresh_v2.workspace_id}/orders").json()["data"]
    assert len(legacy_list) == 25 and {o["status"] for o in legacy_list} == {"CREATED", "PLACED"}
    wait_for(fresh_v2, legacy["id"], "FAILED_PERMANENTLY", step=30)
    assert (
        fresh_v2.get(f"/workspaces/{fresh_v2.workspace_id}/orders/{legacy['id']}").json()["data"]["status"]
        == "FAILED"
    )  # stored FAILED, read FAILED_PERMANENTLY today
    assert [o["id"] for o in walk(fresh_v2, {"status": "FAILED_PERMANENTLY"})[0]] == [legacy["id"]]
    for query in ({"status": "FAILED"}, {"type": "BOTH"}, {"sort": "dataProvider,asc"}, {"page": "x"}):
        r = fresh_v2.get("/v2/orders", params=query)
        assert r.status_code == 400, query


# -- merge-patch ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fresh_emulator", [{"speed": 0.01}], indirect=True)  # stays CREATED
def test_merge_patch_changes_only_what_it_names(fresh_v2: RawClient):
    v2 = fresh_v2
    order_id = place_one(v2, tasking_batch(tags=["one"]))
    headers = {"Content-Type": "application/merge-patch+json"}

    def patch(body: Any) -> requests.Response:
        return v2.patch(f"/v2/orders/{order_id}", json=body, headers=headers)

    budget = str(uuid.uuid4())
    changed = patch({"budgetId": budget}).json()
    assert changed["budgetId"] == budget and changed["tags"] == ["one"]
    assert changed["updatedBy"]["type"] == "USER" and set(changed) == ORDER_KEYS
    assert patch({"tags": ["two", "three"]}).json()["tags"] == ["two", "three"]
    assert get(v2, order_id)["budgetId"] == budget
    assert patch({}).json() == get(v2, order_id)  # a no-op
    assert patch({"tags": []}).json()["tags"] == []
    cleared = patch({"budgetId": None, "tags": None}).json()
    assert cleared["budgetId"] is None and cleared["tags"] == []
    assert [o["id"] for o in walk(v2, {"budgetIds": budget})[0]] == []


def test_invalid_merge_patches_are_refused(v2: RawClient):
    order_id = place_one(v2, tasking_batch(tags=["keep"]))
    headers = {"Content-Type": "application/merge-patch+json"}
    for body, named in (
        ([], "JSON object"),
        ({"status": "FULFILLED"}, "'status' cannot be changed"),
        ({"tags": "x"}, "'tags'"),
        ({"tags": ["ok", "no!"]}, "no!"),
        ({"budgetId": 5}, "budgetId"),
    ):
        r = v2.patch(f"/v2/orders/{order_id}", json=body, headers=headers)
        assert r.status_code == 400 and named in r.json()["detail"], (body, r.text)
    r = v2.patch(f"/v2/orders/{order_id}", data=b"{nope", headers=headers)
    assert r.status_code == 400
    r = v2.patch(f"/v2/orders/{order_id}", data=b"tags=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert get(v2, order_id)["tags"] == ["keep"]
    r = v2.patch(f"/v2/orders/{uuid.uuid4()}", json={"tags": []}, headers=headers)
    assert r.status_code == 404


# -- faults on the creating call ---------------------------------------------------------------------------


def arm(api: RawClient, kind: str, **extra: Any) -> None:
    rule = {"kind": kind, "count": 1, "method": "POST", "path": "^/v2/orders$"}
    r = api.post("/_emulator/faults", json={"rules": [rule], **extra})
    assert r.status_code == 200


def count_named(api: RawClient, name: str) -> int:
    return len(walk(api, {"displayName": name})[0])


@pytest.mark.parametrize(("kind", "status"), [("error", None), ("rate_limit", 429), ("token_expiry", 401)])
def test_refusing_faults_create_nothing(fresh_v2: RawClient, kind: str, status: int | None):
    (scene,) = scene_ids(fresh_v2, "phr")
    arm(fresh_v2, kind)
    body = archive_batch(scene, name=f"fault {kind}")
    assert estimate(fresh_v2, body)["errors"] == []  # not the creating call: untouched
    r = fresh_v2.post(f"/v2/orders?workspaceId={fresh_v2.workspace_id}", json=body)
    assert r.status_code == status if status else r.status_code in (500, 502, 503)
    assert r.json()["status"] == r.status_code
    if kind == "rate_limit":
        assert float(r.headers["Retry-After"]) > 0
    assert count_named(fresh_v2, f"fault {kind}") == 0
    place_one(fresh_v2, body)  # one-shot: the retry goes through, once
    assert count_named(fresh_v2, f"fault {kind}") == 1


def test_slow_fault_delays_the_creating_call(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr")
    arm(fresh_v2, "slow", rates={"slow_seconds": 3})
    with pytest.raises(requests.ReadTimeout):
        fresh_v2.post(
            f"/v2/orders?workspaceId={fresh_v2.workspace_id}",
            json=archive_batch(scene, name="slow"),
            timeout=(5, 0.3),
        )
    assert fresh_v2.get("/_emulator/faults").json()["fired"]["slow"] == 1


def test_lost_response_creates_the_order_exactly_once(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr")
    arm(fresh_v2, "lost_response")
    body = archive_batch(scene, name="lost answer")
    r = fresh_v2.post("/v2/orders/estimate", json=body)  # not a creating call: answered
    assert r.status_code == 200 and fresh_v2.get("/_emulator/faults").json()["rules"]
    with pytest.raises(requests.RequestException):
        fresh_v2.post(f"/v2/orders?workspaceId={fresh_v2.workspace_id}", json=body)
    assert count_named(fresh_v2, "lost answer") == 1  # the work was done, only the answer was lost
    assert fresh_v2.get("/_emulator/faults").json()["fired"]["lost_response"] == 1


def test_drop_fault_is_for_downloads_and_spares_the_creating_call(fresh_v2: RawClient):
    (scene,) = scene_ids(fresh_v2, "phr")
    arm(fresh_v2, "drop")
    place_one(fresh_v2, archive_batch(scene, name="not dropped"))
    faults = fresh_v2.get("/_emulator/faults").json()
    assert faults["fired"]["drop"] == 0 and [r["kind"] for r in faults["rules"]] == ["drop"]
