"""Today's UP42 API, end to end: search -> order (v2) -> wait -> deliveries from STAC storage ->
processing job on the delivery -> job results -> copy to a bucket.

The pipeline (one run per trigger; every input is a Param you can change in the trigger form):

1. ``search_catalog`` searches the catalog (``collections``) over ``aoi`` between ``start_date`` and
   ``end_date``, least cloudy first; ``plot_coverage`` draws the footprints over the AOI.
2. ``place_order`` orders the ``images`` least cloudy scenes as v2 archive orders of
   ``<collection>/<data_product>`` (e.g. ``phr/Display``, resolved through the glossary). Every order
   is priced first: above ``max_credits`` nothing is placed. Exactly once per run (order tags derived
   from the task instance: a retry never pays twice).
3. ``wait_for_delivery`` is a deferrable sensor: it waits in the triggerer while UP42 fulfils the
   orders, logging each status change.
4. ``download_deliveries`` copies the delivered STAC items' assets from UP42 storage to
   ``<output_folder>/deliveries`` (streamed, resumed, checksum-verified).
5. ``run_processing`` runs ``process_id`` (e.g. ``upsampling-ns``) on the delivered item, after
   UP42 validated and priced it (nothing runs above ``max_processing_credits``), deferrable.
6. ``download_results`` copies the job's result items (a STAC collection in storage) to
   ``<output_folder>/results``; ``upload_to_bucket`` copies deliveries and results to ``bucket_uri``
   (any ``ObjectStoragePath``: ``s3://...``, ``gs://...``, ``file:///...``).

The connection is ``up42_current`` (type ``up42``: login = the UP42 account's e-mail, password = its
password; the API generation follows from these credentials). One connection per UP42 account; it is
named apart from ``up42_default`` here only so that the 2023 examples run beside this one. Outputs go
below ``$UP42_EXAMPLE_OUTPUT``; ``UP42_EXAMPLE_POLL_INTERVAL`` sets how often the waits ask UP42.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

from up42_provider.operators.download import UP42DownloadAssetsOperator, UP42DownloadJobResultsOperator
from up42_provider.operators.job import UP42RunJobOperator
from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.operators.search import UP42SearchCatalogOperator
from up42_provider.operators.upload import UP42UploadToBucketOperator
from up42_provider.sensors.order import UP42OrderFulfilledSensor

CONN_ID = "up42_current"
OUTPUT = Path(os.environ.get("UP42_EXAMPLE_OUTPUT") or Path(tempfile.gettempdir(), "up42-example-output"))
OUTPUT_FOLDER = OUTPUT.absolute() / "current"
POLL_INTERVAL = float(os.environ.get("UP42_EXAMPLE_POLL_INTERVAL") or 60)

# Hamburg's harbour (about 7 km x 4 km).
HAMBURG = {
    "type": "Polygon",
    "coordinates": [[[9.95, 53.54], [10.05, 53.54], [10.05, 53.58], [9.95, 53.58], [9.95, 53.54]]],
}

FOLDER = "{{ params.output_folder }}"


@dag(
    dag_id="up42_current_archive_processing",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["up42", "example", "current-api"],
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "up42_conn_id": CONN_ID},
    params={
        "aoi": Param(HAMBURG, type="object", description="Area of interest: a GeoJSON Polygon (EPSG:4326)."),
        "collections": Param(["phr"], type="array", description="Catalog collections to search."),
        "start_date": Param("2022-01-01", type="string", format="date", description="First day."),
        "end_date": Param("2023-12-31", type="string", format="date", description="Last day."),
        "max_cloud_cover": Param(30, type="number", minimum=0, maximum=100, description="Percent."),
        "images": Param(1, type="integer", minimum=1, maximum=10, description="Scenes to order."),
        "data_product": Param("Display", type="string", description="Product of the first collection."),
        "max_credits": Param(5000, type="integer", minimum=0, description="Most the orders may cost."),
        "process_id": Param("upsampling-ns", type="string", description="Processing applied to a delivery."),
        "max_processing_credits": Param(
            1000, type="integer", minimum=1, description="Most the processing job may cost."
        ),
        "output_folder": Param(
            OUTPUT_FOLDER.as_uri(), type="string", description="Downloads and plots (an ObjectStoragePath)."
        ),
        "bucket_uri": Param(
            (OUTPUT / "bucket" / "current").absolute().as_uri(),
            type="string",
            description="Where the results are copied: s3://bucket/prefix, gs://..., file:///...",
        ),
        "bucket_conn_id": Param(
            None, type=["null", "string"], description="Connection of the bucket, e.g. aws_default."
        ),
    },
)
def up42_current_archive_processing() -> None:
    search = UP42SearchCatalogOperator(
        task_id="search_catalog",
        aoi="{{ params.aoi }}",
        collections="{{ params.collections }}",
        acquisition_start="{{ params.start_date }}",
        acquisition_end="{{ params.end_date }}",
        max_cloud_cover="{{ params.max_cloud_cover }}",
        limit=10,
        sortby="cloudCoverage",
        fail_on_empty=True,
    )

    @task
    def plot_coverage(scenes: dict[str, Any], **context: Any) -> str:
        """Footprints of every scene found, over the AOI."""
        from up42_provider import plots

        params = context["params"]
        return plots.plot_coverage(scenes, params["aoi"], f"{params['output_folder']}/plots/coverage.png")

    @task
    def select_scenes(scenes: dict[str, Any], **context: Any) -> dict[str, Any]:
        """The least cloudy scenes (the search sorted them)."""
        return {**scenes, "features": scenes["features"][: context["params"]["images"]]}

    scenes = search.output
    selected = select_scenes(scenes)
    order = UP42PlaceOrderOperator(
        task_id="place_order",
        data_product_id="{{ params.collections[0] }}/{{ params.data_product }}",
        image_ids=selected,
        aoi="{{ params.aoi }}",
        max_credits="{{ params.max_credits }}",
        tags=["airflow-example"],
        wait_for_completion=False,  # the sensor below waits in the triggerer
    )
    wait = UP42OrderFulfilledSensor(
        task_id="wait_for_delivery",
        order_ids=order.output,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(days=2).total_seconds(),
    )
    deliveries = UP42DownloadAssetsOperator(
        task_id="download_deliveries",
        order_ids=order.output,
        destination=f"{FOLDER}/deliveries",
        emit_asset=False,
    )
    job = UP42RunJobOperator(
        task_id="run_processing",
        process_id="{{ params.process_id }}",
        order_ids=order.output,
        max_credits="{{ params.max_processing_credits }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=12).total_seconds(),
    )
    results = UP42DownloadJobResultsOperator(
        task_id="download_results",
        job_ids=job.output,
        destination=f"{FOLDER}/results",
        emit_asset=False,
    )
    upload = UP42UploadToBucketOperator(
        task_id="upload_to_bucket",
        source_uris=[f"{FOLDER}/deliveries", f"{FOLDER}/results"],
        source_root=FOLDER,
        destination="{{ params.bucket_uri }}",
        destination_conn_id="{{ params.bucket_conn_id }}",
        emit_asset=False,
    )

    plot_coverage(scenes)
    wait >> [deliveries, job]
    [deliveries, results] >> upload


up42_current_archive_processing()
