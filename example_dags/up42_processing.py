"""Process imagery on UP42: a workflow built from marketplace blocks -> one job -> results -> bucket.

The pipeline (every input is a Param you can change in the trigger form):

1. ``run_job`` creates the workflow ``workflow_name`` from ``blocks`` - a data block first (e.g.
   ``esa-s2-l2a-gtiff-visual``: Sentinel-2 scenes), then processing blocks (e.g. ``tiling``) - or reuses
   it when it already exists with those blocks. It builds the job inputs from ``aoi``, ``start_date`` /
   ``end_date`` and ``limit`` (scenes), checks the estimate against ``max_credits`` and starts the job -
   exactly once per run (the job name is derived from the run, so a retry re-attaches to it). Being
   deferrable, it then waits for ``SUCCEEDED`` in the triggerer, not in a worker slot; a failed job fails
   the task with the last lines of the failed job task's log.
2. ``download_results`` downloads and unpacks the results (GeoTIFFs + ``data.json``) to
   ``<output_folder>/results/job_<job id>/``, writes a merged ``data.json`` and renders the rasters
   (``plots/results.png``) and an interactive map of the footprints (``plots/results.html``).
3. ``download_quicklooks`` saves the quicklooks the data block produced, with a mosaic
   (``plots/quicklooks.png``).
4. ``upload_to_bucket`` copies the job's result archive to ``<bucket_uri>/<job id>.tgz`` (up42-py's
   ``Job.upload_results_to_bucket``, for any object store: ``s3://``, ``gs://``, ``file://`` ...) -
   streamed from UP42's signed URL, MD5-verified, skipped on a re-run.

Outputs default to local folders below ``$UP42_EXAMPLE_OUTPUT`` (default ``<tmp>/up42-example-output``).
The connection is ``up42_default``. ``UP42_EXAMPLE_POLL_INTERVAL`` (seconds, default 60) sets how often the
job status is checked.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag

from up42_provider.operators.download import UP42DownloadJobResultsOperator
from up42_provider.operators.job import UP42RunJobOperator
from up42_provider.operators.quicklooks import UP42DownloadQuicklooksOperator
from up42_provider.operators.upload import UP42UploadToBucketOperator

OUTPUT = Path(os.environ.get("UP42_EXAMPLE_OUTPUT") or Path(tempfile.gettempdir(), "up42-example-output"))
POLL_INTERVAL = float(os.environ.get("UP42_EXAMPLE_POLL_INTERVAL") or 60)

# A few blocks of Berlin-Mitte (about 3 km x 2 km).
BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.51], [13.41, 52.51], [13.41, 52.53], [13.37, 52.53], [13.37, 52.51]]],
}

FOLDER = "{{ params.output_folder }}"


@dag(
    dag_id="up42_processing",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["up42", "example"],
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "aoi": Param(BERLIN, type="object", description="Area of interest: a GeoJSON Polygon (EPSG:4326)."),
        "start_date": Param("2023-05-01", type="string", format="date", description="First day."),
        "end_date": Param("2023-08-31", type="string", format="date", description="Last day."),
        "limit": Param(1, type="integer", minimum=1, description="Scenes the data block selects."),
        "workflow_name": Param("airflow-example-processing", type="string"),
        "blocks": Param(
            ["esa-s2-l2a-gtiff-visual", "tiling"],
            type="array",
            description="Block names, data block first.",
        ),
        "max_credits": Param(500, type="integer", minimum=1, description="Fail before starting above this."),
        "output_folder": Param(
            (OUTPUT.absolute() / "processing").as_uri(),
            type="string",
            description="Downloads and plots (an ObjectStoragePath).",
        ),
        "bucket_uri": Param(
            (OUTPUT / "bucket" / "processing").absolute().as_uri(),
            type="string",
            description="Where the result archive is copied: s3://bucket/prefix, gs://..., file:///...",
        ),
        "bucket_conn_id": Param(
            None, type=["null", "string"], description="Connection of the bucket, e.g. aws_default."
        ),
    },
)
def up42_processing() -> None:
    job = UP42RunJobOperator(
        task_id="run_job",
        workflow_name="{{ params.workflow_name }}",
        workflow_description="Created by the up42_processing example DAG",
        blocks="{{ params.blocks }}",
        aoi="{{ params.aoi }}",
        acquisition_start="{{ params.start_date }}",
        acquisition_end="{{ params.end_date }}",
        limit="{{ params.limit }}",
        max_credits="{{ params.max_credits }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=12).total_seconds(),
    )
    results = UP42DownloadJobResultsOperator(
        task_id="download_results",
        job_ids=job.output,
        destination=f"{FOLDER}/results",
        asset_alias="up42_processing_results",
        plot_results_to=f"{FOLDER}/plots/results.png",
        map_results_to=f"{FOLDER}/plots/results.html",
    )
    quicklooks = UP42DownloadQuicklooksOperator(
        task_id="download_quicklooks",
        job_ids=job.output,
        destination=f"{FOLDER}/quicklooks",
        plot_quicklooks_to=f"{FOLDER}/plots/quicklooks.png",
        emit_asset=False,
    )
    upload = UP42UploadToBucketOperator(
        task_id="upload_to_bucket",
        job_ids=job.output,
        destination="{{ params.bucket_uri }}",
        destination_conn_id="{{ params.bucket_conn_id }}",
        emit_asset=False,
    )
    job >> [results, quicklooks, upload]


up42_processing()
