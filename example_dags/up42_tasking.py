"""Task a satellite: place a tasking order -> decide its quotation -> wait for the acquisition -> download.

The pipeline (every input is a Param you can change in the trigger form):

1. ``find_data_product`` turns the tasking collection (``collection``, e.g. ``phr-tasking``) and the
   product name (``data_product``) into UP42's data product id; ``acquisition_window`` defaults the
   window to the next 30 days.
2. ``place_tasking_order`` orders an acquisition of ``aoi`` (a Polygon or a Point) in that window with
   the schema parameters in ``order_params`` (acquisition mode, maximum cloud cover, processing, ...;
   a missing one fails the task with its allowed values before anything is ordered). It is placed
   exactly once per run. UP42 then runs a feasibility study and issues a quotation (a price in credits).
   The operator waits for the quotation and decides it as ``quotation_decision`` says:

   * ``"ACCEPTED"``: accept (only if the price is within ``max_credits``, else nothing is accepted and the
     task fails) - the acquisition starts and is charged;
   * ``"REJECTED"``: reject - the order ends ``FAILED`` at no cost and the run stops here (skipped);
   * ``None`` (the default, the safe choice when real credits are at stake): leave the decision to a
     human in the UP42 console; the sensor below waits for it.
3. ``wait_for_acquisition`` is a deferrable sensor: the acquisition takes days to weeks, and it waits in
   the triggerer all that time without holding a worker slot (surviving triggerer restarts). If the
   order fails (rejected in the console, acquisition failed) the task fails with UP42's message.
4. ``download_assets`` downloads the delivered imagery to ``<output_folder>/deliveries`` (GeoTIFFs +
   ``data.json``) and emits an Airflow Asset event (alias ``up42_tasking_deliveries``) for it.

Outputs default to local folders below ``$UP42_EXAMPLE_OUTPUT`` (default ``<tmp>/up42-example-output``).
The connection is ``up42_default``. ``UP42_EXAMPLE_POLL_INTERVAL`` (seconds, default 60) sets how often the
order status is checked.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

from up42_provider.operators.download import UP42DownloadAssetsOperator
from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.sensors.order import UP42OrderFulfilledSensor

OUTPUT = Path(os.environ.get("UP42_EXAMPLE_OUTPUT") or Path(tempfile.gettempdir(), "up42-example-output"))
POLL_INTERVAL = float(os.environ.get("UP42_EXAMPLE_POLL_INTERVAL") or 60)

# Tempelhofer Feld, Berlin (about 1.5 km x 1 km).
TEMPELHOF = {
    "type": "Polygon",
    "coordinates": [[[13.39, 52.47], [13.41, 52.47], [13.41, 52.48], [13.39, 52.48], [13.39, 52.47]]],
}
# The schema parameters a Pléiades tasking order needs (UP42Hook.get_data_product_schema lists them).
TASKING_PARAMETERS = {
    "acquisitionMode": "mono",
    "cloudCoverage": 20,
    "incidenceAngle": 40,
    "geometricProcessing": "ortho",
    "spectralProcessing": "bundle",
    "pixelCoding": "12bits",
    "radiometricProcessing": "reflectance",
    "deliveredAs": "geotiff",
}


@dag(
    dag_id="up42_tasking",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["up42", "example"],
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "aoi": Param(TEMPELHOF, type="object", description="GeoJSON Polygon or Point (EPSG:4326)."),
        "tasking_name": Param("Airflow tasking example", type="string", description="Order name."),
        "start_date": Param(None, type=["null", "string"], description="Window start (default: tomorrow)."),
        "end_date": Param(None, type=["null", "string"], description="Window end (default: +30 days)."),
        "collection": Param("phr-tasking", type="string", description="Tasking collection."),
        "data_product": Param("Standard", type="string", description="Product of that collection."),
        "order_params": Param(TASKING_PARAMETERS, type="object", description="Schema parameters."),
        "quotation_decision": Param(
            None,
            type=["null", "string"],
            enum=[None, "ACCEPTED", "REJECTED"],
            description="ACCEPTED, REJECTED, or null: a human decides in the UP42 console.",
        ),
        "max_credits": Param(
            5000, type="integer", minimum=0, description="Never accept a quotation above this price."
        ),
        "output_folder": Param(
            (OUTPUT.absolute() / "tasking").as_uri(), type="string", description="Downloads go here."
        ),
    },
)
def up42_tasking() -> None:
    @task
    def find_data_product(**context: Any) -> str:
        """UP42's data product id of ``data_product`` in ``collection``."""
        from up42_provider.hooks.up42 import UP42Hook

        params = context["params"]
        offered = {}
        for product in UP42Hook().get_data_products(basic=True).values():
            if product["collection"] == params["collection"]:
                offered = product["data_products"]
        if params["data_product"] not in offered:
            raise ValueError(
                f"No data product {params['data_product']!r} for {params['collection']!r}: {sorted(offered)}"
            )
        return str(offered[params["data_product"]])

    @task
    def acquisition_window(**context: Any) -> dict[str, str]:
        """The Params' window, or tomorrow to 30 days later."""
        params, today = context["params"], date.today()
        return {
            "start": params["start_date"] or (today + timedelta(days=1)).isoformat(),
            "end": params["end_date"] or (today + timedelta(days=30)).isoformat(),
        }

    @task.short_circuit
    def quotation_not_rejected(**context: Any) -> bool:
        """A rejected quotation ends the order (FAILED, free of charge): nothing to wait for."""
        return context["params"]["quotation_decision"] != "REJECTED"

    window = acquisition_window()
    order = UP42PlaceOrderOperator(
        task_id="place_tasking_order",
        data_product_id=find_data_product(),
        tasking_name="{{ params.tasking_name }}",
        acquisition_start=window["start"],
        acquisition_end=window["end"],
        aoi="{{ params.aoi }}",
        order_params="{{ params.order_params }}",
        quotation_decision="{{ params.quotation_decision }}",
        max_credits="{{ params.max_credits }}",
        tags=["airflow-example"],
        wait_for_completion=False,
        poll_interval=POLL_INTERVAL,  # while waiting for UP42 to issue the quotation
    )
    wait = UP42OrderFulfilledSensor(
        task_id="wait_for_acquisition",
        order_ids=order.output,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(days=45).total_seconds(),
    )
    download = UP42DownloadAssetsOperator(
        task_id="download_assets",
        order_ids=order.output,
        destination="{{ params.output_folder }}/deliveries",
        asset_alias="up42_tasking_deliveries",
    )
    order >> quotation_not_rejected() >> wait >> download


up42_tasking()
