"""Today's processing API over real HTTP: processes, validation, cost, execution, jobs, results, faults.

The input items are real deliveries: 2023 archive orders fulfilled into the one storage (the
processing API reads STAC items of storage, whichever generation ordered them). Time moves with
``/_emulator/clock`` on an emulator running at real speed, so every status is observed in turn.
"""

from __future__ import annotations

import io
import math
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import requests
from rasterio.io import MemoryFile

from tests.conftest import RawClient
from tests.emulator.test_jobs import run_job
from tests.emulator.test_orders import HAMBURG, archive_body, get_order, place, scene_ids
from tests.emulator.test_workflows import DATA, create_workflow, job_inputs
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer

PROCESSES = "/v2/processing/processes"
JOBS = "/v2/processing/jobs"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def current_client(server: EmulatorServer) -> RawClient:
    """The one place that authenticates today's-generation calls (the 2023 token until OAuth lands)."""
    return RawClient(server)


@dataclass
class World:
    server: EmulatorServer
    api: RawClient
    items: list[dict]  # delivered STAC items (self hrefs in their links)

    def href(self, index: int = 0) -> str:
        return next(link["href"] for link in self.items[index]["links"] if link["rel"] == "self")


def advance(api: RawClient, seconds: float) -> None:
    """Move the emulator clock; a fresh token follows, as a long real wait would need one too."""
    assert api.post("/_emulator/clock", json={"advance": seconds}).ok
    api.authenticate()


