"""Fan out UP42 processing over many AOIs x periods - two ways - and collect the results.

Every (AOI, period) pair becomes one UP42 job of the same workflow (``blocks``, data block first). UP42
runs at most ``MAX_CONCURRENT_JOBS`` jobs of a project at a time (a project setting, often 3-10) and
refuses more with HTTP 409, so how the fan-out respects that limit matters:

1. ``run_parallel_jobs`` - one task, :class:`UP42RunParallelJobsOperator`: builds the job inputs of all
   pairs (``aois`` x ``periods``, ``limit_per_job`` scenes each), starts as many jobs as the project allows
   (or ``max_concurrent_jobs``), and - deferrable - waits in the triggerer until one ends, starts the next
   queued one, and so on. One task instance, one retry unit, the limit is never hit. Then
   ``download_parallel_results`` downloads every succeeded job's results to
   ``<output_folder>/parallel/job_<id>/`` with a merged ``data.json`` (each feature tagged with its
   ``job_id``) and renders them (``plots/parallel.png``, ``plots/parallel.html``).
2. ``job_inputs`` + ``run_mapped_job`` - Airflow dynamic task mapping:
   ``UP42RunJobOperator.partial(...).expand_kwargs(job_inputs())``, one mapped task instance (and one
   deferrable wait) per pair, each visible, retried and cleared on its own in the grid view.
   ``max_active_tis_per_dagrun`` keeps it below the project's limit; if other jobs of the project hold
   the slots, a refused start fails the try and the task's retries try again later. Then
   ``download_mapped_results`` collects all of them to ``<output_folder>/mapped/``.

The two parts run one after the other so that they do not compete for the project's job slots. Every
job is started exactly once per run and task instance (names derived from the run and the map index).
Outputs default to local folders below ``$UP42_EXAMPLE_OUTPUT`` (default ``<tmp>/up42-example-output``).
The connection is ``up42_default``; ``UP42_EXAMPLE_POLL_INTERVAL`` (seconds, default 60) sets how often
job states are checked.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

from up42_provider.operators.download import UP42DownloadJobResultsOperator
from up42_provider.operators.job import UP42RunJobOperator
from up42_provider.operators.parallel import UP42RunParallelJobsOperator

OUTPUT = Path(os.environ.get("UP42_EXAMPLE_OUTPUT") or Path(tempfile.gettempdir(), "up42-example-output"))
POLL_INTERVAL = float(os.environ.get("UP42_EXAMPLE_POLL_INTERVAL") or 60)

AOIS = [
    {  # Berlin-Mitte
        "type": "Polygon",
        "coordinates": [[[13.37, 52.51], [13.41, 52.51], [13.41, 52.53], [13.37, 52.53], [13.37, 52.51]]],
    },
    {  # Tempelhofer Feld
        "type": "Polygon",
        "coordinates": [[[13.39, 52.47], [13.41, 52.47], [13.41, 52.48], [13.39, 52.48], [13.39, 52.47]]],
    },
]
PERIODS = [["2023-04-01", "2023-04-30"], ["2023-07-01", "2023-07-31"]]
FOLDER = "{{ params.output_folder }}"
WORKFLOW = {
    "workflow_name": "{{ params.workflow_name }}",
    "workflow_description": "Created by the up42_parallel_processing example DAG",
    "blocks": "{{ params.blocks }}",
}


@dag(
    dag_id="up42_parallel_processing",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["up42", "example"],
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "aois": Param(AOIS, type="array", description="GeoJSON Polygons (EPSG:4326)."),
        "periods": Param(PERIODS, type="array", description="[start, end] date pairs."),
        "workflow_name": Param("airflow-example-parallel", type="string"),
        "blocks": Param(["esa-s2-l2a-gtiff-visual", "tiling"], type="array", description="Data block first."),
        "max_concurrent_jobs": Param(2, type="integer", minimum=1, description="At most this many at once."),
        "output_folder": Param(
            (OUTPUT.absolute() / "parallel_processing").as_uri(),
            type="string",
            description="Downloads and plots (an ObjectStoragePath).",
        ),
    },
)
def up42_parallel_processing() -> None:
    # -- 1. one task runs all jobs, queueing them behind the project's concurrency limit ---------------
    parallel = UP42RunParallelJobsOperator(
        task_id="run_parallel_jobs",
        **WORKFLOW,
        aois="{{ params.aois }}",
        interval_dates="{{ params.periods }}",
        limit_per_job=1,
        max_concurrent_jobs="{{ params.max_concurrent_jobs }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=24).total_seconds(),
    )
    parallel_results = UP42DownloadJobResultsOperator(
        task_id="download_parallel_results",
        job_ids=parallel.output,  # its "succeeded" jobs
        destination=f"{FOLDER}/parallel",
        asset_alias="up42_parallel_results",
        plot_results_to=f"{FOLDER}/plots/parallel.png",
        map_results_to=f"{FOLDER}/plots/parallel.html",
    )

    # -- 2. the same fan-out with dynamic task mapping: one task instance per job -----------------------
    @task
    def job_inputs(**context: Any) -> list[dict[str, Any]]:
        """One set of operator arguments per (AOI, period) pair."""
        params = context["params"]
        return [
            {"aoi": aoi, "acquisition_start": start, "acquisition_end": end}
            for aoi in params["aois"]
            for start, end in params["periods"]
        ]

    mapped = UP42RunJobOperator.partial(
        task_id="run_mapped_job",
        **WORKFLOW,
        limit=1,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=12).total_seconds(),
        max_active_tis_per_dagrun=2,  # stay below the project's MAX_CONCURRENT_JOBS
    ).expand_kwargs(job_inputs())
    mapped_results = UP42DownloadJobResultsOperator(
        task_id="download_mapped_results",
        job_ids=mapped.output,  # the job ids of all mapped task instances
        destination=f"{FOLDER}/mapped",
        asset_alias="up42_parallel_results",
        plot_results_to=f"{FOLDER}/plots/mapped.png",
    )

    parallel >> parallel_results >> mapped >> mapped_results


up42_parallel_processing()
