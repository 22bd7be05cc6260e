"""The sensors in this process: ids from templates, the deferrable default, deferral with end_time,
events mapped onto Airflow exceptions, pokes through outages. Real DAG runs: test_waiting_in_dags.py."""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout, TaskDeferred

from tests.conftest import World
from up42_provider.sensors.job import UP42JobSucceededSensor
from up42_provider.sensors.order import UP42OrderFulfilledSensor
from up42_provider.triggers.order import UP42OrderStatusTrigger
from up42_provider.waiters import WaitState

# ----------------------------------------------------------------------------------- in-process


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
