"""Tasking of today's generation over real HTTP: quotations (same paths as in 2023), feasibility
studies at their new path (``FEASIBILITY_STUDY_REQUIRED`` products), order coverage, and how a
tasking order placed through ``/v2/orders`` moves through its sub-statuses on the clock.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import RawClient
from tests.emulator.current.test_orders import (
    BERLIN,
    SLOW,
    advance,
    archive_batch,
    balance,
    get,
    place_one,
    tasking_batch,
    wait_for,
)
from tests.emulator.test_orders import product_id, scene_ids
from up42_provider.emulator import world
from up42_provider.emulator.orders.models import FEASIBILITY_OPTIONS

QUOTATIONS, STUDIES = "/v2/tasking/quotation", "/v2/tasking/feasibility-studies"
QUOTATION_KEYS = {"id", "createdAt", "updatedAt", "decisionAt", "accountId", "workspaceId", "orderId"}
POINT = {"type": "Point", "coordinates": [13.4, 52.5]}


def only(api: RawClient, path: str, order_id: str) -> dict:
    r = api.get(path, params={"orderId": order_id})
    assert r.status_code == 200, r.text
    (found,) = r.json()["content"]
    return found


def sub_status(api: RawClient, order_id: str) -> tuple[str, str | None]:
    order = get(api, order_id)
    return order["status"], order["orderDetails"].get("subStatus")


def placed(api: RawClient, body: dict, uploading: str = "QUOTATION_WAITING_UPLOAD") -> str:
    """Place one tasking order and let it through CREATED, BEING_PLACED and UP42's upload."""
    order_id = place_one(api, body)
    assert sub_status(api, order_id) == ("CREATED", None)
    advance(api, 61 + 5)
    assert sub_status(api, order_id) == ("PLACED", uploading)
    for path in (QUOTATIONS, STUDIES):
        assert api.get(path, params={"orderId": order_id}).json()["content"] == []  # none yet
    advance(api, 30)
    return order_id


def coverage(api: RawClient, order_id: str) -> dict:
    r = api.get(f"/v2/coverage/orders/{order_id}")
    assert r.status_code == 200, r.text
    return r.json()


@SLOW
def test_quotation_accepted_charges_and_coverage_grows_until_fulfilled(fresh_v2: RawClient):
    order_id = placed(fresh_v2, tasking_batch(name="accepted"))
    order = get(fresh_v2, order_id)
    assert order["type"] == "TASKING" and order["orderDetails"]["subStatus"] == "QUOTATION_WAITING_RESPONSE"
    details = order["orderDetails"]
    assert details["geometry"] == BERLIN and details["acquisitionStart"] and details["acquisitionEnd"]
    quotation = only(fresh_v2, QUOTATIONS, order_id)
    assert QUOTATION_KEYS | {"creditsPrice", "decision"} <= set(quotation)
    assert quotation["decision"] == "NOT_DECIDED" and quotation["decisionAt"] is None
    assert only(fresh_v2, STUDIES, order_id)["type"] == "AUTO"  # phr-tasking: study only when needed
    nothing = coverage(fresh_v2, order_id)
    assert nothing["covered"]["percentage"] == 0 and nothing["remainder"]["percentage"] == 100
    assert nothing["covered"]["geometry"] == {"type": "FeatureCollection", "features": []}
    assert nothing["remainder"]["sqKmArea"] == pytest.approx(world.area_km2(BERLIN), abs=0.01)

    before = balance(fresh_v2)
    r = fresh_v2.patch(f"{QUOTATIONS}/{quotation['id']}", json={"decision": "ACCEPTED"})
    assert r.status_code == 200 and r.json()["decision"] == "ACCEPTED" and r.json()["decisionAt"]
    assert before - balance(fresh_v2) == quotation["creditsPrice"]
    order = get(fresh_v2, order_id)
    assert (order["status"], order["orderDetails"]["subStatus"]) == ("BEING_FULFILLED", "QUOTATION_ACCEPTED")

    advance(fresh_v2, 150)  # half of the 300 s acquisition
    half = coverage(fresh_v2, order_id)
    assert 0 < half["covered"]["percentage"] < 100
    assert half["covered"]["percentage"] + half["remainder"]["percentage"] == pytest.approx(100, abs=0.2)
    total = half["covered"]["sqKmArea"] + half["remainder"]["sqKmArea"]
    assert total == pytest.approx(world.area_km2(BERLIN), abs=0.05)
    assert half["covered"]["geometry"]["features"][0]["geometry"]["type"] == "Polygon"

    wait_for(fresh_v2, order_id, "FULFILLED", step=60)
    full = coverage(fresh_v2, order_id)
    assert full["covered"]["percentage"] == 100 and full["remainder"]["percentage"] == 0
    assert full["remainder"]["geometry"]["features"] == []


@SLOW
def test_rejected_quotation_fails_permanently_without_charge(fresh_v2: RawClient):
    order_id = placed(fresh_v2, tasking_batch(name="rejected"))
    quotation = only(fresh_v2, QUOTATIONS, order_id)
    before = balance(fresh_v2)
    r = fresh_v2.patch(f"{QUOTATIONS}/{quotation['id']}", json={"decision": "REJECTED"})
    assert r.status_code == 200 and r.json()["decision"] == "REJECTED"
    order = get(fresh_v2, order_id)
    assert (order["status"], order["orderDetails"]["subStatus"]) == (
        "FAILED_PERMANENTLY",
        "QUOTATION_REJECTED",
    )
    assert balance(fresh_v2) == before
    r = fresh_v2.patch(f"{QUOTATIONS}/{quotation['id']}", json={"decision": "ACCEPTED"})
    assert r.status_code == 405


