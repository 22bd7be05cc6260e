"""Workflows and jobs through the hook: workflow CRUD and tasks, estimates, idempotent job runs,
job listing (P2), job/task outputs and the async twins used by triggers."""

from __future__ import annotations

import json

import pytest

from up42_provider import status
from up42_provider.api.errors import UP42NotFoundError, UP42ValidationError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.utils.geometry import example_aoi

from .conftest import api_calls, wait_for

DATA_BLOCK, PROCESSING_BLOCK = "esa-s2-l2a-gtiff-visual", "tiling"


def make_workflow(hook: UP42Hook, name: str = "hook-workflow") -> tuple[str, dict]:
    workflow = hook.create_workflow(name, "made by the hook tests", use_existing=False)
    hook.add_workflow_tasks(workflow["id"], [DATA_BLOCK, PROCESSING_BLOCK])
    inputs = hook.construct_job_parameters(
        workflow["id"],
        geometry=example_aoi("Berlin"),
        geometry_operation="intersects",
        start_date="2022-01-01",
        end_date="2022-06-30",
        limit=1,
    )
    return workflow["id"], inputs


def finished(hook: UP42Hook, job_id: str) -> dict:
    def check() -> dict | None:
        job = hook.get_job(job_id)
        return job if status.is_job_terminal(job["status"]) else None

    return wait_for(check)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- workflows


def test_workflow_crud(fresh_hook: UP42Hook):
    created = fresh_hook.create_workflow("crud", "first")
    assert fresh_hook.create_workflow("crud", "first")["id"] == created["id"]  # use_existing (default)
    other = fresh_hook.create_workflow("crud", "first", use_existing=False)
    assert other["id"] != created["id"]
    assert fresh_hook.create_workflow("crud", "second")["id"] not in (created["id"], other["id"])
    assert len(fresh_hook.get_workflows()) == 3
    fresh_hook.update_workflow(created["id"], name="renamed")
    workflow = fresh_hook.get_workflow(created["id"])
    assert (workflow["name"], workflow["description"]) == ("renamed", "first")
    fresh_hook.delete_workflow(created["id"])
    with pytest.raises(UP42NotFoundError):
        fresh_hook.get_workflow(created["id"])
    with pytest.raises(ValueError, match="a workflow needs a name"):
        fresh_hook.create_workflow(" ")


