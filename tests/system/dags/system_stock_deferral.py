"""Baseline of the system test: a stock deferrable sensor, independent of the UP42 provider.

When this DAG fails too, the topology is at fault, not the provider."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.sensors.time_delta import WaitSensor
from airflow.sdk import dag, task


@dag(dag_id="system_stock_deferral", schedule=None, catchup=False, tags=["system-test"])
def system_stock_deferral():
    @task
    def start() -> str:
        return "started"

    # Measured from the sensor's start (not the run's), so it defers however busy the machine is.
    wait = WaitSensor(task_id="wait", time_to_wait=timedelta(seconds=20), deferrable=True, timeout=600)

    @task
    def finish() -> str:
        return "finished"

    start() >> wait >> finish()


system_stock_deferral()
