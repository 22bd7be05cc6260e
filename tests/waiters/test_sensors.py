"""The sensors: unit checks in this process, and real DAG runs (``dag.test()``) in the Airflow worker.

DAG runs use tests/dags/wait_orders.py and wait_jobs.py; the worker records every task run and
every trigger run inline, so "never deferred" is checked directly.
"""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout, TaskDeferred

from tests.airflow_env import AirflowWorker
from up42_provider.sensors.base import parse_ids
from up42_provider.sensors.job import UP42JobSucceededSensor
from up42_provider.sensors.order import UP42OrderFulfilledSensor
from up42_provider.triggers.job import UP42JobStatusTrigger
from up42_provider.triggers.order import UP42OrderStatusTrigger
from up42_provider.waiters import WaitState

from .conftest import World

TRIGGER = "up42_provider.triggers.order.UP42OrderStatusTrigger"

# ----------------------------------------------------------------------------------- in-process


def test_ids_from_rendered_templates():
    assert parse_ids("a", "ids") == ["a"]
    assert parse_ids(["a", "b"], "ids") == ["a", "b"]
    assert parse_ids("['a', 'b']", "ids") == ["a", "b"]
    assert parse_ids('["a"]', "ids") == ["a"]
    assert parse_ids("a, b", "ids") == ["a", "b"]
    for bad in ("[oops", "[]", 42):
        with pytest.raises(ValueError):
            parse_ids(bad, "ids")


def test_deferrable_default_comes_from_the_config(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert UP42OrderFulfilledSensor(task_id="a", order_ids="x").deferrable is True
    assert UP42OrderFulfilledSensor(task_id="b", order_ids="x", deferrable=False).deferrable is False
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    sensor = UP42JobSucceededSensor(task_id="c", job_ids="x", poll_interval=7)
    assert sensor.deferrable is False and sensor.poke_interval == 7 and sensor.template_fields == ("job_ids",)


def test_defers_with_the_timeout_as_end_time(frozen_world: World):
    order = frozen_world.order()
    sensor = UP42OrderFulfilledSensor(
        task_id="w", order_ids=[order], deferrable=True, poll_interval=5, timeout=100
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, UP42OrderStatusTrigger) and trigger.order_ids == [order]
    assert before + 100 <= trigger.end_time <= time.time() + 100
    assert trigger.poll_interval == 5 and trigger.mode == "all"
    assert info.value.method_name == "execute_complete"
    assert info.value.timeout.total_seconds() > 100  # Airflow's own limit only backs the trigger up


def test_execute_complete_maps_events():
    sensor = UP42JobSucceededSensor(task_id="w", job_ids="j", timeout=5)
    done = WaitState.build("job", {"j": "SUCCEEDED"})
    assert (
        sensor.execute_complete({}, {"status": "success", "state": done.to_dict(), "message": "ok"})
        == done.to_dict()
    )
    with pytest.raises(AirflowFailException, match="job j is FAILED: boom"):
        sensor.execute_complete({}, {"status": "failure", "state": None, "message": "job j is FAILED: boom"})
    with pytest.raises(AirflowSensorTimeout, match="still running"):
        sensor.execute_complete({}, {"status": "timeout", "state": None, "message": "still running"})
    with pytest.raises(AirflowException, match="not found"):
        sensor.execute_complete({}, {"status": "error", "state": None, "message": "not found"})
    assert isinstance(UP42JobSucceededSensor.trigger_class("j"), UP42JobStatusTrigger)


def test_poke_tolerates_outages(frozen_world: World, monkeypatch: pytest.MonkeyPatch):
    order = frozen_world.order()
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", frozen_world.server.airflow_connection(max_attempts=1))
    sensor = UP42OrderFulfilledSensor(task_id="w", order_ids=order)
    frozen_world.server.state.faults.add_rule("error", count=1, path="/orders/")
    assert sensor.poke({}) is False  # 5xx: not done, try again
    assert sensor.poke({}) is False  # PLACED
    frozen_world.advance()
    frozen_world.wait_until(lambda: frozen_world.order_status(order) == "FULFILLED")
    assert sensor.poke({}).xcom_value["succeeded"] == [order]


# -------------------------------------------------------------------------------- real DAG runs


def run(worker: AirflowWorker, world: World, dag_id: str, **conf) -> object:
    result = worker.run_dag(dag_id, conf=conf, env=world.env())
    assert result.error is None, result.log[-3000:]
    return result


def test_order_deferrable_defers_then_succeeds(airflow_worker: AirflowWorker, frozen_world: World):
    ids = frozen_world.orders(2)
    with frozen_world.advance_after_requests(1):  # after the sensor's first check
        result = run(airflow_worker, frozen_world, "wait_order_deferrable", order_ids=ids)
    assert result.state == "success", result.log[-3000:]
    assert [t["classpath"] for t in result.triggers] == [TRIGGER]
    trigger = result.triggers[0]
    assert trigger["kwargs"]["order_ids"] == ids and trigger["kwargs"]["end_time"] > time.time()
    assert trigger["event"]["status"] == "success"
    assert result.xcom["wait"]["succeeded"] == ids


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
    with frozen_world.advance_after_requests(1, delay=0.5):
        result = run(airflow_worker, frozen_world, "wait_order_poke", order_ids=ids)
    assert result.state == "success" and result.triggers == []
    assert result.xcom["wait"]["succeeded"] == ids


def test_order_reschedule_mode(airflow_worker: AirflowWorker, frozen_world: World):
    order = frozen_world.order()
    with frozen_world.advance_after_requests(1):
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