def job(api: RawClient, job_id: str) -> dict:
    r = api.get(f"{JOBS}/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def run_until(api: RawClient, job_id: str, wanted: set[str], timeout: float = 60) -> dict:
    """Advance the clock a second at a time until the job reaches a status in ``wanted``."""
    deadline = time.monotonic() + timeout
    while True:
        current = job(api, job_id)
        if current["status"] in wanted:
            return current
        assert time.monotonic() < deadline, f"job {job_id} stuck in {current['status']}"
        advance(api, 1)
        time.sleep(0.02)


def balance(api: RawClient) -> int:
    return api.get("/_emulator/info").json()["credits"]


def charges_of(api: RawClient, job_id: str) -> list[dict]:
    """The job's entries in the one account's credit history (newest first)."""
    page = api.get("/accounts/me/credits/history?size=500").json()["data"]["content"]
    return [entry for entry in page if entry["details"].get("jobId") == job_id]


def execute(api: RawClient, process_id: str, inputs: dict, **query: str) -> requests.Response:
    params = {"workspaceId": api.workspace_id, **query}
    return api.post(f"{PROCESSES}/{process_id}/execution", params=params, json={"inputs": inputs})


def executed(api: RawClient, process_id: str, inputs: dict) -> dict:
    r = execute(api, process_id, inputs)
    assert r.status_code == 200, r.text
    return r.json()


def download(api: RawClient, asset_href: str) -> bytes:
    signed = api.post(f"{asset_href}/download-url")
    assert signed.status_code == 200, signed.text
    r = requests.get(signed.json()["url"], timeout=30)
    assert r.status_code == 200
    return r.content


def input_raster(api: RawClient, item: dict) -> MemoryFile:
    """The GeoTIFF of a delivered item (inside its ZIP delivery)."""
    data = download(api, item["assets"]["data"]["href"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".tif"))
        return MemoryFile(archive.read(name))


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A real-speed emulator whose storage holds two delivered Pléiades scenes."""
    with EmulatorServer(EmulatorConfig(speed=1.0, seed=5)) as server:
        api = current_client(server)
        orders = [
            place(api, archive_body(scene, "phr", aoi=HAMBURG)) for scene in scene_ids(api, "phr", 2, HAMBURG)
        ]
        deadline = time.monotonic() + 60
        assets = []
        for order in orders:
            while (status := get_order(api, order["id"]))["status"] != "FULFILLED":
                assert time.monotonic() < deadline, f"order stuck in {status['status']}"
                advance(api, 30)
                time.sleep(0.05)
            assets.extend(status["assets"])
        items = []
        for asset_id in assets:
            body = {
                "filter": {"op": "=", "args": [{"property": "asset_id"}, asset_id]},
                "filter-lang": "cql2-json",
            }
            (item,) = api.post("/v2/assets/stac/search", json=body).json()["features"]
            items.append(item)
        yield World(server, api, items)


# -- processes -------------------------------------------------------------------------------------


def test_process_descriptions_carry_their_eula(world: World):
    listed = world.api.get(PROCESSES).json()["processes"]
    assert {"pansharpening", "upsampling-ns", "detection-trees-spacept"} <= {p["id"] for p in listed}
    description = world.api.get(f"{PROCESSES}/pansharpening").json()
    eula = next(p for p in description["additionalParameters"]["parameters"] if p["name"] == "eula-id")
    assert re.fullmatch(r"[0-9a-f-]{36}", eula["value"][0])
    missing = world.api.get(f"{PROCESSES}/no-such-process")
    assert missing.status_code == 404 and missing.json()["status"] == 404


def test_process_eulas_are_glossary_eulas_and_a_revoked_one_ends_jobs_unlicensed(world: World):
    api = world.api
    description = api.get(f"{PROCESSES}/true-color-conversion").json()
    (eula_id,) = next(p for p in description["additionalParameters"]["parameters"] if p["name"] == "eula-id")[
        "value"
    ]
    r = api.get(f"/v2/eulas/{eula_id}")
    assert r.status_code == 200 and r.json()["id"] == eula_id and r.json()["isAccepted"] is True
    world.server.state.glossary.accept(eula_id, accepted=False)
    try:
        assert api.get(f"/v2/eulas/{eula_id}").json()["isAccepted"] is False
        started = executed(api, "true-color-conversion", {"title": "t", "item": world.href()})
        ended = run_until(api, started["jobID"], {"unlicensed"})
        assert eula_id in ended["results"]["errors"][0]["message"]
    finally:
        world.server.state.glossary.accept(eula_id)


# -- validation and cost -----------------------------------------------------------------------------


def validation(world: World, process_id: str, body: object) -> requests.Response:
    return world.api.post(f"{PROCESSES}/{process_id}/validation", json=body)


def test_valid_inputs_answer_200(world: World):
    r = validation(world, "upsampling-ns", {"inputs": {"title": "ok", "item": world.href()}})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ({"title": "no item"}, "['item']"),
        ({"title": "t", "item": "x", "colour": "red"}, "colour"),
        ({"title": "t", "item": 42}, "data.inputs.item must be string"),
        ("not an object", "data.inputs must be object"),
    ],
)
def test_schema_errors_are_400_naming_the_property(world: World, inputs: object, fragment: str):
    r = validation(world, "upsampling-ns", {"inputs": inputs})
    assert r.status_code == 400
    body = r.json()
    assert body["title"] == "Bad Request" and body["status"] == 400
    assert fragment in body["schema-error"]


def test_body_without_inputs_is_400(world: World):
    r = validation(world, "upsampling-ns", {"title": "t"})
    assert r.status_code == 400 and "inputs" in r.json()["schema-error"]


def test_semantic_errors_are_422_with_name_and_message(world: World):
    missing = world.href().rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    r = validation(world, "pansharpening", {"inputs": {"title": "x" * 101, "item": missing}})
    assert r.status_code == 422
    body = r.json()
    assert body["title"] == "Unprocessable Entity"
    assert {e["name"] for e in body["errors"]} == {"InvalidTitle", "ItemNotFound"}
    assert all(set(e) == {"name", "message"} for e in body["errors"])
    assert missing in next(e["message"] for e in body["errors"] if e["name"] == "ItemNotFound")

    weights = {"title": "t", "item": world.href(), "greyWeights": [{"band": "pan", "weight": 1.0}]}
    r = validation(world, "pansharpening", {"inputs": weights})
    assert r.status_code == 422
    assert [e["name"] for e in r.json()["errors"]] == ["InvalidGreyWeights"]
    assert "'pan'" in r.json()["errors"][0]["message"]


def test_cost_is_priced_by_the_item_area(world: World):
    inputs = {"title": "t", "item": world.href()}
    cheap = world.api.post(f"{PROCESSES}/upsampling-ns-sentinel/cost", json={"inputs": inputs}).json()
    dear = world.api.post(f"{PROCESSES}/upsampling-ns/cost", json={"inputs": inputs}).json()
    assert cheap["pricingStrategy"] == "area" and cheap["unit"] == "SQ_KM"
    assert cheap["totalSize"] == dear["totalSize"] > 0
    assert cheap["totalCredits"] == max(1, math.ceil(cheap["totalSize"] * 0.5))
    assert dear["totalCredits"] == max(1, math.ceil(dear["totalSize"] * 2.0))
    bad = world.api.post(f"{PROCESSES}/upsampling-ns/cost", json={"inputs": {"title": "t", "item": "nope"}})
    assert bad.status_code == 422


# -- execution and progression -------------------------------------------------------------------------


def test_execution_needs_the_own_workspace(world: World):
    inputs = {"title": "t", "item": world.href()}
    r = world.api.post(f"{PROCESSES}/upsampling-ns/execution", json={"inputs": inputs})
    assert r.status_code == 400
    assert execute(world.api, "upsampling-ns", inputs, workspaceId="someone-else").status_code == 403
    assert execute(world.api, "no-such-process", inputs).status_code == 404


def test_job_walks_every_status_and_captures_its_credits(world: World):
    api = world.api
    before = balance(api)
    budget = api.get("/v2/budgets", params={"status": "ACTIVE"}).json()["content"][0]["id"]
    used = api.get(f"/v2/budgets/{budget}/usage").json()["consumedCredits"]
    r = execute(api, "upsampling-ns", {"title": "walk", "item": world.href()}, budgetId=budget)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["status"] == "created"
    assert created["processID"] == "upsampling-ns" and created["workspaceID"] == api.workspace_id
    assert created["definition"] == {"inputs": {"title": "walk", "item": world.href()}}
    assert created["started"] is None and created["finished"] is None
    assert TIMESTAMP.match(created["created"]) and TIMESTAMP.match(created["updated"])
    job_id = created["jobID"]
    cost = api.post(
        f"{PROCESSES}/upsampling-ns/cost", json={"inputs": created["definition"]["inputs"]}
    ).json()

    seen = ["created"]
    for step in (1, 1, 1, 2):
        advance(api, step)
        seen.append(job(api, job_id)["status"])
    assert seen == ["created", "licensed", "valid", "accepted", "running"]
    running = job(api, job_id)
    assert TIMESTAMP.match(running["started"]) and running["finished"] is None
    assert running["creditConsumption"] == {"credits": cost["totalCredits"]}
    assert balance(api) == before - cost["totalCredits"]  # withheld

    done = run_until(api, job_id, {"successful"})
    assert TIMESTAMP.match(done["finished"]) and TIMESTAMP.match(done["updated"])
    assert done["results"]["collection"].endswith(
        "/v2/assets/stac/collections/" + done["results"]["collection"].split("/")[-1]
    )
    assert not done["results"]["collection"].endswith("/")
    captured = run_until(api, job_id, {"captured"})
    assert captured["creditConsumption"] == {"credits": cost["totalCredits"]}
    assert balance(api) == before - cost["totalCredits"]
    (charge,) = charges_of(api, job_id)
    assert charge["delta"] == -cost["totalCredits"] and charge["details"]["budgetId"] == budget
    assert api.get(f"/v2/budgets/{budget}/usage").json()["consumedCredits"] == used + cost["totalCredits"]


def test_execution_refuses_an_unknown_or_inactive_budget_before_any_job(world: World):
    api = world.api
    inactive = api.get("/v2/budgets", params={"status": "INACTIVE"}).json()["content"][0]["id"]
    before = len(api.get("/v2/processing/jobs", params={"limit": 100}).json()["jobs"])
    for budget in (inactive, "00000000-0000-4000-8000-000000000000"):
        r = execute(api, "upsampling-ns", {"title": "t", "item": world.href()}, budgetId=budget)
        assert r.status_code == 400 and budget in r.json()["detail"], r.text
    assert len(api.get("/v2/processing/jobs", params={"limit": 100}).json()["jobs"]) == before


def test_failure_trigger_fails_then_releases_the_credits(world: World):
    api = world.api
    before = balance(api)
    created = executed(api, "true-color-conversion", {"title": "emulator-fail please", "item": world.href()})
    failed = run_until(api, created["jobID"], {"failed"})
    assert balance(api) < before  # still withheld while failed
    assert failed["results"]["collection"] is None
    assert [e["name"] for e in failed["results"]["errors"]] == ["ProcessingFailed"]
    released = run_until(api, created["jobID"], {"released"})
    assert released["creditConsumption"] == {"credits": 0}
    assert balance(api) == before
    refund, charge = charges_of(api, created["jobID"])
    assert refund["delta"] == -charge["delta"] > 0


def test_unlicensed_trigger_and_invalid_inputs_end_without_charge(world: World):
    api = world.api
    before = balance(api)
    unlicensed = executed(api, "upsampling-ns", {"title": "emulator-unlicensed", "item": world.href()})
    invalid = executed(api, "upsampling-ns", {"title": "t", "item": f"{world.href()}-gone"})
    assert (
        run_until(api, unlicensed["jobID"], {"unlicensed"})["results"]["errors"][0]["name"]
        == "EulaNotAccepted"
    )
    ended = run_until(api, invalid["jobID"], {"invalid"})
    assert [e["name"] for e in ended["results"]["errors"]] == ["ItemNotFound"]
    assert ended["creditConsumption"] is None and ended["finished"] is not None
    assert balance(api) == before


def test_job_is_rejected_when_the_balance_cannot_cover_it():
    with EmulatorServer(EmulatorConfig(speed=1.0, seed=5)) as server:
        api = current_client(server)
        (scene,) = scene_ids(api, "phr", 1, HAMBURG)
        order = place(api, archive_body(scene, "phr", aoi=HAMBURG))
        deadline = time.monotonic() + 60
        while (status := get_order(api, order["id"]))["status"] != "FULFILLED":
            assert time.monotonic() < deadline
            advance(api, 30)
        body = {"filter": {"op": "=", "args": [{"property": "asset_id"}, status["assets"][0]]}}
        (item,) = api.post("/v2/assets/stac/search", json=body).json()["features"]
        href = next(link["href"] for link in item["links"] if link["rel"] == "self")
        inputs = {"title": "too dear", "item": href}
        price = api.post(f"{PROCESSES}/upsampling-ns/cost", json={"inputs": inputs}).json()["totalCredits"]
        with server.state.lock:  # spend the rest of the account elsewhere
            server.state.credits.charge(server.state.credits.balance - price + 1, "ORDER", "elsewhere")
        left = balance(api)
        rejected = run_until(api, executed(api, "upsampling-ns", inputs)["jobID"], {"rejected"})
        assert rejected["results"]["errors"][0]["name"] == "InsufficientCredits"
        assert balance(api) == left


# -- results -------------------------------------------------------------------------------------------


def results_of(api: RawClient, finished: dict) -> list[dict]:
    collection_id = finished["results"]["collection"].split("/")[-1]
    collection = api.get(f"/v2/assets/stac/collections/{collection_id}")
    assert collection.status_code == 200
    items = api.get(f"/v2/assets/stac/collections/{collection_id}/items").json()["features"]
    assert items and all(i["properties"]["up42-system:job_id"] == finished["jobID"] for i in items)
    return items


def test_upsampling_result_is_the_input_at_twice_the_resolution(world: World):
    api = world.api
    done = run_until(
        api, executed(api, "upsampling-ns", {"title": "up", "item": world.href()})["jobID"], {"captured"}
    )
    (item,) = results_of(api, done)
    result = download(api, item["assets"]["data"]["href"])
    with (
        input_raster(api, world.items[0]) as source_file,
        source_file.open() as source,
        MemoryFile(result) as out_file,
        out_file.open() as out,
    ):
        assert (out.width, out.height) == (source.width * 2, source.height * 2)
        assert out.count == source.count and out.dtypes == source.dtypes
        assert np.allclose(out.bounds, source.bounds)
        # Each 2 x 2 block averages back to about the input pixel.
        src = source.read(1).astype(float)
        up = out.read(1).astype(float)
        inner = (slice(4, -4), slice(4, -4))
        blocks = up.reshape(source.height, 2, source.width, 2).mean(axis=(1, 3))
        valid = (src[inner] > 0) & (blocks[inner] > 0)
        assert np.median(np.abs(blocks[inner][valid] - src[inner][valid]) / src[inner][valid]) < 0.05


def test_pansharpening_doubles_the_resolution_and_follows_the_grey_weights(world: World):
    api = world.api
    plain = executed(api, "pansharpening", {"title": "pan", "item": world.href()})
    nir = [{"band": "nir", "weight": 1.0}]
    weighted = executed(api, "pansharpening", {"title": "pan nir", "item": world.href(), "greyWeights": nir})
    arrays = []
    for started in (plain, weighted):
        (item,) = results_of(api, run_until(api, started["jobID"], {"captured"}))
        assert item["properties"]["gsd"] == world.items[0]["properties"]["gsd"] / 2
        with MemoryFile(download(api, item["assets"]["data"]["href"])) as f, f.open() as out:
            arrays.append(out.read())
    with input_raster(api, world.items[0]) as source_file, source_file.open() as source:
        assert arrays[0].shape == (source.count, source.height * 2, source.width * 2)
    assert arrays[0].shape == arrays[1].shape and not np.array_equal(arrays[0], arrays[1])


def test_detection_and_true_color_results_follow_the_input(world: World):
    api = world.api
    trees = executed(api, "detection-trees-spacept", {"title": "trees", "item": world.href()})
    color = executed(api, "true-color-conversion", {"title": "rgb", "item": world.href()})
    with input_raster(api, world.items[0]) as source_file, source_file.open() as source:
        bands = source.read().astype(float)
        red, nir = bands[2], bands[3]
        with np.errstate(divide="ignore", invalid="ignore"):
            ndvi = (nir - red) / (nir + red)
        (mask_item,) = results_of(api, run_until(api, trees["jobID"], {"captured"}))
        with MemoryFile(download(api, mask_item["assets"]["data"]["href"])) as f, f.open() as mask:
            values = mask.read(1)
            assert set(np.unique(values)) <= {0, 1, 255}
            inside = values != 255
            assert ((values == 1) == (ndvi > 0.4))[inside].mean() > 0.99
        (rgb_item,) = results_of(api, run_until(api, color["jobID"], {"captured"}))
        with MemoryFile(download(api, rgb_item["assets"]["data"]["href"])) as f, f.open() as rgb:
            assert rgb.count == 3 and rgb.dtypes == ("uint8",) * 3
            assert (rgb.width, rgb.height) == (source.width, source.height)


def test_change_detection_uses_both_items(world: World):
    api = world.api
    inputs = {
        "title": "change",
        "sourceItem": world.href(0),
        "referenceItem": world.href(1),
        "sensitivity": 3,
    }
    same = validation(
        world, "detection-change-simularity", {"inputs": {**inputs, "referenceItem": world.href(0)}}
    )
    assert same.status_code == 422 and same.json()["errors"][0]["name"] == "IdenticalItems"
    done = run_until(api, executed(api, "detection-change-simularity", inputs)["jobID"], {"captured"})
    (item,) = results_of(api, done)
    result = download(api, item["assets"]["data"]["href"])
    with (
        input_raster(api, world.items[1]) as ref_file,
        ref_file.open() as reference,
        MemoryFile(result) as f,
        f.open() as change,
    ):
        assert change.shape == reference.shape and change.transform == reference.transform
        assert set(np.unique(change.read(1))) <= {0, 1, 255}


# -- listing -------------------------------------------------------------------------------------------


def walk(api: RawClient, query: str) -> tuple[list[dict], list[dict]]:
    """Follow ``next`` links exactly as given (Q3), like the SDK."""
    pages = [api.get(f"{JOBS}?{query}").json()]
    while nxt := next((link["href"] for link in pages[-1]["links"] if link["rel"] == "next"), None):
        assert nxt.startswith("/v2/processing/jobs?")
        pages.append(api.get(nxt).json())
    return [j for p in pages for j in p["jobs"]], pages


def test_job_list_filters_sorts_and_pages(world: World):
    api = world.api
    started = [
        executed(api, pid, {"title": f"list {pid}", "item": world.href()}) for pid in ("upsampling-ns",) * 3
    ]
    started.append(executed(api, "true-color-conversion", {"title": "list rgb", "item": world.href()}))
    ids = ",".join(j["jobID"] for j in started)

    jobs, pages = walk(api, f"ids={ids}&limit=2")
    assert len(pages) == 2 and pages[-1]["links"] == []
    assert [j["jobID"] for j in jobs] == [j["jobID"] for j in reversed(started)]  # newest first

    upsampling, _ = walk(api, f"ids={ids}&processId=upsampling-ns&limit=1")
    assert {j["jobID"] for j in upsampling} == {j["jobID"] for j in started[:3]}
    by_process, _ = walk(api, f"ids={ids}&sort=processID%2Casc")
    assert [j["processID"] for j in by_process] == sorted(j["processID"] for j in started)
    created_only, _ = walk(api, f"ids={ids}&status=created,licensed&workspaceId={api.workspace_id}")
    assert {j["status"] for j in created_only} <= {"created", "licensed"}

    assert api.get(f"{JOBS}?status=SUCCEEDED").status_code == 400
    assert api.get(f"{JOBS}?sort=name%2Casc").status_code == 400
    assert api.get(f"{JOBS}?limit=0").status_code == 400
    assert api.get(f"{JOBS}?minDuration=x").status_code == 400


def test_2023_jobs_are_not_processing_jobs(world: World):
    api = world.api
    legacy = run_job(api, create_workflow(api, DATA, name="legacy"), job_inputs(), name="legacy job")
    assert api.get(f"{JOBS}/{legacy['id']}").status_code == 404
    assert legacy["id"] not in {j["jobID"] for j in walk(api, "limit=100")[0]}
    processed = executed(api, "upsampling-ns", {"title": "new", "item": world.href()})
    assert api.get(f"/projects/{api.project_id}/jobs/{processed['jobID']}").status_code == 404


def test_results_can_be_processed_again(world: World):
    """A pipeline chains processes: the upsampled item is the input of a detection."""
    api = world.api
    up = run_until(
        api, executed(api, "upsampling-ns", {"title": "first", "item": world.href()})["jobID"], {"captured"}
    )
    (item,) = results_of(api, up)
    href = next(link["href"] for link in item["links"] if link["rel"] == "self")
    trees = run_until(
        api, executed(api, "detection-trees-spacept", {"title": "then", "item": href})["jobID"], {"captured"}
    )
    (mask_item,) = results_of(api, trees)
    with MemoryFile(download(api, mask_item["assets"]["data"]["href"])) as f, f.open() as mask:
        mask_shape = mask.shape
    with MemoryFile(download(api, item["assets"]["data"]["href"])) as g, g.open() as upsampled:
        assert mask_shape == upsampled.shape


# -- faults ------------------------------------------------------------------------------------------


def test_lost_execution_response_still_creates_exactly_one_job(world: World):
    api = world.api
    before = {j["jobID"] for j in walk(api, "limit=100")[0]}
    world.server.state.faults.add_rule("lost_response", count=1, path="^/v2/processing/processes/")
    with pytest.raises(requests.RequestException):
        execute(api, "upsampling-ns", {"title": "lost answer", "item": world.href()})
    new = [j for j in walk(api, "limit=100")[0] if j["jobID"] not in before]
    assert [j["definition"]["inputs"]["title"] for j in new] == ["lost answer"]


def test_server_error_and_rate_limit_faults_answer_as_problems(world: World):
    faults = world.server.state.faults
    faults.add_rule("error", count=1, path="^/v2/processing/jobs")
    r = world.api.get(JOBS)
    assert r.status_code in (500, 502, 503) and r.json()["status"] == r.status_code
    faults.add_rule("rate_limit", count=1, path="^/v2/processing/processes")
    r = world.api.get(f"{PROCESSES}/pansharpening")
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert world.api.get(f"{PROCESSES}/pansharpening").status_code == 200
