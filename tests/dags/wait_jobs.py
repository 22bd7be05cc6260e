"""Test DAGs: wait for UP42 jobs given in the run conf (``{"job_ids": [...]}``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from up42_provider.sensors.job import UP42JobSucceededSensor

JOB_IDS = "{{ dag_run.conf['job_ids'] }}"


def _dag(dag_id: str, **sensor: Any) -> DAG:
    with DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        render_template_as_native_obj=True,
        tags=["up42", "tests"],
    ) as dag:
        UP42JobSucceededSensor(task_id="wait", job_ids=JOB_IDS, poll_interval=0.3, **sensor)
    return dag


wait_job_deferrable = _dag("wait_job_deferrable", deferrable=True, timeout=60)
wait_job_poke = _dag("wait_job_poke", deferrable=False, mode="poke", timeout=60)
wait_job_timeout_deferrable = _dag("wait_job_timeout_deferrable", deferrable=True, timeout=1.5)