@SLOW
def test_feasibility_required_product_gets_a_manual_study_at_the_new_path(fresh_v2: RawClient):
    order_id = placed(
        fresh_v2,
        tasking_batch(POINT, collection="spot-tasking", name="spot point"),
        "FEASIBILITY_WAITING_UPLOAD",
    )
    order = get(fresh_v2, order_id)
    assert order["orderDetails"]["subStatus"] == "FEASIBILITY_WAITING_RESPONSE"
    study = only(fresh_v2, STUDIES, order_id)
    assert study["type"] == "MANUAL" and study["decision"] == "NOT_DECIDED" and len(study["options"]) == 2
    assert {"id", "createdAt", "updatedAt", "accountId", "workspaceId", "orderId"} <= set(study)
    assert only(fresh_v2, "/v2/tasking/feasibility", order_id) == study  # the 2023 path, same study
    assert fresh_v2.get(QUOTATIONS, params={"orderId": order_id}).json()["content"] == []

    option = study["options"][1]
    r = fresh_v2.patch(f"{STUDIES}/{study['id']}", json={"acceptedOptionId": option["id"]})
    assert r.status_code == 200
    decided = r.json()
    assert decided["decision"] == "ACCEPTED" and decided["decisionOption"]["id"] == option["id"]
    assert decided["decisionOption"]["description"] == option["description"]
    assert sub_status(fresh_v2, order_id) == ("PLACED", "QUOTATION_WAITING_UPLOAD")
    assert fresh_v2.get(QUOTATIONS, params={"orderId": order_id}).json()["content"] == []
    advance(fresh_v2, 30)
    assert sub_status(fresh_v2, order_id) == ("PLACED", "QUOTATION_WAITING_RESPONSE")
    spot = world.SPECS["spot-tasking"]
    price = world.estimate_order_credits(product_id("spot-tasking"), {"geometry": POINT})
    assert price == spot.min_area_km2 * spot.price_per_km2
    factor = FEASIBILITY_OPTIONS[1][1]  # the second option is the dearer one
    assert factor > 1 and only(fresh_v2, QUOTATIONS, order_id)["creditsPrice"] == round(price * factor)
    again = fresh_v2.patch(f"{STUDIES}/{study['id']}", json={"acceptedOptionId": option["id"]})
    assert (
        again.status_code == 405
        and again.json()["title"] == "Resource (FeasibilityStudy) is write-protected."
    )
    missing = str(uuid.uuid4())
    r = fresh_v2.patch(f"{STUDIES}/{missing}", json={"acceptedOptionId": option["id"]})
    assert (
        r.status_code == 404
        and r.json()["title"] == f"Resource (FeasibilityStudy) not found with Id='{missing}'."
    )


@SLOW
def test_studies_and_quotations_page_like_the_sdk(fresh_v2: RawClient):
    body = tasking_batch(*[BERLIN] * 12, name="paged", tags=["emulator:feasibility"])
    body["featureCollection"]["features"] += tasking_batch(*[BERLIN] * 11)["featureCollection"]["features"]
    place_one_each = fresh_v2.post(f"/v2/orders?workspaceId={fresh_v2.workspace_id}", json=body).json()
    assert len(place_one_each["results"]) == 23
    advance(fresh_v2, 61 + 5 + 30)
    for path, decision, count in ((STUDIES, "NOT_DECIDED", 23), (QUOTATIONS, "NOT_DECIDED", 0)):
        pages: list[dict] = []
        while True:  # as up42-py 4.3.0: page=0,1,... until page + 1 >= totalPages
            r = fresh_v2.get(path, params={"decision": decision, "sort": "createdAt,asc", "page": len(pages)})
            assert r.status_code == 200, r.text
            pages.append(r.json())
            if len(pages) >= pages[-1]["totalPages"]:
                break
        found = [o for p in pages for o in p["content"]]
        assert len(found) == count and all(o["decision"] == decision for o in found)
        assert [o["createdAt"] for o in found] == sorted(o["createdAt"] for o in found)
    assert len(fresh_v2.get(STUDIES, params={"decision": "ACCEPTED", "size": 50}).json()["content"]) == 0
    # The tag is on every order of the batch: 23 manual studies, no quotation yet.
    assert (
        len(
            fresh_v2.get(STUDIES, params={"workspaceId": fresh_v2.workspace_id, "size": 50}).json()["content"]
        )
        == 23
    )
    assert fresh_v2.get(STUDIES, params={"sort": "creditsPrice,asc"}).status_code == 400


def test_coverage_is_for_tasking_orders(v2: RawClient):
    (scene,) = scene_ids(v2, "phr")
    archive_id = place_one(v2, archive_batch(scene))
    r = v2.get(f"/v2/coverage/orders/{archive_id}")
    assert r.status_code == 400 and "TASKING" in r.json()["detail"]
    r = v2.get(f"/v2/coverage/orders/{uuid.uuid4()}")
    assert r.status_code == 404
