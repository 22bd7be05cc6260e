"""Archive imagery from the UP42 catalog, end to end: search -> plot -> estimate -> order -> wait ->
download -> quicklooks and plots -> copy to a bucket.

The pipeline (one run per trigger; every input is a Param you can change in the trigger form):

1. ``search_catalog`` searches the catalog (``collections``) over ``aoi`` between ``start_date`` and
   ``end_date``, least cloudy first, and keeps up to ``search_limit`` scenes (XCom: a small
   FeatureCollection of footprints and metadata).
2. ``plot_coverage`` draws the scene footprints over the AOI (``<output_folder>/plots/coverage.png``).
3. ``select_scenes`` keeps the ``images`` least cloudy scenes; ``find_data_product`` turns the
   collection and the product name (``data_product``, e.g. "Display") into UP42's data product id.
4. ``estimate_credits`` prices the orders with UP42 and fails - before anything is ordered - when they
   would cost more than ``max_credits``. ``place_order`` checks that limit again and places one order
   per scene, exactly once per run (order tags derived from the run: a retry never pays twice).
5. ``wait_for_delivery`` is a deferrable sensor: while UP42 fulfils the orders (minutes to hours) it
   waits in the triggerer, not in a worker slot, and survives a triggerer restart.
6. ``download_assets`` downloads and unpacks the deliveries (GeoTIFFs + ``data.json``) to
   ``<output_folder>/deliveries`` - streamed, resumed, MD5-verified - draws them
   (``plots/results.png``) and maps them (``plots/results.html``). It emits an Airflow Asset for that
   folder: ``up42_downstream`` is scheduled on it.
7. ``download_quicklooks`` saves the scenes' quicklooks and renders a mosaic (``plots/quicklooks.png``)
   and a map (``plots/quicklooks.html``).
8. ``upload_to_bucket`` copies the deliveries and the plots to ``bucket_uri``: any Airflow
   ``ObjectStoragePath``, e.g. ``s3://my-bucket/up42/archive`` with ``bucket_conn_id="aws_default"``
   (needs ``apache-airflow-providers-amazon[s3fs]``), ``gs://...``, or a local ``file://`` folder.

Outputs default to local folders below ``$UP42_EXAMPLE_OUTPUT`` (default: ``<tmp>/up42-example-output``),
read when the DAG file is parsed. The connection is ``up42_default`` (type ``up42``: host = API URL,
login = project id, password = project API key); point it at ``up42-emulator`` to run this for free.
``UP42_EXAMPLE_POLL_INTERVAL`` (seconds, default 60) sets how often the sensor asks UP42.

Heavy libraries (matplotlib, rasterio, folium) are imported only inside the tasks that draw.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

from up42_provider.operators.download import UP42DownloadAssetsOperator
from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.operators.quicklooks import UP42DownloadQuicklooksOperator
from up42_provider.operators.search import UP42SearchCatalogOperator
from up42_provider.operators.upload import UP42UploadToBucketOperator
from up42_provider.sensors.order import UP42OrderFulfilledSensor

OUTPUT = Path(os.environ.get("UP42_EXAMPLE_OUTPUT") or Path(tempfile.gettempdir(), "up42-example-output"))
OUTPUT_FOLDER = OUTPUT.absolute() / "archive"
# up42_downstream schedules on the Asset of this folder (the default destination of the download).
DELIVERIES_URI = (OUTPUT_FOLDER / "deliveries").as_uri()
DELIVERIES_ALIAS = "up42_archive_deliveries"
POLL_INTERVAL = float(os.environ.get("UP42_EXAMPLE_POLL_INTERVAL") or 60)

# A few blocks of Berlin-Mitte (about 3 km x 2 km).
BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.51], [13.41, 52.51], [13.41, 52.53], [13.37, 52.53], [13.37, 52.51]]],
}

FOLDER = "{{ params.output_folder }}"


@dag(
    dag_id="up42_archive_imagery",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["up42", "example"],
    # Params arrive as their JSON types (dicts, lists, numbers) in the operators' templated fields.
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "aoi": Param(BERLIN, type="object", description="Area of interest: a GeoJSON Polygon (EPSG:4326)."),
        "collections": Param(["phr"], type="array", description="Catalog collections to search."),
        "start_date": Param("2023-01-01", type="string", format="date", description="First day."),
        "end_date": Param("2023-12-31", type="string", format="date", description="Last day."),
        "max_cloud_cover": Param(20, type="number", minimum=0, maximum=100, description="Percent."),
        "search_limit": Param(10, type="integer", minimum=1, description="Scenes to show in the plot."),
        "images": Param(1, type="integer", minimum=1, maximum=10, description="Scenes to order."),
        "data_product": Param("Display", type="string", description="Product of the first collection."),
        "max_credits": Param(
            1000, type="integer", minimum=0, description="Fail before ordering if the orders cost more."
        ),
        "output_folder": Param(
            OUTPUT_FOLDER.as_uri(), type="string", description="Downloads and plots (an ObjectStoragePath)."
        ),
        "bucket_uri": Param(
            (OUTPUT / "bucket" / "archive").absolute().as_uri(),
            type="string",
            description="Where the results are copied: s3://bucket/prefix, gs://..., file:///...",
        ),
        "bucket_conn_id": Param(
            None, type=["null", "string"], description="Connection of the bucket, e.g. aws_default."
        ),
    },
)
def up42_archive_imagery() -> None:
    search = UP42SearchCatalogOperator(
        task_id="search_catalog",
        aoi="{{ params.aoi }}",
        collections="{{ params.collections }}",
        acquisition_start="{{ params.start_date }}",
        acquisition_end="{{ params.end_date }}",
        max_cloud_cover="{{ params.max_cloud_cover }}",
        limit="{{ params.search_limit }}",
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

    @task
    def find_data_product(**context: Any) -> str:
        """UP42's data product id of ``data_product`` in the first collection."""
        from up42_provider.hooks.up42 import UP42Hook

        params = context["params"]
        collection, name = params["collections"][0], params["data_product"]
        offered = {}
        for product in UP42Hook().get_data_products(basic=True).values():
            if product["collection"] == collection:
                offered = product["data_products"]
        if name not in offered:
            raise ValueError(f"No data product {name!r} for {collection!r}; offered: {sorted(offered)}")
        return str(offered[name])

    @task
    def estimate_credits(product_id: str, scenes: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Price the orders; stop here (nothing ordered) when they exceed ``max_credits``."""
        from airflow.sdk.exceptions import AirflowFailException

        from up42_provider.hooks.up42 import UP42Hook

        hook, params = UP42Hook(), context["params"]
        prices = {}
        for feature in scenes["features"]:
            image_id = feature["properties"]["id"]
            body = hook.construct_catalog_order_parameters(product_id, image_id, aoi=params["aoi"])
            prices[image_id] = hook.estimate_order(body)
        total = sum(prices.values())
        print(f"{len(prices)} order(s) estimated at {total} credits (max_credits={params['max_credits']})")
        if total > params["max_credits"]:
            raise AirflowFailException(
                f"The orders would cost {total} credits, more than max_credits={params['max_credits']}"
            )
        return {"credits": total, "per_image": prices}

    scenes = search.output
    selected = select_scenes(scenes)
    product = find_data_product()
    estimate = estimate_credits(product, selected)

    order = UP42PlaceOrderOperator(
        task_id="place_order",
        data_product_id=product,
        image_ids=selected,
        aoi="{{ params.aoi }}",
        max_credits="{{ params.max_credits }}",
        tags=["airflow-example"],
        wait_for_completion=False,  # the sensor below waits; the operator could too (deferrable=True)
    )
    wait = UP42OrderFulfilledSensor(
        task_id="wait_for_delivery",
        order_ids=order.output,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(days=2).total_seconds(),
    )
    download = UP42DownloadAssetsOperator(
        task_id="download_assets",
        order_ids=order.output,
        destination=f"{FOLDER}/deliveries",
        # The destination is templated, so its Asset is attached at run time through this alias.
        asset_alias=DELIVERIES_ALIAS,
        plot_results_to=f"{FOLDER}/plots/results.png",
        map_results_to=f"{FOLDER}/plots/results.html",
    )
    quicklooks = UP42DownloadQuicklooksOperator(
        task_id="download_quicklooks",
        image_ids=selected,
        destination=f"{FOLDER}/quicklooks",
        plot_quicklooks_to=f"{FOLDER}/plots/quicklooks.png",
        map_quicklooks_to=f"{FOLDER}/plots/quicklooks.html",
        emit_asset=False,
    )
    upload = UP42UploadToBucketOperator(
        task_id="upload_to_bucket",
        source_uris=[f"{FOLDER}/deliveries", f"{FOLDER}/plots"],
        source_root=FOLDER,
        destination="{{ params.bucket_uri }}",
        destination_conn_id="{{ params.bucket_conn_id }}",
        emit_asset=False,
    )

    coverage = plot_coverage(scenes)
    estimate >> order >> wait >> download
    [download, quicklooks, coverage] >> upload


up42_archive_imagery()