def test_workflow_creation_survives_a_lost_response(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    fresh_emulator.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/workflows/?$")
    created = fresh_hook.create_workflow("lost-wf", "x", use_existing=False)
    assert fresh_emulator.state.faults.fired["lost_response"] == 1
    assert [w["id"] for w in fresh_hook.get_workflows()] == [created["id"]]


def test_workflow_tasks_and_compatibility(hook: UP42Hook):
    workflow = hook.create_workflow("tasks", "compat", use_existing=False)
    data_blocks = hook.get_compatible_blocks(workflow["id"])  # empty workflow: the data blocks
    assert DATA_BLOCK in data_blocks and PROCESSING_BLOCK not in data_blocks
    display = next(b["displayName"] for b in hook.get_blocks() if b["name"] == DATA_BLOCK)
    sent = hook.add_workflow_tasks(workflow["id"], [display, PROCESSING_BLOCK, PROCESSING_BLOCK])
    assert [t["name"] for t in sent] == [f"{DATA_BLOCK}:1", "tiling:1", "tiling:2"]
    assert [t["parentName"] for t in sent] == [None, f"{DATA_BLOCK}:1", "tiling:1"]
    tasks = hook.get_workflow_tasks(workflow["id"])
    assert [t["name"] for t in tasks] == [t["name"] for t in sent]
    after_tiling = hook.get_compatible_blocks(workflow["id"])  # E44 for the last task, tiling:2
    assert after_tiling and DATA_BLOCK not in after_tiling
    info = hook.get_parameters_info(workflow["id"])
    assert set(info) == {f"{DATA_BLOCK}:1", "tiling:1", "tiling:2"} and "time" in info[f"{DATA_BLOCK}:1"]
    hook.add_workflow_tasks(
        workflow["id"], [{"name": f"{DATA_BLOCK}:1", "parentName": None, "blockId": DATA_BLOCK}]
    )
    assert len(hook.get_workflow_tasks(workflow["id"])) == 1
    with pytest.raises(ValueError, match="is not a public UP42 block"):
        hook.add_workflow_tasks(workflow["id"], ["no-such-block"])
    with pytest.raises(ValueError, match="input_tasks is empty"):
        hook.add_workflow_tasks(workflow["id"], [])
    with pytest.raises(UP42ValidationError):
        hook.add_workflow_tasks(workflow["id"], [PROCESSING_BLOCK])  # a chain must start with data


def test_estimate_job(hook: UP42Hook):
    workflow_id, inputs = make_workflow(hook, "estimate")
    estimate = hook.estimate_job(workflow_id, inputs)
    assert set(estimate) == {f"{DATA_BLOCK}:1", "tiling:1"}
    assert estimate["tiling:1"]["machineConsumption"]["credit"]["min"] >= 0
    with pytest.raises(ValueError, match="has no tasks"):
        hook.estimate_job(hook.create_workflow("empty", "", use_existing=False)["id"], inputs)


def test_parallel_job_parameters(hook: UP42Hook):
    workflow_id, _ = make_workflow(hook, "parallel")
    inputs = hook.construct_job_parameters_parallel(
        workflow_id,
        geometries=[example_aoi("Berlin"), [13.0, 52.3, 13.1, 52.4]],
        interval_dates=[("2022-01-01", "2022-01-31"), ("2022-02-01", "2022-02-28")],
    )
    assert len(inputs) == 4 and all(i[f"{DATA_BLOCK}:1"]["limit"] == 1 for i in inputs)


# --------------------------------------------------------------------------------------------- jobs


def test_job_run_and_outputs(hook: UP42Hook, tmp_path):
    workflow_id, inputs = make_workflow(hook, "outputs")
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(inputs))
    job = hook.run_job(workflow_id, path, name="hook-outputs-job")
    assert job["name"] == "hook-outputs-job" and job["mode"] == "DEFAULT" and job["workflowId"] == workflow_id
    done = finished(hook, job["id"])
    assert status.classify_job_status(done["status"]) == "success"
    tasks = hook.get_job_tasks(job["id"])
    assert [t["name"] for t in tasks] == [f"{DATA_BLOCK}:1", "tiling:1"]
    first = tasks[0]["id"]
    assert hook.get_job_task(job["id"], first)["id"] == first
    with pytest.raises(UP42NotFoundError, match="has no task"):
        hook.get_job_task(job["id"], "nope")
    assert "Starting job task" in hook.get_job_task_logs(job["id"], first)
    assert set(hook.get_job_logs(job["id"])) == {t["id"] for t in tasks}
    results = hook.get_job_results_json(job["id"])
    assert results["type"] == "FeatureCollection" and results["features"]
    per_task = hook.get_job_tasks_results_json(job["id"])
    assert set(per_task) == {t["id"] for t in tasks}
    assert hook.get_job_task_results_json(job["id"], first)["type"] == "FeatureCollection"
    assert ".tgz" in hook.get_job_results_url(job["id"])
    assert hook.get_job_task_results_url(job["id"], first).startswith("http")
    quicklooks = hook.get_job_task_quicklooks(job["id"], first)
    assert quicklooks
    image = hook.download_job_task_quicklook(job["id"], first, quicklooks[0])
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    assert hook.get_job_credits(job["id"])["creditsUsed"] > 0


async def test_async_twins(hook: UP42Hook):
    workflow_id, inputs = make_workflow(hook, "async")
    job = hook.run_job(workflow_id, inputs, name="hook-async-job", dry_run=True)
    finished(hook, job["id"])
    fetched = await hook.aget_job(job["id"])
    assert fetched["id"] == job["id"] and fetched["mode"] == "DRY_RUN"
    tasks = await hook.aget_job_tasks(job["id"])
    assert [t["id"] for t in tasks] == [t["id"] for t in hook.get_job_tasks(job["id"])]
    log = await hook.aget_job_task_logs(job["id"], tasks[0]["id"])
    assert log == hook.get_job_task_logs(job["id"], tasks[0]["id"])
    with pytest.raises(UP42NotFoundError):
        await hook.aget_job("00000000-0000-0000-0000-000000000000")
    await hook.aclose()


def test_failing_job(hook: UP42Hook):
    workflow_id, inputs = make_workflow(hook, "failing")
    job = hook.run_job(workflow_id, inputs, name="hook-emulator-fail")
    done = finished(hook, job["id"])
    assert done["status"] == "FAILED" and status.classify_job_status(done["status"]) == "failure"
    assert any("Traceback" in log for log in hook.get_job_logs(job["id"]).values())


@pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0}], indirect=True)
def test_cancel_job(fresh_hook: UP42Hook):
    workflow_id, inputs = make_workflow(fresh_hook, "cancel")
    job = fresh_hook.run_job(workflow_id, inputs, name="hook-cancel")
    fresh_hook.cancel_job(job["id"])
    assert fresh_hook.get_job(job["id"])["status"] in ("CANCELLING", "CANCELLED")
    assert status.classify_job_status(fresh_hook.get_job(job["id"])["status"]) == "failure"


def test_job_input_validation_before_any_request(hook: UP42Hook, emulator: EmulatorServer):
    workflow_id, inputs = make_workflow(hook, "validation")
    bad = json.loads(json.dumps(inputs))
    bad[f"{DATA_BLOCK}:1"]["intersects"] = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
    }
    before = api_calls(emulator, hook)
    with pytest.raises(ValueError, match="AOI polygon is invalid"):
        hook.run_job(workflow_id, bad, name="never")
    with pytest.raises(ValueError, match="needs a job name"):
        hook.run_job(workflow_id, inputs, name="")
    with pytest.raises(ValueError, match="non-empty dict"):
        hook.run_job(workflow_id, {}, name="x")
    with pytest.raises(ValueError, match="neither a dict nor an existing JSON file"):
        hook.run_job(workflow_id, "/no/such/inputs.json", name="x")
    assert api_calls(emulator, hook) == before
    with pytest.raises(UP42NotFoundError):
        hook.get_job("00000000-0000-0000-0000-000000000000")


def test_job_creation_survives_a_lost_response(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    workflow_id, inputs = make_workflow(fresh_hook, "lost-job")
    fresh_emulator.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/jobs$")
    job = fresh_hook.run_job(workflow_id, inputs, name="lost-job-1")
    assert fresh_emulator.state.faults.fired["lost_response"] == 1
    same_name = [j for j in fresh_hook.get_jobs() if j["name"] == "lost-job-1"]
    assert [j["id"] for j in same_name] == [job["id"]]


def test_job_reuse_existing_and_distinct_names(fresh_hook: UP42Hook):
    workflow_id, inputs = make_workflow(fresh_hook, "reuse")
    first = fresh_hook.run_job(workflow_id, inputs, name="daily", dry_run=True, reuse_existing=True)
    again = fresh_hook.run_job(workflow_id, inputs, name="daily", dry_run=True, reuse_existing=True)
    assert first["id"] == again["id"]
    other = fresh_hook.run_job(workflow_id, inputs, name="daily", dry_run=True)
    assert other["id"] != first["id"]


def test_job_list_pages_and_filters(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    workflow_id, inputs = make_workflow(fresh_hook, "listing")
    other_workflow, _ = make_workflow(fresh_hook, "listing-2")
    ids = [
        fresh_hook.run_job(workflow_id, inputs, name=f"list-{i:02d}", dry_run=True)["id"] for i in range(53)
    ]
    real = fresh_hook.run_job(workflow_id, inputs, name="list-real")
    before = api_calls(fresh_emulator, fresh_hook)
    everything = fresh_hook.get_jobs(limit=None)
    assert api_calls(fresh_emulator, fresh_hook) - before == 3  # 50 + 4 + an empty page
    assert [j["id"] for j in everything] == [real["id"], *ids[::-1]]  # newest first
    assert len(fresh_hook.get_jobs(limit=10)) == 10
    before = api_calls(fresh_emulator, fresh_hook)
    assert next(fresh_hook.iter_jobs(workflow_id=workflow_id))["id"] == real["id"]
    assert api_calls(fresh_emulator, fresh_hook) - before == 1  # lazy: one page
    assert [j["id"] for j in fresh_hook.get_jobs(test_jobs=False)] == [real["id"]]
    assert len(fresh_hook.get_jobs(real_jobs=False, limit=None)) == 53
    assert fresh_hook.get_jobs(workflow_id=other_workflow) == []
    by_name = fresh_hook.get_jobs(sortby="name", descending=False, limit=3)
    assert [j["name"] for j in by_name] == ["list-00", "list-01", "list-02"]
    with pytest.raises(ValueError, match="sortby 'size' is not sortable"):
        fresh_hook.get_jobs(sortby="size")
