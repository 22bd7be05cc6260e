"""Jobs and job tasks (E46-E58; API.md §7.1-7.3, §8.9, §8.10, §9.1, §10) over real HTTP."""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
import rasterio
import requests
from PIL import Image

from tests.conftest import RawClient
from tests.emulator.test_workflows import AOI, DATA, TIME, VHR, create_workflow, error_message, job_inputs

TERMINAL = {"SUCCEEDED", "FAILED", "ERROR", "CANCELLED"}
OPEN_RING = {"type": "Polygon", "coordinates": [[[13.3, 52.5], [13.4, 52.5]]]}
POINT = {"type": "Point", "coordinates": [13.3, 52.5]}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - \S+ - (INFO|WARNING|ERROR) - ")


def run_job(api: RawClient, workflow_id: str, inputs: dict[str, Any], name: str = "job_py") -> dict[str, Any]:
    r = api.post(
        f"/projects/{api.project_id}/workflows/{workflow_id}/jobs", params={"name": name}, json=inputs
    )
    assert r.status_code == 200, r.text
    return r.json()["data"]


def job_info(api: RawClient, job_id: str) -> dict[str, Any]:
    r = api.get(f"/projects/{api.project_id}/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def wait_for(
    api: RawClient, job_id: str, statuses: set[str] = TERMINAL, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info = job_info(api, job_id)
        if info["status"] in statuses:
            return info
        assert time.monotonic() < deadline, f"job stuck in {info['status']}"
        time.sleep(0.05)


def job_tasks(api: RawClient, job_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/projects/{api.project_id}/jobs/{job_id}/tasks/")
    assert r.status_code == 200
    return r.json()["data"]


def task_log(api: RawClient, job_id: str, task_id: str) -> str:
    r = api.get(f"/projects/{api.project_id}/jobs/{job_id}/tasks/{task_id}/logs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


def advance(api: RawClient, seconds: float) -> None:
    assert api.post("/_emulator/clock", json={"advance": seconds}).status_code == 200


def download(api: RawClient, url: str) -> tarfile.TarFile:
    assert ".tgz" in url
    r = requests.get(url, timeout=60)  # signed URL: no UP42 headers
    assert r.status_code == 200
    return tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz")


def estimate(api: RawClient, workflow_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    tasks = api.get(f"/projects/{api.project_id}/workflows/{workflow_id}/tasks").json()["data"]
    body = {
        "tasks": [
            {
                "name": t["name"],
                "parentName": tasks[i - 1]["name"] if i else None,
                "blockId": t["block"]["id"],
                "blockVersionTag": t["blockVersionTag"],
            }
            for i, t in enumerate(tasks)
        ],
        "inputs": inputs,
    }
    r = api.post(f"/projects/{api.project_id}/estimate/job", json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def total(estimate_data: dict[str, Any]) -> int:
    return sum(
        entry[part]["credit"]["max"]
        for entry in estimate_data.values()
        for part in ("blockConsumption", "machineConsumption")
    )


def balance(api: RawClient) -> int:
    return api.get("/accounts/me/credits/balance").json()["data"]["balance"]


def vhr_inputs(limit: int = 2) -> dict[str, Any]:
    return {
        f"{VHR}:1": {"time": "2020-01-01T00:00:00Z/2022-12-31T23:59:59Z", "limit": limit, "intersects": AOI}
    }


# -- lifecycle -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0}], indirect=True)
def test_lifecycle_step_by_step_with_tasks_logs_and_events(fresh_api: RawClient) -> None:
    api = fresh_api
    events: list[dict[str, Any]] = []
    api.server.state.subscribe(lambda name, payload: events.append(payload) if name == "job.status" else None)
    workflow_id = create_workflow(api, DATA, "tiling", name="lifecycle")
    inputs = job_inputs(limit=1, tile_width=768)
    job = run_job(api, workflow_id, inputs, name="lifecycle_py")
    job_id = job["id"]
    assert job["status"] == "NOT STARTED" and job["mode"] == "DEFAULT"
    assert (
        job["name"] == "lifecycle_py"
        and job["workflowId"] == workflow_id
        and job["workflowName"] == "lifecycle"
    )
    assert job["inputs"] == inputs and job["error"] is None
    assert job["startedAt"] is None and job["finishedAt"] is None and job["createdAt"].endswith("Z")
    tasks = job_tasks(api, job_id)
    assert [t["name"] for t in tasks] == [f"{DATA}:1", "tiling:1"]
    assert [t["status"] for t in tasks] == ["NOT STARTED", "NOT STARTED"]
    assert tasks[0]["block"]["name"] == DATA and tasks[0]["blockVersion"]
    assert task_log(api, job_id, tasks[0]["id"]) == ""

    advance(api, 3)
    assert job_info(api, job_id)["status"] == "PENDING"
    advance(api, 5)
    info = job_info(api, job_id)
    assert info["status"] == "RUNNING" and info["startedAt"] is not None
    assert [t["status"] for t in job_tasks(api, job_id)] == ["RUNNING", "NOT STARTED"]
    advance(api, 10)
    partial = task_log(api, job_id, tasks[0]["id"]).splitlines()
    assert partial and all(LOG_LINE.match(line) for line in partial)
    advance(api, 10)
    current = job_tasks(api, job_id)
    assert [t["status"] for t in current] == ["SUCCEEDED", "RUNNING"]
    full = task_log(api, job_id, tasks[0]["id"]).splitlines()
    assert len(full) > len(partial) and full[: len(partial)] == partial
    assert "finished successfully" in full[-1]
    advance(api, 20)
    info = job_info(api, job_id)
    assert info["status"] == "SUCCEEDED" and info["finishedAt"] >= info["startedAt"]
    done = job_tasks(api, job_id)
    assert [t["status"] for t in done] == ["SUCCEEDED", "SUCCEEDED"]
    assert done[0]["finishedAt"] <= done[1]["startedAt"] <= done[1]["finishedAt"]

    mine = [e for e in events if e["jobId"] == job_id]
    assert [e["status"] for e in mine] == ["NOT STARTED", "PENDING", "RUNNING", "SUCCEEDED"]
    assert all(e["projectId"] == api.project_id and e["workflowId"] == workflow_id for e in mine)
    assert mine[-1]["statusChangedAt"] == info["finishedAt"] and mine[0]["jobName"] == "lifecycle_py"


def test_full_run_on_shared_emulator(api: RawClient) -> None:
    workflow_id = create_workflow(api, DATA, "tiling")
    job = run_job(api, workflow_id, job_inputs(limit=2, tile_width=768), name="quick_py")
    info = wait_for(api, job["id"])
    assert info["status"] == "SUCCEEDED"
    tasks = job_tasks(api, job["id"])
    assert [t["status"] for t in tasks] == ["SUCCEEDED", "SUCCEEDED"]
    without_slash = api.get(f"/projects/{api.project_id}/jobs/{job['id']}/tasks").json()["data"]
    assert tasks == without_slash
    for task in tasks:
        assert all(LOG_LINE.match(line) for line in task_log(api, job["id"], task["id"]).splitlines())


# -- credits ----------------------------------------------------------------------------------------------


def test_estimate_equals_charged_credits(fresh_api: RawClient) -> None:
    api = fresh_api
    workflow_id = create_workflow(api, VHR, "tiling")
    inputs = {**vhr_inputs(limit=2), "tiling:1": {"tile_width": 512}}
    estimated = estimate(api, workflow_id, inputs)
    expected = total(estimated)
    assert estimated[f"{VHR}:1"]["blockConsumption"]["credit"]["max"] > 0
    before = balance(api)
    job = run_job(api, workflow_id, inputs)
    assert balance(api) == before  # charged per task on completion, not up front
    assert wait_for(api, job["id"])["status"] == "SUCCEEDED"
    credits = api.get(f"/projects/{api.project_id}/jobs/{job['id']}/credits").json()["data"]
    assert credits["creditsUsed"] == expected
    assert credits["jobId"] == job["id"] and credits["jobDisplayId"] == job["id"][:8]
    assert credits["projectId"] == api.project_id and credits["projectDisplayId"] == api.project_id[:8]
    assert balance(api) == before - expected

    history = api.get("/accounts/me/credits/history", params={"size": 2000}).json()["data"]["content"]
    for task in job_tasks(api, job["id"]):
        records = [r for r in history if r["details"]["description"] == f"Consumption for {task['id']}"]
        task_estimate = estimated[task["name"]]
        charged = -sum(r["delta"] for r in records)
        assert charged == sum(
            task_estimate[p]["credit"]["max"] for p in ("blockConsumption", "machineConsumption")
        )
        for record in records:
            assert record["type"] == "JOB_TASK" and record["details"]["id"] == task["id"]
            consumption = record["details"]["consumption"]
            assert consumption["jobId"] == job["id"] and consumption["jobTaskId"] == task["id"]
            assert consumption["creditsUsed"] == -record["delta"]
            assert (
                consumption["workflowId"] == workflow_id and consumption["blockName"] == task["block"]["name"]
            )


@pytest.mark.parametrize("fresh_emulator", [{"initial_credits": 50}], indirect=True)
def test_insufficient_credits_creates_nothing(fresh_api: RawClient) -> None:
    api = fresh_api
    workflow_id = create_workflow(api, VHR)
    assert total(estimate(api, workflow_id, vhr_inputs())) > 50
    url = f"/projects/{api.project_id}/workflows/{workflow_id}/jobs?name=too_expensive_py"
    r = api.post(url, json=vhr_inputs())
    assert r.status_code == 402
    assert "credits" in error_message(r).lower()
    assert api.get(f"/projects/{api.project_id}/jobs").json()["data"] == []
    assert balance(api) == 50
    # A test query is free and still runs.
    job = run_job(api, workflow_id, {**vhr_inputs(), "config": {"mode": "DRY_RUN"}})
    assert job["mode"] == "DRY_RUN"


def test_dry_run_is_free_and_quick(fresh_api: RawClient) -> None:
    api = fresh_api
    workflow_id = create_workflow(api, DATA, "tiling")
    before = balance(api)
    inputs = {**job_inputs(limit=2, tile_width=256), "config": {"mode": "DRY_RUN"}}
    started = time.monotonic()
    job = run_job(api, workflow_id, inputs, name="test_query_py")
    assert job["mode"] == "DRY_RUN"
    assert "config" not in job["inputs"]
    assert wait_for(api, job["id"])["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 5
    assert api.get(f"/projects/{api.project_id}/jobs/{job['id']}/credits").json()["data"]["creditsUsed"] == 0
    assert balance(api) == before
    result = api.get(f"/projects/{api.project_id}/jobs/{job['id']}/outputs/data-json/").json()
    assert len(result["features"]) == 2
    assert all("up42.data_path" not in f["properties"] for f in result["features"])
    url = api.get(f"/projects/{api.project_id}/jobs/{job['id']}/downloads/results/").json()["data"]["url"]
    archive = download(api, url)
    assert [m.name for m in archive.getmembers() if m.isfile()] == ["output/data.json"]
    assert json.load(archive.extractfile("output/data.json")) == result


# -- concurrency and cancellation ----------------------------------------------------------------------


@pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0, "max_concurrent_jobs": 1}], indirect=True)
def test_max_concurrent_jobs_and_cancel(fresh_api: RawClient) -> None:
    api = fresh_api
    workflow_id = create_workflow(api, DATA, "tiling")
    first = run_job(api, workflow_id, job_inputs(), name="first_py")
    r = api.post(f"/projects/{api.project_id}/workflows/{workflow_id}/jobs?name=second_py", json=job_inputs())
    assert r.status_code == 409
    assert error_message(r) == "Maximum number of concurrent jobs (1) reached"
    assert [j["name"] for j in api.get(f"/projects/{api.project_id}/jobs").json()["data"]] == ["first_py"]
    # Test queries do not count against the limit.
    run_job(api, workflow_id, {**job_inputs(), "config": {"mode": "DRY_RUN"}}, name="dry_py")

    advance(api, 8)  # RUNNING
    assert job_info(api, first["id"])["status"] == "RUNNING"
    r = api.post(f"/projects/{api.project_id}/jobs/{first['id']}/cancel/", json={})
    assert r.status_code == 200
    assert job_info(api, first["id"])["status"] == "CANCELLING"
    assert api.post(f"/projects/{api.project_id}/jobs/{first['id']}/cancel", json={}).status_code == 200
    r = api.post(f"/projects/{api.project_id}/workflows/{workflow_id}/jobs?name=third_py", json=job_inputs())
    assert r.status_code == 409  # still cancelling
    advance(api, 5)
    info = job_info(api, first["id"])
    assert info["status"] == "CANCELLED" and info["finishedAt"] is not None
    tasks = job_tasks(api, first["id"])
    assert [t["status"] for t in tasks] == ["CANCELLED", "CANCELLED"]
    assert "cancel" in task_log(api, first["id"], tasks[0]["id"]).lower()
    credits = api.get(f"/projects/{api.project_id}/jobs/{first['id']}/credits").json()["data"]
    assert credits["creditsUsed"] == 0

    third = run_job(api, workflow_id, job_inputs(), name="third_py")
    # Raising the project setting (E04) allows more.
    r = api.post(f"/projects/{api.project_id}/settings", json={"settings": {"MAX_CONCURRENT_JOBS": "2"}})
    assert r.status_code in (200, 201)
    run_job(api, workflow_id, job_inputs(), name="fourth_py")
    assert third["status"] == "NOT STARTED"


def test_cancel_terminal_job_is_refused(api: RawClient) -> None:
    workflow_id = create_workflow(api, DATA)
    job = run_job(api, workflow_id, job_inputs())
    wait_for(api, job["id"])
    r = api.post(f"/projects/{api.project_id}/jobs/{job['id']}/cancel/", json={})
    assert r.status_code == 409
    assert "SUCCEEDED" in error_message(r)


# -- failure triggers ------------------------------------------------------------------------------------


def test_emulator_fail_trigger(api: RawClient) -> None:
    workflow_id = create_workflow(api, DATA, "tiling")
    job = run_job(api, workflow_id, job_inputs(tile_width=768), name="nightly-emulator-fail_py")
    info = wait_for(api, job["id"])
    assert info["status"] == "FAILED"
    assert info["error"]["message"] and "tiling:1" in info["error"]["message"]
    tasks = job_tasks(api, job["id"])
    assert [t["status"] for t in tasks] == ["SUCCEEDED", "FAILED"]
    log = task_log(api, job["id"], tasks[1]["id"])
    assert "Traceback" in log and " - ERROR - " in log.splitlines()[-1]
    assert "ERROR" not in task_log(api, job["id"], tasks[0]["id"])
    # Only the task that succeeded was charged; no job results.
    base = f"/projects/{api.project_id}/jobs/{job['id']}"
    assert api.get(f"{base}/credits").json()["data"]["creditsUsed"] > 0
    assert api.get(f"{base}/outputs/data-json/").status_code == 404
    assert api.get(f"{base}/tasks/{tasks[1]['id']}/outputs/data-json/").status_code == 404
    assert api.get(f"{base}/tasks/{tasks[0]['id']}/outputs/data-json/").status_code == 200


def test_emulator_error_trigger(api: RawClient) -> None:
    workflow_id = create_workflow(api, DATA, "tiling")
    job = run_job(api, workflow_id, job_inputs(tile_width=768), name="emulator-error_py")
    info = wait_for(api, job["id"])
    assert info["status"] == "ERROR" and info["error"]["message"]
    tasks = job_tasks(api, job["id"])
    assert [t["status"] for t in tasks] == ["ERROR", "NOT STARTED"]
    assert "Traceback" in task_log(api, job["id"], tasks[0]["id"])
    assert api.get(f"/projects/{api.project_id}/jobs/{job['id']}/credits").json()["data"]["creditsUsed"] == 0
    r = api.get(f"/projects/{api.project_id}/jobs/{job['id']}/downloads/results/")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404


def test_dry_run_can_fail_too(api: RawClient) -> None:
    workflow_id = create_workflow(api, DATA)
    dry = {**job_inputs(), "config": {"mode": "DRY_RUN"}}
    job = run_job(api, workflow_id, dry, name="x-emulator-fail_py")
    info = wait_for(api, job["id"])
    assert (info["status"], info["mode"]) == ("FAILED", "DRY_RUN")


# -- validation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ({**job_inputs(), "tiling:9": {}}, "tiling:9"),
        (job_inputs(tile_width="wide"), "tile_width"),
        (job_inputs(tile_width=None), "tile_width"),
        ({f"{DATA}:1": {"time": TIME, "limit": 1}}, "intersects"),
        ({f"{DATA}:1": {"limit": 1, "intersects": OPEN_RING}}, "intersects"),
        ({f"{DATA}:1": {"limit": 1, "intersects": POINT}}, "Polygon"),
        ({f"{DATA}:1": {"limit": 1, "bbox": [13.0, 52.0, 15.0, 54.0]}}, "JOB_QUERY_MAX_AOI_SIZE"),
        ({f"{DATA}:1": {"limit": 21, "intersects": AOI}}, "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE"),
        ({f"{DATA}:1": {"time": "yesterday", "intersects": AOI}}, "time"),
        ({**job_inputs(), "config": {"mode": "FAST"}}, "mode"),
    ],
)
def test_invalid_inputs_are_rejected(api: RawClient, inputs: dict[str, Any], fragment: str) -> None:
    workflow_id = create_workflow(api, DATA, "tiling", name="validation")
    r = api.post(f"/projects/{api.project_id}/workflows/{workflow_id}/jobs?name=invalid_py", json=inputs)
    assert r.status_code == 400
    assert fragment in error_message(r)
    jobs = api.get(f"/projects/{api.project_id}/jobs", params={"sort": "createdAt,desc"}).json()["data"]
    assert all(j["workflowId"] != workflow_id for j in jobs)


def test_unknown_workflow_job_and_task(api: RawClient) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    r = api.post(f"/projects/{api.project_id}/workflows/{unknown}/jobs?name=x_py", json=job_inputs())
    assert r.status_code == 404
    empty = create_workflow(api)
    r = api.post(f"/projects/{api.project_id}/workflows/{empty}/jobs?name=x_py", json=job_inputs())
    assert r.status_code == 400
    r = api.get(f"/projects/{api.project_id}/jobs/{unknown}")
    assert r.status_code == 404 and r.json()["data"] is None
    job = run_job(api, create_workflow(api, DATA), job_inputs())
    assert api.get(f"/projects/{api.project_id}/jobs/{job['id']}/tasks/{unknown}/logs").status_code == 404
    assert api.post(f"/projects/{api.project_id}/jobs/{unknown}/cancel/", json={}).status_code == 404


# -- listing (P2) -------------------------------------------------------------------------------------------


def test_job_list_pages_until_empty(fresh_api: RawClient) -> None:
    api = fresh_api
    workflow_id = create_workflow(api, DATA)
    dry = {**job_inputs(), "config": {"mode": "DRY_RUN"}}
    created = [run_job(api, workflow_id, dry, name=f"job-{i:03d}_py")["id"] for i in range(105)]

    seen: list[dict[str, Any]] = []
    sizes = []
    for page in range(10):
        data = api.get(f"/projects/{api.project_id}/jobs?page={page}&sort=createdAt,desc").json()["data"]
        sizes.append(len(data))
        if not data:
            break
        seen.extend(data)
    assert sizes == [50, 50, 5, 0]
    assert [j["id"] for j in seen] == created[::-1]

    # No query at all: the first page, newest first (Workflow.get_jobs).
    first = api.get(f"/projects/{api.project_id}/jobs").json()["data"]
    assert [j["id"] for j in first] == created[::-1][:50]
    assert {"id", "name", "mode", "status", "workflowId", "inputs", "createdAt"} <= set(first[0])

    names = []
    for page in range(3):
        r = api.get(f"/projects/{api.project_id}/jobs", params={"page": page, "sort": "name,asc"})
        names.extend(j["name"] for j in r.json()["data"])
    assert names == sorted(names) and len(names) == 105
    r = api.get(f"/projects/{api.project_id}/jobs?page=0&sort=createdAt%2Casc")
    assert r.json()["data"][0]["id"] == created[0]
    assert api.get(f"/projects/{api.project_id}/jobs?sort=colour,asc").status_code == 400


# -- results and quicklooks ------------------------------------------------------------------------------


def test_results_archive_contains_data_json_and_real_geotiffs(api: RawClient, tmp_path: Path) -> None:
    workflow_id = create_workflow(api, DATA, "tiling")
    job = run_job(api, workflow_id, job_inputs(limit=1, tile_width=128, tile_height=128))
    assert wait_for(api, job["id"])["status"] == "SUCCEEDED"
    base = f"/projects/{api.project_id}/jobs/{job['id']}"
    result = api.get(base + "/outputs/data-json/").json()
    assert result["type"] == "FeatureCollection" and "data" not in result
    assert len(result["features"]) > 1  # several tiles
    assert api.get(base + "/outputs/data-json").json() == result

    r = api.get(base + "/downloads/results/")
    assert r.status_code == 200 and r.json()["error"] is None
    archive = download(api, r.json()["data"]["url"])
    members = {m.name for m in archive.getmembers() if m.isfile()}
    assert json.load(archive.extractfile("output/data.json")) == result
    paths = [f["properties"]["up42.data_path"] for f in result["features"]]
    assert len(set(paths)) == len(paths)
    for path in paths:
        assert f"output/{path}" in members and path.endswith(".tif")
    target = tmp_path / "tile.tif"
    target.write_bytes(archive.extractfile(f"output/{paths[0]}").read())
    with rasterio.open(target) as dataset:
        assert dataset.count >= 3 and dataset.crs is not None and dataset.width > 0

    # Per task: data.json with and without slash, and its own archive.
    tasks = job_tasks(api, job["id"])
    data_task = tasks[0]
    scenes = api.get(f"{base}/tasks/{data_task['id']}/outputs/data-json/").json()
    assert api.get(f"{base}/tasks/{data_task['id']}/outputs/data-json").json() == scenes
    assert len(scenes["features"]) == 1 and scenes["features"][0]["properties"]["collection"] == "sentinel-2"
    assert api.get(f"{base}/tasks/{tasks[1]['id']}/outputs/data-json").json() == result
    r = api.get(f"{base}/tasks/{data_task['id']}/downloads/results/")
    task_archive = download(api, r.json()["data"]["url"])
    assert json.load(task_archive.extractfile("output/data.json")) == scenes
    path = scenes["features"][0]["properties"]["up42.data_path"]
    assert f"output/{path}" in task_archive.getnames()


def test_quicklooks_of_the_data_task(api: RawClient) -> None:
    workflow_id = create_workflow(api, DATA, "tiling")
    job = run_job(api, workflow_id, job_inputs(limit=2))
    assert wait_for(api, job["id"])["status"] == "SUCCEEDED"
    base = f"/projects/{api.project_id}/jobs/{job['id']}/tasks"
    data_task, tiling_task = job_tasks(api, job["id"])
    r = api.get(f"{base}/{data_task['id']}/outputs/quicklooks/")
    assert r.status_code == 200
    names = r.json()["data"]
    assert len(names) == 2 and all(n.endswith(".png") for n in names)
    scene_ids = {
        f["properties"]["id"]
        for f in api.get(f"{base}/{data_task['id']}/outputs/data-json/").json()["features"]
    }
    assert {n.removesuffix(".png") for n in names} == scene_ids
    for name in names:
        r = api.get(f"{base}/{data_task['id']}/outputs/quicklooks/{name}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(r.content))
        image.load()
        assert image.format == "PNG" and image.size[0] > 0
    r = api.get(f"{base}/{data_task['id']}/outputs/quicklooks/missing.png")
    assert r.status_code == 404 and r.content == b""
    assert api.get(f"{base}/{tiling_task['id']}/outputs/quicklooks").json()["data"] == []


# -- lost response -------------------------------------------------------------------------------------------


def test_lost_response_on_job_creation_creates_exactly_one_job(fresh_api: RawClient) -> None:
    api = fresh_api
    workflow_id = create_workflow(api, DATA)
    api.server.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/jobs$")
    with pytest.raises(requests.exceptions.RequestException) as caught:
        api.post(
            f"/projects/{api.project_id}/workflows/{workflow_id}/jobs",
            params={"name": "lost-answer_py"},
            json=job_inputs(),
        )
    connection_errors = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    assert isinstance(caught.value, connection_errors)
    jobs = api.get(f"/projects/{api.project_id}/jobs").json()["data"]
    matching = [j for j in jobs if j["name"] == "lost-answer_py"]
    assert len(matching) == 1 and matching[0]["workflowId"] == workflow_id
    assert wait_for(api, matching[0]["id"])["status"] == "SUCCEEDED"
