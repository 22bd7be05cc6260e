"""A no-op DAG: the dag.test worker (tests/airflow_env.py) runs it once while booting, so the first
real test does not pay for the bundle sync and the in-process execution API."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(
    "wait_warm_up", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["tests"]
) as dag:

    @task
    def noop() -> None:
        return None

    noop()
