"""Fan out on today's UP42 API: order several scenes -> one processing job per delivered item, in
parallel -> every job's results -> copy to a bucket.

The pipeline (every input is a Param you can change in the trigger form):

1. ``search_catalog`` finds the ``images`` least cloudy scenes of ``collections`` over ``aoi``.
2. ``place_orders`` orders them as v2 archive orders of ``<collection>/<data_product>`` (priced first:
   above ``max_credits`` nothing is placed; exactly once per run).
3. ``wait_for_delivery`` waits in the triggerer (deferrable sensor) until every order is delivered.
4. ``run_parallel_jobs`` runs ``process_id`` on every delivered STAC item, at most
   ``max_concurrent_jobs`` at a time. Every job is validated and priced before the first starts
   (nothing starts when one cannot run or all together cost more than
   ``max_processing_credits``). It waits in the triggerer between starts; a retry
   re-attaches to the jobs already started (one job per item, exactly once). Up to
   ``max_failed_jobs`` failed jobs are tolerated; more fail the task with UP42's reasons.
5. ``download_results`` copies the succeeded jobs' results (STAC collections in storage) to
   ``<output_folder>/results``; ``upload_to_bucket`` copies them to ``bucket_uri``
   (``s3://...``, ``gs://...``, ``file:///...``).

The connection is ``up42_current`` (type ``up42``: login = the UP42 account's e-mail, password = its
password). ``UP42_EXAMPLE_POLL_INTERVAL`` (seconds, default 60) sets how often UP42 is asked.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag

from up42_provider.operators.download import UP42DownloadJobResultsOperator
from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.operators.parallel import UP42RunParallelJobsOperator
from up42_provider.operators.search import UP42SearchCatalogOperator
from up42_provider.operators.upload import UP42UploadToBucketOperator
from up42_provider.sensors.order import UP42OrderFulfilledSensor

CONN_ID = "up42_current"
OUTPUT = Path(os.environ.get("UP42_EXAMPLE_OUTPUT") or Path(tempfile.gettempdir(), "up42-example-output"))
POLL_INTERVAL = float(os.environ.get("UP42_EXAMPLE_POLL_INTERVAL") or 60)

# Rotterdam's port (about 7 km x 4 km).
ROTTERDAM = {
    "type": "Polygon",
    "coordinates": [[[4.20, 51.90], [4.30, 51.90], [4.30, 51.94], [4.20, 51.94], [4.20, 51.90]]],
}
FOLDER = "{{ params.output_folder }}"


@dag(
    dag_id="up42_current_parallel_processing",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["up42", "example", "current-api"],
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "up42_conn_id": CONN_ID},
    params={
        "aoi": Param(ROTTERDAM, type="object", description="Area of interest: a GeoJSON Polygon."),
        "collections": Param(["phr"], type="array", description="Catalog collections to search."),
        "start_date": Param("2022-01-01", type="string", format="date", description="First day."),
        "end_date": Param("2023-12-31", type="string", format="date", description="Last day."),
        "images": Param(3, type="integer", minimum=1, maximum=20, description="Scenes to order."),
        "data_product": Param("Display", type="string", description="Product of the first collection."),
        "max_credits": Param(20000, type="integer", minimum=0, description="Most the orders may cost."),
        "process_id": Param("upsampling-ns", type="string", description="Processing of every item."),
        "max_processing_credits": Param(
            3000, type="integer", minimum=1, description="Most all the processing jobs together may cost."
        ),
        "max_concurrent_jobs": Param(2, type="integer", minimum=1, description="Jobs running at once."),
        "max_failed_jobs": Param(0, type="integer", minimum=0, description="Failed jobs tolerated."),
        "output_folder": Param(
            (OUTPUT.absolute() / "current-parallel").as_uri(), type="string", description="Downloads go here."
        ),
        "bucket_uri": Param(
            (OUTPUT / "bucket" / "current-parallel").absolute().as_uri(),
            type="string",
            description="Where the results are copied: s3://bucket/prefix, gs://..., file:///...",
        ),
        "bucket_conn_id": Param(
            None, type=["null", "string"], description="Connection of the bucket, e.g. aws_default."
        ),
    },
)
def up42_current_parallel_processing() -> None:
    search = UP42SearchCatalogOperator(
        task_id="search_catalog",
        aoi="{{ params.aoi }}",
        collections="{{ params.collections }}",
        acquisition_start="{{ params.start_date }}",
        acquisition_end="{{ params.end_date }}",
        limit="{{ params.images }}",
        sortby="cloudCoverage",
        fail_on_empty=True,
    )
    order = UP42PlaceOrderOperator(
        task_id="place_orders",
        data_product_id="{{ params.collections[0] }}/{{ params.data_product }}",
        image_ids=search.output,
        aoi="{{ params.aoi }}",
        max_credits="{{ params.max_credits }}",
        tags=["airflow-example"],
        wait_for_completion=False,
    )
    wait = UP42OrderFulfilledSensor(
        task_id="wait_for_delivery",
        order_ids=order.output,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(days=2).total_seconds(),
    )
    jobs = UP42RunParallelJobsOperator(
        task_id="run_parallel_jobs",
        process_id="{{ params.process_id }}",
        order_ids=order.output,
        max_concurrent_jobs="{{ params.max_concurrent_jobs }}",
        max_failed_jobs="{{ params.max_failed_jobs }}",
        max_credits="{{ params.max_processing_credits }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=12).total_seconds(),
    )
    results = UP42DownloadJobResultsOperator(
        task_id="download_results",
        job_ids=jobs.output,
        destination=f"{FOLDER}/results",
        emit_asset=False,
    )
    upload = UP42UploadToBucketOperator(
        task_id="upload_to_bucket",
        source_uris=[f"{FOLDER}/results"],
        source_root=FOLDER,
        destination="{{ params.bucket_uri }}",
        destination_conn_id="{{ params.bucket_conn_id }}",
        emit_asset=False,
    )
    wait >> jobs
    results >> upload


up42_current_parallel_processing()
