"""UP42RunJobOperator on today's generation: a processing job on an order's delivery, checked first."""

from __future__ import annotations

from typing import Any

import pytest

from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.operators.job import UP42RunJobOperator
from up42_provider.waiters import UP42WaitFailedError

from .conftest import execute, make_context
from .test_order_current import archive, current  # noqa: F401  (fixture)

PROCESS = "upsampling-ns"


@pytest.fixture
def delivered(current: EmulatorServer) -> list[str]:  # noqa: F811
    """One fulfilled v2 order (placed and awaited by the order operator)."""
    return execute(archive(current, count=1), make_context("deliver"))


def run_job(**kwargs: Any) -> UP42RunJobOperator:
    args: dict[str, Any] = {"task_id": "job", "process_id": PROCESS, "poll_interval": 0.1, "timeout": 120}
    return UP42RunJobOperator(**{**args, **kwargs})


def titled(hook: UP42Hook, title: str) -> list[dict[str, Any]]:
    return [j for j in hook.iter_jobs() if j.get("name") == title]


def test_job_on_an_orders_delivery_runs_once_to_success(delivered: list[str]):
    ctx = make_context("v2-job")
    (job_id,) = execute(run_job(order_ids=delivered), ctx)
    hook = UP42Hook()
    job = hook.get_job(job_id)
    assert job["generation"] == "current" and job["status"] in ("successful", "captured")
    assert job["process_id"] == PROCESS
    (item,) = hook.iter_order_items(delivered[0])
    assert job["definition"]["inputs"]["item"] in {link["href"] for link in item["links"]}
    (result,) = hook.iter_job_result_items(job)  # a STAC asset as the delivery's: typed, titled
    assert result["properties"]["up42-system:job_id"] == job_id
    assert result["assets"]["data"]["type"].startswith("image/tiff") and result["assets"]["data"]["roles"]
    assert execute(run_job(order_ids=delivered), ctx) == [job_id]  # a retried try finds its job
    assert [j["id"] for j in titled(hook, job["name"])] == [job_id]


def test_invalid_item_is_refused_before_anything_runs(delivered: list[str]):
    hook = UP42Hook()
    (item,) = hook.iter_order_items(delivered[0])
    href = next(link["href"] for link in item["links"] if link["rel"] == "self")
    missing = href.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    before = len(list(hook.iter_jobs()))
    with pytest.raises(ValueError, match="refuses these inputs, nothing ran"):
        execute(run_job(item=missing), make_context("v2-bad-item"))
    with pytest.raises(ValueError, match="needs an input"):
        execute(run_job(), make_context("v2-no-item"))
    with pytest.raises(ValueError, match="belong to the 2023 API"):
        execute(run_job(item=href, workflow_id="x"), make_context("v2-2023-args"))
    assert len(list(hook.iter_jobs())) == before


def test_failing_job_fails_the_task_with_the_reason(delivered: list[str]):
    with pytest.raises(UP42WaitFailedError, match=r"failed") as failed:
        execute(run_job(order_ids=delivered, name="emulator-fail"), make_context("v2-fail"))
    assert "ProcessingFailed: Processing failed" in str(failed.value)  # UP42's reason
