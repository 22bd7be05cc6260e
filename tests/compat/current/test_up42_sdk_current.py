"""The unmodified up42-py 4.3.0 drives every flow a pipeline needs against the emulator's current generation.

Each test runs one flow of driver.py in the side venv (see conftest.py) and asserts on what the SDK
returned and on the HTTP exchanges it made. The module skips, with one reason, only while the emulator
does not route today's token endpoint (``require_current``); every other failure fails.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest
import rasterio
import requests
from shapely.geometry import box, shape

from tests.compat.current.conftest import TOKEN_PATH, USERINFO_PATH, password_token

pytestmark = pytest.mark.usefixtures("require_current")

AOI = box(13.37, 52.50, 13.42, 52.53)
TIFF_MAGIC = ("49492a00", "4d4d002a", "49492b00", "4d4d002b")  # little/big endian TIFF and BigTIFF
ORDER_LIFE = ["CREATED", "BEING_PLACED", "PLACED", "BEING_FULFILLED", "FULFILLED"]
JOB_LIFE = ["created", "licensed", "valid", "accepted", "running", "successful", "captured"]
FINISHED = ("successful", "captured")


def _in_order(observed: list[str], life: list[str]) -> bool:
    """Every observed status belongs to the life cycle, and none goes backwards."""
    positions = [life.index(s) for s in observed if s in life]
    return len(positions) == len(observed) and positions == sorted(positions)


def _assert_geotiff(download: dict, server) -> None:
    """A real GeoTIFF, byte for byte what the emulator serves for that asset."""
    path = Path(download["path"])
    assert download["magic"] in TIFF_MAGIC, download
    assert path.suffix == ".tif" and not path.stem.endswith(".tif"), path.name
    with rasterio.open(path) as raster:
        assert raster.crs is not None and raster.count >= 1 and raster.width > 1
    token = password_token(server)
    signed = requests.post(
        f"{download['href']}/download-url", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    signed.raise_for_status()
    served = requests.get(signed.json()["url"], timeout=60)
    served.raise_for_status()
    assert (
        hashlib.sha256(served.content).hexdigest()
        == download["sha256"]
        == hashlib.sha256(path.read_bytes()).hexdigest()
    )


# -- account ------------------------------------------------------------------------------------------


def test_login_uses_the_password_grant_and_the_workspace_from_userinfo(run_flow, require_current):
    run = run_flow(require_current, "login")
    assert run.expect_ok()["workspace_id"] == require_current.config.workspace_id
    assert [(r["method"], r["path"], r["status"]) for r in run.requests] == [
        ("POST", TOKEN_PATH, 200),
        ("GET", USERINFO_PATH, 200),
    ]


def test_wrong_password_and_unknown_user_raise_the_sdks_wrong_credentials(run_flow, require_current):
    run = run_flow(require_current, "wrong_password")
    result = run.expect_ok()
    assert result["wrong_password"]["type"] == "up42.http.oauth.WrongCredentials"
    assert result["unknown_user"]["type"] == "up42.http.oauth.WrongCredentials"
    # Refused as Keycloak does (invalid_grant), not by a missing route or a server error.
    assert [c["status"] in (400, 401) for c in run.calls("POST", TOKEN_PATH)] == [True, True]
    assert not run.calls("GET", USERINFO_PATH)


# -- glossary, search, quicklook, STAC catalog ----------------------------------------------------------


def test_glossary_lists_collections_by_type_and_sort_with_order_schemas(run_flow, require_current):
    run = run_flow(require_current, "glossary")
    result = run.expect_ok()
    collections = result["collections"]
    names = [c["name"] for c in collections]
    assert len(names) == len(set(names)) and {c["type"] for c in collections} == {"ARCHIVE", "TASKING"}
    assert sorted(result["archive"]) == sorted(c["name"] for c in collections if c["type"] == "ARCHIVE")
    assert sorted(result["tasking"]) == sorted(c["name"] for c in collections if c["type"] == "TASKING")
    assert result["by_name_desc"] == sorted(names, reverse=True)
    for collection in collections:
        assert collection["providers"] and collection["data_products"], collection
    # A data product's ``id`` is optional (API and SDK): without one it cannot be ordered. Ids are global.
    ids = [p["id"] for c in collections for p in c["data_products"] if p["id"]]
    assert ids and len(ids) == len(set(ids))
    for collection in collections:
        if "SEARCH_AVAILABLE" in collection["integrations"]:  # searched through its host
            assert any("HOST" in p["roles"] for p in collection["providers"]), collection
    assert "id" in result["schema"]["properties"]  # the archive product's order schema names the scene id
    listings = run.calls("GET", "/v2/collections")
    assert listings and listings[0]["query"]["page"] == ["0"]
    assert any(c["query"].get("sort") == ["name,desc"] for c in listings)
    assert run.calls("GET", f"/orders/schema/{result['schema_product']}")[0]["status"] == 200


def test_host_search_pages_through_every_scene_and_downloads_a_quicklook(run_flow, require_current):
    run = run_flow(require_current, "search")
    result = run.expect_ok()
    scenes = result["scenes"]
    pages = [
        c for c in run.calls("POST", f"/catalog/hosts/{result['host']}/stac/search") if c["status"] == 200
    ]
    assert len(pages) >= 2  # followed rel=next
    assert len(scenes) > len(pages) - 1 and len({s["id"] for s in scenes}) == len(scenes)
    for scene in scenes:
        assert scene["collection"] == result["collection"]
        assert scene["cloud_coverage"] is None or scene["cloud_coverage"] <= 60
        assert "2022-01-01" <= scene["datetime"][:10] <= "2023-12-31"
        assert shape(scene["geometry"]).intersects(AOI)
    quicklook = result["quicklook"]
    assert quicklook["name"] == f"quicklook_{quicklook['scene']}.jpg"
    assert quicklook["magic"] == "ffd8ff" and quicklook["size"] > 100
    assert (
        run.calls("GET", f"/catalog/{result['host']}/image/{quicklook['scene']}/quicklook")[0]["status"]
        == 200
    )
    assert result["invalid_search"]["type"] == "up42.glossary.InvalidSearchRequest"


def test_stac_catalog_client_searches_a_collection(run_flow, require_current):
    run = run_flow(require_current, "catalog_stac")
    result = run.expect_ok()
    items = result["items"]
    assert 0 < len(items) <= 30
    for item in items:
        assert item["collection"] == result["collection"]
        assert item["datetime"][:4] == "2022"
        assert box(*item["bbox"]).intersects(AOI)
    assert any(c.endswith("/item-search") for c in result["conforms_to"])
    assert run.calls("GET", "/v2/catalog/")[0]["status"] == 200
    assert all(c["status"] == 200 for c in run.calls("POST", "/v2/catalog/search"))


# -- archive order: estimate, place, track, storage, download, item update ------------------------------


@pytest.fixture(scope="module")
def archive(run_flow, require_current):
    return run_flow(require_current, "archive")


def test_batch_order_template_estimates_then_places_one_order(archive, require_current):
    result = archive.expect_ok()
    estimate = result["estimate"]
    assert estimate["credits"] > 0 and estimate["size"] > 0 and estimate["unit"] in ("SQ_KM", "SCENE")
    assert estimate["items"] == [
        {
            "kind": "OrderCost",
            "index": 0,
            "credits": estimate["credits"],
            "size": estimate["size"],
            "unit": estimate["unit"],
        }
    ]
    (reference,) = result["references"]
    placed = result["placed"]
    assert reference == {"index": 0, "id": placed["id"]}
    workspace = require_current.config.workspace_id
    assert placed["workspace_id"] == result["workspace_id"] == workspace
    assert placed["type"] == "ARCHIVE" and placed["data_product_id"] == result["data_product_id"]
    assert placed["tags"] == ["sdk430", "archive"] and placed["display_name"] == "sdk430 archive order"
    assert placed["details"]["kind"] == "ArchiveOrderDetails"
    assert placed["details"]["image_id"] in (None, result["scene"]["id"])
    estimate_call, place_call = (
        archive.calls("POST", "/v2/orders/estimate"),
        archive.calls("POST", "/v2/orders"),
    )
    assert estimate_call[0]["status"] == 200 and place_call[0]["query"] == {"workspaceId": [workspace]}
    assert archive.requests.index(estimate_call[0]) < archive.requests.index(place_call[0])


def test_order_track_follows_the_status_to_fulfilled(archive):
    result = archive.expect_ok()
    assert result["track"][-1] == "FULFILLED"
    assert _in_order(result["track"], ORDER_LIFE), result["track"]
    assert result["fulfilled"]["status"] == "FULFILLED"


def test_deliveries_are_found_in_storage_by_order_id(archive, require_current):
    result = archive.expect_ok()
    base = require_current.url
    assert result["items"]
    for item in result["items"]:
        assert item["order_id"] == result["placed"]["id"]
        assert (
            item["self_href"]
            == f"{base}/v2/assets/stac/collections/{item['collection_id']}/items/{item['id']}"
        )
        assert item["assets"] and all(a["href"].startswith(base) for a in item["assets"].values())
    assert archive.calls("GET", "/v2/assets/stac/")[0]["status"] == 200
    assert archive.calls("POST", "/v2/assets/stac/search")[-1]["status"] == 200


def test_asset_download_writes_the_emulators_geotiff(archive, require_current):
    result = archive.expect_ok()
    download = result["download"]
    assert archive.calls("POST", f"{download['href'].removeprefix(require_current.url)}/download-url")
    _assert_geotiff(download, require_current)


def test_item_update_patches_title_and_tags_and_keeps_the_item(archive):
    result = archive.expect_ok()
    before, updated = result["items"][0], result["updated"]
    assert (updated["title"], updated["tags"]) == ("sdk430 title", ["sdk430", "updated"])
    assert (updated["id"], updated["collection_id"], updated["self_href"]) == (
        before["id"],
        before["collection_id"],
        before["self_href"],
    )
    (reread,) = result["reread"]
    assert (reread["title"], reread["tags"]) == ("sdk430 title", ["sdk430", "updated"])
    assert result["second_update"] is None
    patches = archive.calls(
        "PATCH", f"/v2/assets/stac/collections/{before['collection_id']}/items/{before['id']}"
    )
    assert [p["status"] for p in patches] == [200, 200]


# -- orders listed with filters, updated, cancelled ------------------------------------------------------


def test_orders_are_listed_with_filters_and_updated(run_flow, require_current):
    run = run_flow(require_current, "orders")
    result = run.expect_ok()
    first, second = result["ids"]
    for key in ("all", "workspace", "archive", "fulfilled", "display_name"):
        assert {first, second} <= set(result[key]), key
    assert not {first, second} & set(result["tasking"] + result["created"])
    assert first in result["tag_a"] and second not in result["tag_a"]
    assert second in result["tag_relabelled"] and first not in result["tag_relabelled"]
    assert result["by_ids"] == [first]
    created = [o["created_at"] for o in result["newest_first"]]
    assert created == sorted(created, reverse=True)
    assert result["updated"]["tags"] == ["sdk430", "list-b", "relabelled"]
    assert run.calls("PATCH", f"/v2/orders/{second}")[0]["status"] == 200
    listings = run.calls("GET", "/v2/orders")
    assert all(c["query"]["page"] for c in listings)
    assert any(c["query"].get("tags") == ["list-a"] for c in listings)
    assert any(c["query"].get("orderIds") == [first] for c in listings)
    assert any(c["query"].get("sort") == ["createdAt,desc"] for c in listings)


@pytest.mark.parametrize("private_emulator", [{"speed": 0.01}], indirect=True)
def test_order_cancel_while_created(run_flow, private_emulator):
    run = run_flow(private_emulator, "cancel")
    result = run.expect_ok()
    order_id = result["placed"]["id"]
    assert result["before"] == "CREATED"
    assert result["cancelled"] == {"order_id": order_id, "status": "CANCELED"}
    assert result["after"] == "CANCELED" and order_id in result["listed_cancelled"]
    assert result["track"]["type"] == "up42.order.CanceledOrder"
    assert result["cancel_again"]["type"] == "up42.order.OrderCannotBeCanceled"
    assert [c["status"] for c in run.calls("POST", f"/v2/orders/{order_id}/cancellation")] == [200]


# -- tasking ---------------------------------------------------------------------------------------------


def test_tasking_order_feasibility_quotation_track_and_coverage(run_flow, require_current):
    run = run_flow(require_current, "tasking")
    result = run.expect_ok()
    order = result["order"]
    assert order["type"] == "TASKING" and order["status"] == "FULFILLED"
    assert order["details"]["kind"] == "TaskingOrderDetails"
    assert run.calls("POST", "/v2/orders/estimate")[0]["status"] == 200  # the template estimates tasking too
    subs = [sub for _status, sub in result["seen"]]
    assert "FEASIBILITY_WAITING_RESPONSE" in subs and "QUOTATION_WAITING_RESPONSE" in subs
    assert subs.index("FEASIBILITY_WAITING_RESPONSE") < subs.index("QUOTATION_WAITING_RESPONSE")
    feasibility = result["decisions"]["feasibility"]
    assert feasibility["options"] and feasibility["decision"] == "ACCEPTED"
    assert feasibility["decision_option"]["id"] == feasibility["options"][0]["id"]
    assert set(feasibility["undecided"]) <= set(feasibility["accepted"])
    quotation = result["decisions"]["quotation"]
    assert quotation["decision"] == "ACCEPTED" and quotation["credits_price"] > 0
    assert quotation["order_id"] == order["id"] and quotation["decided_at"]
    assert quotation["id"] in quotation["by_workspace"]
    assert result["track"][-1] == "FULFILLED"
    coverage = result["coverage"]
    assert coverage["covered"]["percentage"] > 0 and coverage["covered"]["sq_km_area"] > 0
    assert coverage["covered"]["percentage"] + coverage["remainder"]["percentage"] == pytest.approx(
        100, abs=0.5
    )
    assert order["id"] in result["tasking_orders"]


# -- processing ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def processing(run_flow, require_current):
    return run_flow(require_current, "processing")


def test_job_template_is_valid_and_priced(processing):
    result = processing.expect_ok()
    assert result["valid"] == {"is_valid": True, "errors": []}
    assert result["cost"]["credits"] > 0 and result["cost"]["strategy"]
    steps = [
        ("GET", "/v2/processing/processes/pansharpening"),
        ("POST", "/v2/processing/processes/pansharpening/validation"),
        ("POST", "/v2/processing/processes/pansharpening/cost"),
    ]
    positions = [processing.requests.index(processing.calls(m, p)[0]) for m, p in steps]
    assert positions == sorted(positions)
    assert processing.calls("GET", "/v2/eulas/", prefix=True)[0]["status"] == 200


def test_invalid_inputs_and_unknown_process_are_rejected_before_execution(processing):
    result = processing.expect_ok()
    invalid, unknown = result["invalid"], result["unknown"]
    assert invalid == {"is_valid": False, "errors": ["InvalidSchema"], "has_cost": False}  # 400 schema-error
    for semantic in (result["too_long"], result["missing"]):  # 422 errors, each {name, message}
        assert not semantic["is_valid"] and semantic["errors"] and not semantic["has_cost"], semantic
        assert "InvalidSchema" not in semantic["errors"], semantic
    validations = processing.calls("POST", "/v2/processing/processes/pansharpening/validation")
    assert validations[0]["status"] < 400  # the valid template's
    assert sorted(c["status"] for c in validations if c["status"] >= 400) == [400, 422, 422]
    assert unknown == {"is_valid": False, "errors": ["ProcessNotFound"], "has_cost": False}
    assert processing.calls("GET", "/v2/processing/processes/sdk430-no-such-process")[0]["status"] == 404
    executions = processing.calls("POST", "/v2/processing/processes/pansharpening/execution")
    assert len(executions) == 2  # the two valid templates' jobs, nothing for the rejected ones


def test_job_executes_and_tracks_to_success_charging_its_price(processing, require_current):
    result = processing.expect_ok()
    job = result["job"]
    assert result["statuses"][0] == "created" and result["statuses"][-1] in FINISHED
    assert _in_order(result["statuses"], JOB_LIFE), result["statuses"]
    assert job["status"] in FINISHED and not job["errors"]
    assert job["credits"] == result["cost"]["credits"]
    assert job["workspace_id"] == require_current.config.workspace_id
    assert job["definition"]["inputs"]["item"] == result["input_item"]
    execution = processing.calls("POST", "/v2/processing/processes/pansharpening/execution")[0]
    assert execution["query"] == {"workspaceId": [require_current.config.workspace_id]}


def test_job_results_collection_is_read_and_downloaded(processing, require_current):
    result = processing.expect_ok()
    job = result["job"]
    assert result["collection"]["id"] == job["collection_url"].rstrip("/").split("/")[-1]
    assert result["results"] and all(i["job_id"] == job["id"] for i in result["results"])
    assert all(i["collection_id"] == result["collection"]["id"] for i in result["results"])
    _assert_geotiff(result["download"], require_current)


def test_jobs_are_listed_with_filters_and_pages(processing):
    jobs = processing.expect_ok()["jobs"]
    ours = set(jobs["ids"])
    for key in ("all", "workspace", "pansharpening", "finished", "paged"):
        assert ours <= set(jobs[key]), key
    assert not ours & set(jobs["other_process"] + jobs["running"])
    assert jobs["by_ids"] == [jobs["ids"][0]]
    assert len(jobs["paged"]) == len(set(jobs["paged"]))
    paged = [c for c in processing.calls("GET", "/v2/processing/jobs") if c["query"].get("limit") == ["1"]]
    assert len(paged) >= 2  # one job per page, followed by the next link
    created = [datetime.fromisoformat(j["created"]) for j in jobs["newest_first"]]
    assert created == sorted(created, reverse=True)


def test_bulk_deletion_removes_the_job_results(processing):
    result = processing.expect_ok()
    gone = result["after_deletion"]
    assert gone["items"] == []
    assert (
        gone["collection"]["type"] == "pystac_client.exceptions.APIError"
        and gone["collection"]["status"] == 404
    )
    assert gone["input_still_there"] == [result["input_item"].rsplit("/", 1)[-1]]
    deletes = processing.calls("DELETE", f"/v2/assets/stac/collections/{result['collection']['id']}")
    assert [d["status"] for d in deletes] in ([200], [204])
    if result["partial_deletion"] is not None:
        assert result["partial_deletion"]["type"] == "up42.stac.IncompleteCollectionDeletionError"


# -- budgets ---------------------------------------------------------------------------------------------


def test_budgets_settings_and_usage_follow_an_order_booked_on_a_budget(run_flow, private_emulator):
    run = run_flow(private_emulator, "budgets")
    result = run.expect_ok()
    every = {b["id"] for b in result["all"]}
    assert every and set(result["active"]) | set(result["inactive"]) == every
    assert not set(result["active"]) & set(result["inactive"])
    updated = [b["updated_at"] for b in result["by_updated_desc"]]
    assert updated == sorted(updated, reverse=True)
    assert isinstance(result["settings"]["enforcement_enabled"], bool)
    assert result["order"]["budget_id"] == result["budget"] and result["order"]["status"] == "FULFILLED"
    assert result["order"]["id"] in result["orders_on_budget"]
    spent = result["usage_after"]["consumed_credits"] - result["usage_before"]["consumed_credits"]
    assert spent == result["estimate"]["credits"] > 0
    assert result["budget_after"]["consumed_credits"] == result["usage_after"]["consumed_credits"]
    assert result["cleared_budget"] is None
    assert any(c["query"].get("includeUsage") == ["True"] for c in run.calls("GET", "/v2/budgets"))
