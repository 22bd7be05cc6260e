"""UP42RunJobOperator: workflow from blocks, inputs, idempotent names, failures, deferral, on_kill."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import TaskDeferred

from up42_provider.operators._common import job_name
from up42_provider.operators.job import UP42RunJobOperator
from up42_provider.triggers.job import UP42JobStatusTrigger
from up42_provider.waiters import UP42JobFailedError

from .conftest import BERLIN, DATA_BLOCK, PROCESSING_BLOCK, Up42, execute, make_context, wait_for


def job(**kwargs) -> UP42RunJobOperator:
    args = {
        "task_id": "job",
        "workflow_name": "ops-unit",
        "blocks": [DATA_BLOCK, PROCESSING_BLOCK],
        "aoi": BERLIN,
        "acquisition_start": "2022-01-01",
        "acquisition_end": "2022-06-30",
        "limit": 1,
        "poll_interval": 0.1,
        "timeout": 30,
    }
    return UP42RunJobOperator(**{**args, **kwargs})


def test_runs_a_workflow_built_from_blocks(up42: Up42):
    ctx = make_context("job-blocks")
    (job_id,) = execute(job(job_parameters={f"{PROCESSING_BLOCK}:1": {"tile_width": 512}}), ctx)
    info = up42.hook.get_job(job_id)
    assert info["status"] == "SUCCEEDED" and info["mode"] == "DEFAULT"
    assert info["name"] == job_name(None, ctx) and info["name"].startswith("ops_unit.job-blocks-")
    assert info["inputs"][f"{PROCESSING_BLOCK}:1"]["tile_width"] == 512
    assert (
        info["inputs"][f"{DATA_BLOCK}:1"]["limit"] == 1 and "intersects" in info["inputs"][f"{DATA_BLOCK}:1"]
    )
    assert ctx["ti"].xcom["up42_job_ids"] == [job_id]
    workflows = [w for w in up42.hook.get_workflows() if w["name"] == "ops-unit"]
    assert len(workflows) == 1  # reused, not re-created, by the next run
    execute(job(test_job=True), make_context("job-blocks-2"))
    assert len([w for w in up42.hook.get_workflows() if w["name"] == "ops-unit"]) == 1


def test_existing_workflow_and_dry_run(up42: Up42):
    workflow = up42.hook.create_workflow("ops-unit-existing", "", use_existing=True)
    up42.hook.add_workflow_tasks(workflow["id"], [DATA_BLOCK])
    (job_id,) = execute(job(workflow_name=None, blocks=None, workflow_id=workflow["id"], test_job="true"))
    assert up42.hook.get_job(job_id)["mode"] == "DRY_RUN"


@pytest.mark.parametrize("fresh_emulator", [{"speed": 100.0}], indirect=True)
def test_lost_creation_answer_then_retry_gives_one_job(fresh_up42: Up42):
    fresh_up42.server.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/jobs$")
    ctx = make_context("lost-job")
    (first,) = execute(job(wait_for_completion=False), ctx)
    assert fresh_up42.server.state.faults.fired["lost_response"] == 1
    (retry,) = execute(job(), make_context("lost-job"))  # the retry waits for the same job
    assert retry == first and len(fresh_up42.jobs()) == 1
    assert fresh_up42.hook.get_job(first)["status"] == "SUCCEEDED"


def test_failed_job_reports_the_log_tail_and_reruns_on_retry(up42: Up42):
    ctx = make_context("failing-job")
    with pytest.raises(UP42JobFailedError, match="FAILED") as info:
        execute(job(name="emulator-fail", test_job=True), ctx)
    assert "last log lines" in str(info.value)
    failed_id = ctx["ti"].xcom["up42_job_ids"][0]
    with pytest.raises(UP42JobFailedError):  # a retry starts the job again ...
        execute(job(name="emulator-fail", test_job=True), make_context("failing-job"))
    assert len(up42.jobs(job_name("emulator-fail", ctx))) == 2
    with pytest.raises(UP42JobFailedError):  # ... unless told not to
        execute(job(name="emulator-fail", test_job=True, rerun_failed=False), make_context("failing-job"))
    assert len(up42.jobs(job_name("emulator-fail", ctx))) == 2 and failed_id


@pytest.mark.parametrize("fresh_emulator", [{"speed": 100.0}], indirect=True)
def test_max_credits_guard_starts_nothing(fresh_up42: Up42):
    balance = fresh_up42.balance
    with pytest.raises(ValueError, match="more than max_credits=1; nothing was started"):
        execute(job(max_credits=1))
    assert fresh_up42.jobs() == [] and fresh_up42.balance == balance


def test_deferral_and_resume(up42: Up42):
    op = job(deferrable=True, poll_interval=5.0)  # a real job: still running at the first check
    ctx = make_context("deferring-job")
    with pytest.raises(TaskDeferred) as deferred:
        execute(op, ctx)
    trigger = deferred.value.trigger
    assert isinstance(trigger, UP42JobStatusTrigger) and trigger.job_ids == [op.job_id]
    event = {
        "status": "success",
        "state": {"kind": "job", "statuses": {op.job_id: "SUCCEEDED"}},
        "message": "ok",
    }
    assert op.execute_complete(ctx, event=event, **deferred.value.kwargs) == [op.job_id]
    assert op.execute_complete(ctx, event=event) == [op.job_id]  # kwargs lost: the id is in the event
    with pytest.raises(UP42JobFailedError, match="task log"):
        op.execute_complete(ctx, event={**event, "status": "failure", "message": "task log"})


@pytest.mark.parametrize("fresh_emulator", [{"speed": 2.0}], indirect=True)
def test_on_kill_cancels_the_job(fresh_up42: Up42):
    op = job(wait_for_completion=False)
    (job_id,) = execute(op, make_context("killed"))
    op.on_kill()
    assert wait_for(lambda: fresh_up42.hook.get_job(job_id)["status"] in ("CANCELLING", "CANCELLED"))
    job(task_id="never-started").on_kill()  # nothing to cancel: no error


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workflow_name": None}, "Name the workflow"),
        ({"workflow_id": "wf"}, "not both"),
        ({"blocks": "tiling"}, "blocks must be a list"),
        ({"geometry_operation": "touches"}, "geometry_operation 'touches' is unknown"),
        ({"aoi": "POINT (13 52)"}, "aoi: .*Point"),
        ({"acquisition_end": None}, "acquisition_start/acquisition_end: .*together"),
        ({"limit": 0}, "limit must be a positive whole number"),
        ({"scene_ids": []}, "scene_ids is empty"),
        ({"scene_ids": "a b"}, "scene_ids 'a b' contains whitespace"),
        ({"job_parameters": ["x"]}, "job_parameters must be a dict"),
        ({"test_job": "maybe"}, "test_job must be True or False"),
    ],
)
def test_bad_input_fails_before_any_request(up42: Up42, kwargs, message):
    before = up42.requests
    with pytest.raises(ValueError, match=message):
        execute(job(**kwargs))
    assert up42.requests == before
