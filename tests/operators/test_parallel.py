"""UP42RunParallelJobsOperator: the concurrency limit, queueing, failure tolerance, retries."""

from __future__ import annotations

import itertools

import pytest
from airflow.sdk.exceptions import TaskDeferred

from up42_provider.operators.parallel import UP42JobsFailedError, UP42RunParallelJobsOperator
from up42_provider.triggers.job import UP42JobStatusTrigger
from up42_provider.waiters import check_jobs

from .conftest import BERLIN, DATA_BLOCK, PROCESSING_BLOCK, WASHINGTON, Up42, execute, make_context

INTERVALS = [("2022-01-01", "2022-03-31"), ("2022-04-01", "2022-06-30"), ("2022-07-01", "2022-09-30")]


def parallel(**kwargs) -> UP42RunParallelJobsOperator:
    args = {
        "task_id": "jobs",
        "workflow_name": "ops-parallel",
        "blocks": [DATA_BLOCK, PROCESSING_BLOCK],
        "aois": [BERLIN],
        "interval_dates": INTERVALS,
        "poll_interval": 0.1,
        "timeout": 60,
    }
    return UP42RunParallelJobsOperator(**{**args, **kwargs})


def assert_never_overlapping(jobs: list) -> None:
    jobs = sorted(jobs, key=lambda j: j.created_at)
    for earlier, later in itertools.pairwise(jobs):
        assert earlier.finished_at is not None and later.created_at >= earlier.finished_at


@pytest.mark.parametrize("fresh_emulator", [{"max_concurrent_jobs": 1}], indirect=True)
def test_jobs_beyond_the_project_limit_queue(fresh_up42: Up42):
    ctx = make_context("queued")
    result = execute(parallel(), ctx)
    assert len(result["job_ids"]) == 3 and result["succeeded"] == result["job_ids"] and result["failed"] == []
    jobs = fresh_up42.jobs()
    assert len(jobs) == 3 and {j.status for j in jobs} == {"SUCCEEDED"}
    assert_never_overlapping(jobs)
    assert [fresh_up42.hook.get_job(j)["name"][-2:] for j in result["job_ids"]] == ["-0", "-1", "-2"]
    inputs = [fresh_up42.hook.get_job(j)["inputs"][f"{DATA_BLOCK}:1"]["time"] for j in result["job_ids"]]
    assert [t[:10] for t in inputs] == [start for start, _ in INTERVALS]
    assert ctx["ti"].xcom["up42_job_ids"] == result["job_ids"]
    again = execute(parallel(), make_context("queued"))  # a retry after success starts nothing
    assert again["job_ids"] == result["job_ids"] and len(fresh_up42.jobs()) == 3


@pytest.mark.parametrize("fresh_emulator", [{"max_concurrent_jobs": 3}], indirect=True)
def test_a_lower_limit_of_our_own_and_deferral(fresh_up42: Up42):
    op = parallel(
        max_concurrent_jobs=2, deferrable=True, aois=[BERLIN, WASHINGTON], interval_dates=INTERVALS[:2]
    )
    ctx = make_context("deferring")
    deferrals = 0
    try:
        execute(op, ctx)
    except TaskDeferred as exc:
        deferred = exc
    while True:
        deferrals += 1
        trigger = deferred.trigger
        assert (
            isinstance(trigger, UP42JobStatusTrigger) and trigger.mode == "any" and len(trigger.job_ids) <= 2
        )
        progress = deferred.kwargs["progress"]
        assert (
            sum(fresh_up42.hook.get_job(j)["status"] not in ("SUCCEEDED",) for j in progress["jobs"].values())
            <= 2
        )
        state = wait_until_one_ends(fresh_up42, trigger.job_ids)
        event = {"status": "success", "state": state.to_dict(), "message": ""}
        fresh = UP42RunParallelJobsOperator(**{**op_kwargs(op)})
        try:
            result = fresh.execute_complete(ctx, event=event, progress=progress)
            break
        except TaskDeferred as exc:
            deferred = exc
    assert deferrals >= 2 and len(result["succeeded"]) == 4
    assert all(j.status == "SUCCEEDED" for j in fresh_up42.jobs())
    assert max_running_at_once(fresh_up42.jobs()) <= 2


def op_kwargs(op: UP42RunParallelJobsOperator) -> dict:
    return {
        "task_id": op.task_id,
        "workflow_name": "ops-parallel",
        "blocks": [DATA_BLOCK, PROCESSING_BLOCK],
        "aois": [BERLIN, WASHINGTON],
        "interval_dates": INTERVALS[:2],
        "max_concurrent_jobs": 2,
        "deferrable": True,
        "poll_interval": 0.1,
    }


def wait_until_one_ends(up42: Up42, job_ids: list[str]):
    import time

    deadline = time.monotonic() + 30
    while True:
        state = check_jobs(up42.hook, job_ids)
        if state.terminal or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def max_running_at_once(jobs: list) -> int:
    events = sorted([(j.created_at, 1) for j in jobs] + [(j.finished_at, -1) for j in jobs])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_failed_jobs_within_the_tolerance(up42: Up42):
    result = execute(
        parallel(name="emulator-fail", test_jobs=True, interval_dates=INTERVALS[:2], max_failed_jobs=2)
    )
    assert result["succeeded"] == [] and result["failed"] == result["job_ids"] and len(result["job_ids"]) == 2
    assert set(result["statuses"].values()) == {"FAILED"}


def test_too_many_failed_jobs_fail_the_task(fresh_up42: Up42):
    # A private emulator: the job count below must not see other tests' failing jobs.
    with pytest.raises(UP42JobsFailedError, match="more than max_failed_jobs=0") as info:
        execute(parallel(name="emulator-error", test_jobs=True, max_concurrent_jobs=1))
    assert "ERROR" in str(info.value)
    assert len(fresh_up42.jobs("emulator-error")) == 1  # nothing more was started after the failure


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aois": None, "interval_dates": None}, "parameter sets one way"),
        ({"job_parameters_list": [{}]}, "parameter sets one way"),
        ({"aois": BERLIN}, "aois must be a non-empty list"),
        ({"interval_dates": [("2022-01-01",)]}, r"must be \(start, end\) pairs"),
        ({"interval_dates": [("2022-02-01", "2022-01-01")]}, "swap them"),
        ({"max_concurrent_jobs": 0}, "max_concurrent_jobs must be a positive whole number"),
        ({"max_failed_jobs": -1}, "max_failed_jobs must not be negative"),
        ({"wait_for_completion": False}, "always waits"),
        ({"aois": [BERLIN, "nonsense"]}, r"aois\[1\]"),
    ],
)
def test_bad_input_fails_before_any_request(up42: Up42, kwargs, message):
    before = up42.requests
    with pytest.raises(ValueError, match=message):
        execute(parallel(**kwargs))
    assert up42.requests == before


def test_explicit_parameter_sets(up42: Up42):
    sets = [
        {
            f"{DATA_BLOCK}:1": {
                "limit": 1,
                "intersects": BERLIN,
                "time": "2022-01-01T00:00:00Z/2022-06-30T23:59:59Z",
            }
        }
    ]
    result = execute(
        parallel(
            aois=None,
            interval_dates=None,
            job_parameters_list=sets,
            test_jobs=True,
            job_parameters={f"{PROCESSING_BLOCK}:1": {"tile_width": 256}},
        )
    )
    (job_id,) = result["succeeded"]
    inputs = up42.hook.get_job(job_id)["inputs"]
    assert inputs[f"{PROCESSING_BLOCK}:1"]["tile_width"] == 256 and inputs[f"{DATA_BLOCK}:1"]["limit"] == 1
