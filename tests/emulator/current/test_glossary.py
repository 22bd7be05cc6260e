"""Today's product glossary ``/v2/collections`` and EULAs ``/v2/eulas/{id}`` over real HTTP."""

from __future__ import annotations

import requests

from tests.conftest import RawClient
from tests.emulator.current.conftest import CurrentClient

PROVIDER_KEYS = {"name", "title", "description", "roles"}


def test_collections_page_has_what_the_4x_sdk_reads(current_api: CurrentClient):
    r = current_api.get("/v2/collections", params={"page": 0})
    assert r.status_code == 200
    page = r.json()
    assert page["totalPages"] >= 1 and page["number"] == 0
    names = {c["name"] for c in page["content"]}
    assert {"phr", "spot", "sentinel-2", "phr-tasking", "spot-tasking"} <= names
    for c in page["content"]:
        assert c["type"] in ("ARCHIVE", "TASKING")
        assert c["integrations"] and c["title"] and c["description"]
        for provider in c["providers"]:
            assert set(provider) <= PROVIDER_KEYS  # the SDK builds objects from them by keyword
        assert any("HOST" in p["roles"] for p in c["providers"])
        assert set(c["metadata"]["resolutionValue"]) <= {"minimum", "maximum"}
        for product in c["dataProducts"]:
            assert {"name", "title", "description"} <= set(product)


def test_v2_data_product_ids_are_the_2023_ids(api: RawClient, current_api: CurrentClient):
    old = {p["id"] for p in api.get("/data-products").json()["data"] if p["isIntegrated"]}
    new = {
        p["id"]
        for c in current_api.get("/v2/collections").json()["content"]
        for p in c["dataProducts"]
        if "id" in p
    }
    assert new == old
    # The order schema, unchanged in today's generation, answers for each of them.
    some = sorted(new)[0]
    assert current_api.get(f"/orders/schema/{some}").status_code == 200


def test_not_integrated_product_has_no_id(current_api: CurrentClient):
    spot = next(c for c in current_api.get("/v2/collections").json()["content"] if c["name"] == "spot")
    analytic = next(p for p in spot["dataProducts"] if p["title"] == "Analytic")
    assert "id" not in analytic


def test_tasking_collections_say_whether_a_feasibility_study_is_required(current_api: CurrentClient):
    content = current_api.get("/v2/collections", params={"type": "TASKING"}).json()["content"]
    by_name = {c["name"]: c["integrations"] for c in content}
    assert set(by_name) == {"phr-tasking", "spot-tasking"}
    assert "FEASIBILITY_STUDY_REQUIRED" in by_name["spot-tasking"]
    assert "QUOTATION_REQUIRED" in by_name["phr-tasking"]


def test_sort_and_paging(current_api: CurrentClient):
    names = [
        c["name"] for c in current_api.get("/v2/collections", params={"sort": "name,desc"}).json()["content"]
    ]
    assert names == sorted(names, reverse=True)
    first = current_api.get("/v2/collections", params={"size": 2, "page": 0}).json()
    assert len(first["content"]) == 2 and first["totalPages"] == 3
    last = current_api.get("/v2/collections", params={"size": 2, "page": 2}).json()
    assert len(last["content"]) == 1


def test_empty_result_still_has_one_page(current_api: CurrentClient):
    page = current_api.get("/v2/collections", params={"integrations": "MANUAL_REQUEST_REQUIRED"}).json()
    assert page["content"] == [] and page["totalPages"] == 1


def test_bad_sort_field_is_400_in_glossary_error_shape(current_api: CurrentClient):
    r = current_api.get("/v2/collections", params={"sort": "price,asc"})
    assert r.status_code == 400
    assert r.json()["code"] == 400 and "price" in r.json()["message"]


def test_one_collection_and_unknown_collection(current_api: CurrentClient):
    assert current_api.get("/v2/collections/phr").json()["name"] == "phr"
    r = current_api.get("/v2/collections/nope")
    assert r.status_code == 404 and r.json()["code"] == 404


def test_eula_of_every_data_product_is_accepted(current_api: CurrentClient):
    eulas = {
        p["eulaId"] for c in current_api.get("/v2/collections").json()["content"] for p in c["dataProducts"]
    }
    for eula_id in eulas:
        r = current_api.get(f"/v2/eulas/{eula_id}")
        assert r.status_code == 200 and r.json()["isAccepted"] is True


def test_revoked_eula_and_unknown_eula(fresh_current_api: CurrentClient):
    api = fresh_current_api
    eula_id = api.get("/v2/collections/phr").json()["dataProducts"][0]["eulaId"]
    api.server.state.glossary.accept(eula_id, accepted=False)
    assert api.get(f"/v2/eulas/{eula_id}").json()["isAccepted"] is False
    r = api.get("/v2/eulas/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json()["code"] == 404


def test_glossary_is_public_but_eulas_need_a_token(emulator):
    r = requests.get(f"{emulator.url}/v2/collections", timeout=10)
    assert r.status_code == 200 and r.json()["content"]
    eula_id = r.json()["content"][0]["dataProducts"][0]["eulaId"]
    r = requests.get(f"{emulator.url}/v2/eulas/{eula_id}", timeout=10)
    assert r.status_code == 401 and r.json()["code"] == 401
