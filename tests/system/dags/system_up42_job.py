"""System test DAG: workflow (Sentinel-2 + sharpening) -> job -> deferred wait until SUCCEEDED -> results.

The job name carries the run id: UP42Hook.run_job is idempotent by name, so a task retry reuses the job.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, get_current_context, task

from up42_provider.sensors.job import UP42JobSucceededSensor

AOI = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.51], [13.41, 52.51], [13.41, 52.53], [13.37, 52.53], [13.37, 52.51]]],
}


@dag(dag_id="system_up42_job", schedule=None, catchup=False, tags=["system-test", "up42"])
def system_up42_job():
    @task
    def run_job() -> str:
        from up42_provider.hooks.up42 import UP42Hook

        hook = UP42Hook()
        workflow = hook.create_workflow("system-test-s2-sharpening", "Airflow system test", use_existing=True)
        hook.add_workflow_tasks(workflow["id"], ["esa-s2-l2a-gtiff-visual", "sharpening"])
        inputs = hook.construct_job_parameters(
            workflow["id"],
            geometry=AOI,
            geometry_operation="intersects",
            start_date="2023-05-01",
            end_date="2023-08-31",
            limit=1,
        )
        run_id = get_current_context()["run_id"]
        job = hook.run_job(workflow["id"], inputs, name=f"system-{run_id}", reuse_existing=True)
        return job["id"]

    job_id = run_job()

    wait = UP42JobSucceededSensor(
        task_id="wait_for_job",
        job_ids="{{ ti.xcom_pull(task_ids='run_job') }}",
        deferrable=True,
        poll_interval=3,
        timeout=900,
    )

    @task
    def check_job(job_id: str, state: dict[str, Any]) -> int:
        from up42_provider.hooks.up42 import UP42Hook

        hook = UP42Hook()
        job = hook.get_job(job_id)
        if job["status"] != "SUCCEEDED" or state["statuses"].get(job_id) != "SUCCEEDED":
            raise ValueError(f"job {job_id} is {job['status']}; sensor saw {state}")
        features = hook.get_job_results_json(job_id).get("features") or []
        if not features:
            raise ValueError(f"job {job_id} returned no result features")
        return len(features)

    job_id >> wait
    check_job(job_id, wait.output)


system_up42_job()
