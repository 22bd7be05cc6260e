"""Baseline for the system test: a stock deferrable sensor, independent of the UP42 provider."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import dag, task


@dag(dag_id="system_stock_deferral", schedule=None, catchup=False, tags=["system-test"])
def system_stock_deferral():
    @task
    def start() -> str:
        return "started"

    wait = TimeDeltaSensor(task_id="wait", delta=timedelta(seconds=30), deferrable=True, timeout=600)

    @task
    def finish() -> str:
        return "finished"

    start() >> wait >> finish()


system_stock_deferral()
