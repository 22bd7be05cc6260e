"""UP42RunParallelJobsOperator on today's generation: one processing job per delivered item, bounded."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from up42_provider.hooks._shapes import parse_time
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.operators.parallel import UP42JobsFailedError, UP42RunParallelJobsOperator

from .conftest import execute, make_context
from .test_job_current import PROCESS
from .test_order_current import archive, current  # noqa: F401  (fixture)


@pytest.fixture
def three_orders(current) -> list[str]:  # noqa: F811
    return execute(archive(current, count=3), make_context("deliver-3"))


def parallel(**kwargs: Any) -> UP42RunParallelJobsOperator:
    args: dict[str, Any] = {"task_id": "jobs", "process_id": PROCESS, "poll_interval": 0.1, "timeout": 180}
    return UP42RunParallelJobsOperator(**{**args, **kwargs})


def test_one_job_per_item_at_most_two_at_a_time(three_orders: list[str]):
    ctx = make_context("v2-parallel")
    result = execute(parallel(order_ids=three_orders, max_concurrent_jobs=2), ctx)
    assert len(result["job_ids"]) == 3 and result["succeeded"] == result["job_ids"] and not result["failed"]
    hook = UP42Hook()
    jobs = sorted((hook.get_job(j) for j in result["job_ids"]), key=lambda j: parse_time(j["created_at"]))
    inputs = {j["definition"]["inputs"]["item"] for j in jobs}
    assert len(inputs) == 3  # each delivered item once
    # The third job started only after one of the first two had ended.
    first_done = min(parse_time(j["finished_at"]) for j in jobs[:2])
    assert parse_time(jobs[2]["created_at"]) >= first_done
    again = execute(parallel(order_ids=three_orders, max_concurrent_jobs=2), ctx)
    assert again["job_ids"] == result["job_ids"]  # a retried try starts nothing new
    assert len(list(hook.iter_jobs(process_ids=[PROCESS]))) == 3


def test_max_credits_prices_every_job_before_the_first_starts(three_orders: list[str]):
    hook = UP42Hook()
    before = len(list(hook.iter_jobs(process_ids=[PROCESS])))
    with pytest.raises(AirflowFailException, match=r"The 3 job\(s\) would cost .* more than max_credits=1;"):
        execute(parallel(order_ids=three_orders, max_credits=1), make_context("v2-par-credits"))
    assert len(list(hook.iter_jobs(process_ids=[PROCESS]))) == before  # nothing started
    result = execute(parallel(order_ids=three_orders, max_credits=100_000), make_context("v2-par-credits-ok"))
    assert len(result["succeeded"]) == 3


def test_failures_beyond_max_failed_jobs_fail_the_task(three_orders: list[str]):
    with pytest.raises(UP42JobsFailedError, match="more than max_failed_jobs=0"):
        execute(parallel(order_ids=three_orders[:1], name="emulator-fail"), make_context("v2-par-fail"))


def test_todays_connection_refuses_2023_arguments(current):  # noqa: F811
    with pytest.raises(ValueError, match="belong to the 2023 API"):
        execute(parallel(order_ids=["x"], blocks=["tiling"]), make_context("v2-par-args"))
    with pytest.raises(ValueError, match=r"items \(storage STAC items or hrefs\) or order_ids"):
        execute(parallel(), make_context("v2-par-none"))
