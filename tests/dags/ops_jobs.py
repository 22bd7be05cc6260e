"""Test DAGs of the OPS workstream: single and parallel UP42 jobs, parametrised by the run conf."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from up42_provider.operators.job import UP42RunJobOperator
from up42_provider.operators.parallel import UP42RunParallelJobsOperator

POLL = 0.2
BLOCKS = ["esa-s2-l2a-gtiff-visual", "tiling"]


def _get(key: str, default: str = "None") -> str:
    return "{{ dag_run.conf.get('" + key + "', " + default + ") }}"


def _dag(dag_id: str) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        render_template_as_native_obj=True,
        tags=["up42", "tests"],
    )


def _job_args() -> dict[str, Any]:
    return {
        "workflow_name": _get("workflow_name", "'ops-tests'"),
        "blocks": BLOCKS,
        "acquisition_start": _get("acquisition_start", "'2022-01-01'"),
        "acquisition_end": _get("acquisition_end", "'2022-06-30'"),
        "limit": 1,
        "name": _get("name"),
        "poll_interval": POLL,
    }


def _job(dag_id: str, **extra: Any) -> DAG:
    with _dag(dag_id) as dag:
        job = UP42RunJobOperator(
            task_id="job", aoi=_get("aoi"), test_job=_get("test_job", "True"), **{**_job_args(), **extra}
        )
        job >> links()
    return dag


@task
def links(**context: Any) -> dict[str, Any]:
    ti = context["ti"]
    return {
        "url": ti.xcom_pull(task_ids="job", key="_link_UP42JobLink"),
        "job_ids": ti.xcom_pull(task_ids="job", key="up42_job_ids"),
    }


ops_job = _job("ops_job", deferrable=False, timeout=60)
ops_job_deferrable = _job("ops_job_deferrable", deferrable=True, timeout=60)
ops_job_no_wait = _job("ops_job_no_wait", wait_for_completion=False)
# A try times out after 1 s while the (slow) job still runs; retries re-attach to it.
ops_job_retry = _job("ops_job_retry", timeout=1.0, retries=15, retry_delay=timedelta(seconds=0))


@task
def aois(**context: Any) -> list[Any]:
    return list(context["dag_run"].conf["aois"])


@task
def collect(job_ids: list[list[str]]) -> list[str]:
    from up42_provider.utils.ids import parse_ids

    return parse_ids(job_ids, name="job_ids")  # each mapped task returned its list of one id


with _dag("ops_job_mapped") as ops_job_mapped:
    mapped = UP42RunJobOperator.partial(
        task_id="job", test_job=True, deferrable=True, timeout=60, **_job_args()
    )
    collect(mapped.expand(aoi=aois()).output)


def _parallel(dag_id: str, **extra: Any) -> DAG:
    with _dag(dag_id) as dag:
        UP42RunParallelJobsOperator(
            task_id="jobs",
            workflow_name=_get("workflow_name", "'ops-tests'"),
            blocks=BLOCKS,
            aois=_get("aois"),
            interval_dates=_get("interval_dates"),
            max_concurrent_jobs=_get("max_concurrent_jobs"),
            max_failed_jobs=_get("max_failed_jobs", "0"),
            name=_get("name"),
            test_jobs=_get("test_jobs", "False"),
            poll_interval=POLL,
            timeout=120,
            **extra,
        )
    return dag


ops_parallel = _parallel("ops_parallel", deferrable=False)
ops_parallel_deferrable = _parallel("ops_parallel_deferrable", deferrable=True)
