"""Tasking E27-E30 and the tasking order life cycle over real HTTP (API.md §7.4-7.5, §8.6, §6 P4)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from tests.conftest import RawClient
from tests.emulator.test_orders import BERLIN, get_order, list_all, place, tasking_body, wait_status

QUOTATIONS, STUDIES = "/v2/tasking/quotation", "/v2/tasking/feasibility"
# ~900 km² around Brandenburg: above the manual feasibility threshold
LARGE = {
    "type": "Polygon",
    "coordinates": [[[13.0, 52.3], [13.45, 52.3], [13.45, 52.57], [13.0, 52.57], [13.0, 52.3]]],
}
SPRING_KEYS = {
    "content",
    "pageable",
    "totalPages",
    "totalElements",
    "last",
    "sort",
    "numberOfElements",
    "first",
}


def only(api: RawClient, path: str, order_id: str) -> dict:
    page = api.get(f"{path}?page=0&sort=createdAt,desc&orderId={order_id}").json()
    assert page["totalElements"] == 1, page
    return page["content"][0]


def sdk_pages(api: RawClient, path: str, params: list[tuple[str, str]]) -> list[dict]:
    """P4 as the SDK does it: ``page=0`` first, then the same query re-encoded with ``page=N``."""
    url = f"{path}?{urlencode([('page', '0'), *params], safe=',')}"
    pages = []
    while True:
        page = api.get(url).json()
        pages.append(page)
        if page["last"]:
            return pages
        query = dict(parse_qsl(urlsplit(url).query))
        query["page"] = str(int(query["page"]) + 1)
        url = f"{path}?{urlencode(query)}"  # re-encoded: sort=createdAt%2Cdesc


def test_tasking_order_quotation_accepted_is_charged_and_fulfilled(fresh_api: RawClient):
    state = fresh_api.server.state
    before = state.credits.balance
    body = tasking_body("Berlin May", tags=["tasking"])
    estimate = fresh_api.post(f"/workspaces/{fresh_api.workspace_id}/orders/estimate", json=body).json()[
        "data"
    ]
    order = place(fresh_api, body)
    assert order["type"] == "TASKING" and order["status"] == "PLACED"
    assert order["subStatus"] == "QUOTATION_WAITING_RESPONSE"
    assert order["orderDetails"]["subStatus"] == "QUOTATION_WAITING_RESPONSE"
    assert order["orderDetails"]["displayName"] == "Berlin May"
    assert state.credits.balance == before  # nothing charged before the quotation is accepted

    study = only(fresh_api, STUDIES, order["id"])
    assert study["type"] == "AUTO" and study["decision"] == "ACCEPTED" and study["options"] == []
    quotation = only(fresh_api, QUOTATIONS, order["id"])
    assert quotation["decision"] == "NOT_DECIDED" and quotation["creditsPrice"] == estimate["credits"]
    assert quotation["workspaceId"] == fresh_api.workspace_id and quotation["decisionAt"] is None
    assert quotation["accountId"] == fresh_api.server.config.account_id

    r = fresh_api.patch(f"{QUOTATIONS}/{quotation['id']}", json={"decision": "ACCEPTED"})
    assert r.status_code == 200
    decided = r.json()
    assert decided["decision"] == "ACCEPTED" and decided["decisionByType"] == "USER"
    assert decided["decisionById"] == order["userId"] and decided["decisionAt"]
    assert before - state.credits.balance == quotation["creditsPrice"]
    running = get_order(fresh_api, order["id"])
    assert running["status"] == "BEING_FULFILLED" and running["subStatus"] == "QUOTATION_ACCEPTED"

    r = fresh_api.patch(f"{QUOTATIONS}/{quotation['id']}", json={"decision": "REJECTED"})
    assert r.status_code == 405
    assert r.json() == {"status": 405, "title": "Resource (Quotation) is write-protected.", "detail": {}}

    done = wait_status(fresh_api, order["id"], "FULFILLED")
    (asset_id,) = done["assets"]
    asset = fresh_api.get(f"/v2/assets/{asset_id}/metadata").json()
    assert asset["source"] == "TASKING" and asset["collectionName"] == "phr-tasking"
    assert asset["title"] == "Berlin May" and asset["size"] > 0
    item = fresh_api.post(
        "/v2/assets/stac/search", json={"filter": {"op": "=", "args": [{"property": "asset_id"}, asset_id]}}
    )
    (feature,) = item.json()["features"]
    assert "2030-05-01" <= feature["properties"]["datetime"][:10] <= "2030-05-31"


def test_rejected_quotation_fails_the_order_free_of_charge(fresh_api: RawClient):
    state = fresh_api.server.state
    before = state.credits.balance
    order = place(fresh_api, tasking_body("reject me"))
    quotation = only(fresh_api, QUOTATIONS, order["id"])
    r = fresh_api.patch(f"{QUOTATIONS}/{quotation['id']}", json={"decision": "REJECTED"})
    assert r.status_code == 200 and r.json()["decision"] == "REJECTED"
    failed = get_order(fresh_api, order["id"])
    assert failed["status"] == "FAILED" and failed["subStatus"] is None and failed["assets"] == []
    assert state.credits.balance == before
    r = fresh_api.patch(f"{QUOTATIONS}/{quotation['id']}", json={"decision": "ACCEPTED"})
    assert r.status_code == 405


def test_manual_feasibility_then_quotation(fresh_api: RawClient):
    order = place(fresh_api, tasking_body("big area", geometry=LARGE))
    assert order["subStatus"] == "FEASIBILITY_WAITING_RESPONSE"
    assert fresh_api.get(f"{QUOTATIONS}?page=0&orderId={order['id']}").json()["totalElements"] == 0
    study = only(fresh_api, STUDIES, order["id"])
    assert (
        study["type"] == "MANUAL" and study["decision"] == "NOT_DECIDED" and study["decisionOption"] is None
    )
    assert len(study["options"]) == 2
    assert all(o["studyId"] == study["id"] and o["description"] for o in study["options"])

    r = fresh_api.patch(f"{STUDIES}/{study['id']}", json={"acceptedOptionId": str(uuid.uuid4())})
    assert r.status_code == 404
    option = study["options"][1]
    r = fresh_api.patch(f"{STUDIES}/{study['id']}", json={"acceptedOptionId": option["id"]})
    assert r.status_code == 200
    chosen = r.json()
    assert chosen["decision"] == "ACCEPTED" and chosen["decisionOption"] == option
    assert chosen["decisionByType"] == "USER" and chosen["decisionAt"]

    quotation = only(fresh_api, QUOTATIONS, order["id"])
    assert quotation["decision"] == "NOT_DECIDED" and quotation["creditsPrice"] > 0
    assert get_order(fresh_api, order["id"])["subStatus"] == "QUOTATION_WAITING_RESPONSE"

    r = fresh_api.patch(f"{STUDIES}/{study['id']}", json={"acceptedOptionId": study["options"][0]["id"]})
    assert r.status_code == 405
    assert r.json() == {
        "status": 405,
        "title": "Resource (FeasibilityStudy) is write-protected.",
        "detail": {},
    }


def test_feasibility_tag_forces_a_manual_study(api: RawClient):
    order = place(api, tasking_body("small but studied", tags=["emulator:feasibility"]))
    assert only(api, STUDIES, order["id"])["type"] == "MANUAL"


def test_unknown_and_invalid_decisions(api: RawClient):
    missing = str(uuid.uuid4())
    r = api.patch(f"{QUOTATIONS}/{missing}", json={"decision": "ACCEPTED"})
    assert r.status_code == 404
    assert r.json() == {"status": 404, "title": "Resource does not exist.", "detail": {}}
    r = api.patch(f"{STUDIES}/{missing}", json={"acceptedOptionId": str(uuid.uuid4())})
    assert r.status_code == 404
    assert r.json() == {
        "status": 404,
        "title": f"Resource (FeasibilityStudy) not found with Id='{missing}'.",
        "detail": {},
    }
    order = place(api, tasking_body("bad decisions"))
    quotation = only(api, QUOTATIONS, order["id"])
    for body in ({"decision": "NOT_DECIDED"}, {"decision": "maybe"}, {}, []):
        r = api.patch(f"{QUOTATIONS}/{quotation['id']}", json=body)
        assert r.status_code == 400
        assert r.json()["title"] == "Bad request" and r.json()["status"] == 400
    r = api.patch(
        f"{QUOTATIONS}/{quotation['id']}", data=b"nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    r = api.patch(f"{STUDIES}/{missing}", json={"acceptedOptionId": 5})
    assert r.status_code == 400
    assert only(api, QUOTATIONS, order["id"])["decision"] == "NOT_DECIDED"


def test_accepting_without_enough_credits_is_refused(fresh_api: RawClient):
    state = fresh_api.server.state
    order = place(fresh_api, tasking_body("too expensive"))
    quotation = only(fresh_api, QUOTATIONS, order["id"])
    state.credits.balance = quotation["creditsPrice"] - 1
    r = fresh_api.patch(f"{QUOTATIONS}/{quotation['id']}", json={"decision": "ACCEPTED"})
    assert r.status_code == 402 and r.json()["status"] == 402
    assert only(fresh_api, QUOTATIONS, order["id"])["decision"] == "NOT_DECIDED"
    assert get_order(fresh_api, order["id"])["status"] == "PLACED"


@pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0}], indirect=True)
def test_quotation_and_feasibility_pages_and_filters(fresh_api: RawClient):
    orders = [place(fresh_api, tasking_body(f"order {i}", tags=["p4"])) for i in range(23)]
    manual = [place(fresh_api, tasking_body(f"study {i}", tags=["emulator:feasibility"])) for i in range(3)]
    quotations = {
        q["orderId"]: q
        for p in sdk_pages(fresh_api, QUOTATIONS, [("sort", "createdAt,desc")])
        for q in p["content"]
    }
    assert set(quotations) == {o["id"] for o in orders}
    for i, order in enumerate(orders[:6]):
        decision = "ACCEPTED" if i < 4 else "REJECTED"
        assert fresh_api.patch(
            f"{QUOTATIONS}/{quotations[order['id']]['id']}", json={"decision": decision}
        ).ok

    pages = sdk_pages(fresh_api, QUOTATIONS, [("sort", "createdAt,desc")])
    assert [len(p["content"]) for p in pages] == [10, 10, 3]
    assert set(pages[0]) >= SPRING_KEYS and pages[0]["size"] == 10 and pages[0]["totalPages"] == 3
    assert [q["orderId"] for p in pages for q in p["content"]] == [o["id"] for o in orders][::-1]
    ascending = sdk_pages(fresh_api, QUOTATIONS, [("sort", "createdAt,asc")])
    assert [q["orderId"] for p in ascending for q in p["content"]] == [o["id"] for o in orders]

    def decisions(*values: str, path: str = QUOTATIONS) -> list[dict]:
        params = [("sort", "createdAt,desc"), *(("decision", v) for v in values)]
        return [q for p in sdk_pages(fresh_api, path, params) for q in p["content"]]

    assert len(decisions("ACCEPTED")) == 4
    assert len(decisions("ACCEPTED", "REJECTED")) == 6
    assert len(decisions("NOT_DECIDED")) == 17
    assert len(decisions("ACCEPTED", "bogus")) == 23  # one invalid value drops the decision filter
    ws = fresh_api.workspace_id
    assert (
        len([q for p in sdk_pages(fresh_api, QUOTATIONS, [("workspaceId", ws)]) for q in p["content"]]) == 23
    )
    assert sdk_pages(fresh_api, QUOTATIONS, [("workspaceId", str(uuid.uuid4()))])[0]["totalElements"] == 0
    some = quotations[orders[5]["id"]]
    by_id = fresh_api.get(f"{QUOTATIONS}?page=0&sort=createdAt,desc&id={some['id']}").json()
    assert [q["id"] for q in by_id["content"]] == [some["id"]] and by_id["content"][0][
        "decision"
    ] == "REJECTED"
    by_price = sdk_pages(fresh_api, QUOTATIONS, [("sort", "creditsPrice,asc")])
    prices = [q["creditsPrice"] for p in by_price for q in p["content"]]
    assert prices == sorted(prices)
    assert fresh_api.get(f"{QUOTATIONS}?page=0&sort=colour,desc").status_code == 400

    studies = decisions(path=STUDIES)
    assert len(studies) == 26
    undecided = decisions("NOT_DECIDED", path=STUDIES)
    assert {s["orderId"] for s in undecided} == {o["id"] for o in manual}
    assert len(decisions("REJECTED", path=STUDIES)) == 26  # REJECTED is not a study decision: dropped
    page = fresh_api.get(f"{STUDIES}?page=0&size=5&sort=createdAt,asc").json()
    assert page["size"] == 5 and page["totalPages"] == 6 and not page["last"]

    # orders of all of this are listed as TASKING orders by E26
    tasking, _ = list_all(fresh_api, "type=TASKING")
    assert len(tasking) == 26
    assert tasking[0]["orderDetails"]["geometry"] == BERLIN
