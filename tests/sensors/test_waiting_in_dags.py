"""Real DAG runs (``dag.test()``) of the sensors in the session's Airflow worker (tests/airflow_env.py).

DAGs: tests/dags/wait_orders.py and wait_jobs.py. The worker records every task run and every trigger
run inline, so "never deferred" is checked directly. (This module sorts after the in-process tests,
which run while the worker boots.)
"""

from __future__ import annotations

import re
import time

import pytest

from tests.airflow_env import AirflowWorker, DagTestResult
from tests.conftest import World

TRIGGER = "up42_provider.triggers.order.UP42OrderStatusTrigger"


def run(worker: AirflowWorker, world: World, dag_id: str, **conf: object) -> DagTestResult:
    result = worker.run_dag(dag_id, conf=conf, env=world.env())
    assert result.error is None, result.log[-3000:]
    return result


def test_order_deferrable_defers_then_succeeds(airflow_worker: AirflowWorker, frozen_world: World):
    ids = frozen_world.orders(2)
    with frozen_world.advance_after_requests(3):  # token, project, then the sensor's first check
        result = run(airflow_worker, frozen_world, "wait_order_deferrable", order_ids=ids)
    assert result.state == "success", result.log[-3000:]
    assert [t["classpath"] for t in result.triggers] == [TRIGGER]
    trigger = result.triggers[0]
    assert trigger["kwargs"]["order_ids"] == ids and trigger["kwargs"]["end_time"] > time.time()
    assert trigger["event"]["status"] == "success"
    assert result.xcom["wait"]["succeeded"] == ids
    for order in ids:  # the trigger's status lines reach the task log, FULFILLED exactly once
        assert len(re.findall(rf"UP42 order {order} (?:is|changed: \S+ ->) FULFILLED", result.log)) == 1


def test_already_fulfilled_never_defers(airflow_worker: AirflowWorker, frozen_world: World):
    order = frozen_world.order()
    frozen_world.advance()
    frozen_world.wait_until(lambda: frozen_world.order_status(order) == "FULFILLED")
    result = run(airflow_worker, frozen_world, "wait_order_deferrable", order_ids=[order])
    assert result.state == "success"
    assert result.triggers == [] and not result.deferred("wait")
    assert [r["state"] for r in result.runs["wait"]] == ["success"]
    assert result.xcom["wait"]["statuses"] == {order: "FULFILLED"}


def test_order_poke_mode_with_rendered_list(airflow_worker: AirflowWorker, frozen_world: World):
    ids = frozen_world.orders(3)
    with frozen_world.advance_after_requests(3, delay=0.5):
        result = run(airflow_worker, frozen_world, "wait_order_poke", order_ids=ids)
    assert result.state == "success" and result.triggers == []
    assert result.xcom["wait"]["succeeded"] == ids


def test_order_reschedule_mode(airflow_worker: AirflowWorker, frozen_world: World):
    order = frozen_world.order()
    with frozen_world.advance_after_requests(3):
        result = run(airflow_worker, frozen_world, "wait_order_reschedule", order_ids=[order])
    assert result.state == "success" and result.triggers == []
    states = [r["state"] for r in result.runs["wait"]]
    assert states[0] == "up_for_reschedule" and states[-1] == "success"


@pytest.mark.parametrize("dag_id", ["wait_order_deferrable", "wait_order_poke"])
def test_failed_order_fails_the_task_with_the_status(
    airflow_worker: AirflowWorker, world: World, dag_id: str
):
    good, bad = world.order(), world.order(fail=True)
    result = run(airflow_worker, world, dag_id, order_ids=[good, bad])
    assert result.state == "failed" and result.tasks == {"wait": "failed"}
    (error,) = result.errors("wait")
    assert f"order {bad} is FAILED" in error
    assert result.runs["wait"][-1]["error_type"] == "AirflowFailException"  # no retries: it is final


def test_job_deferrable_success_and_failure_with_log_tail(airflow_worker: AirflowWorker, world: World):
    jobs = [world.job(), world.job()]
    ok = run(airflow_worker, world, "wait_job_deferrable", job_ids=jobs)
    assert ok.state == "success" and ok.xcom["wait"]["succeeded"] == jobs
    bad = world.job(fail=True, dry_run=False)
    failed = run(airflow_worker, world, "wait_job_deferrable", job_ids=[bad])
    assert failed.state == "failed"
    (error,) = failed.errors("wait")
    assert f"job {bad}" in error and "FAILED" in error and "Traceback" in error


def test_job_poke_mode(airflow_worker: AirflowWorker, world: World):
    job = world.job()
    result = run(airflow_worker, world, "wait_job_poke", job_ids=job)
    assert result.state == "success" and result.triggers == []


@pytest.mark.parametrize(
    ("dag_id", "conf_key", "deferred"),
    [
        ("wait_order_timeout_deferrable", "order_ids", True),
        ("wait_order_timeout_poke", "order_ids", False),
        ("wait_job_timeout_deferrable", "job_ids", True),
    ],
)
def test_timeouts(
    airflow_worker: AirflowWorker, frozen_world: World, dag_id: str, conf_key: str, deferred: bool
):
    item = frozen_world.order() if conf_key == "order_ids" else frozen_world.job(dry_run=False)
    started = time.monotonic()
    result = run(airflow_worker, frozen_world, dag_id, **{conf_key: [item]})
    assert result.state == "failed"
    assert result.runs["wait"][-1]["error_type"] == "AirflowSensorTimeout"
    assert result.deferred("wait") is deferred
    if deferred:
        assert result.triggers[0]["event"]["status"] == "timeout" and item in result.errors("wait")[0]
    assert time.monotonic() - started < 30
