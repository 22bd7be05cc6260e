"""Task a satellite on today's UP42 API: tasking order -> feasibility decision -> quotation ->
wait for the acquisition -> deliveries from STAC storage.

The pipeline (every input is a Param you can change in the trigger form):

1. ``acquisition_window`` defaults the window to the next 30 days.
2. ``place_tasking_order`` orders an acquisition of ``aoi`` in that window as a v2 tasking order of
   ``<collection>/<data_product>`` (e.g. ``phr-tasking/Standard``, resolved through the glossary) with
   the schema parameters in ``order_params`` (a missing one fails the task with its allowed values
   before anything is ordered). It is placed exactly once per run. UP42 then studies its feasibility:
   for a large or difficult AOI it uploads a *feasibility study* with options (e.g. mono vs stereo,
   a longer window), later a *quotation* (a price in credits). The operator takes the decisions it
   was given, as UP42 asks for them:

   * ``feasibility_option``: the option to choose (0-based index, option id or its description);
     ``null`` leaves the study to a human in the UP42 console;
   * ``quotation_decision``: ``"ACCEPTED"`` (only within ``max_credits``, else nothing is accepted
     and the task fails), ``"REJECTED"`` (the order ends at no cost and the run stops: the rest is
     skipped) or ``null`` (a human decides in the console; the sensor waits for it).
3. ``wait_for_acquisition`` is a deferrable sensor: the acquisition takes days to weeks, and it waits
   in the triggerer all that time without holding a worker slot, logging each status change.
4. ``download_deliveries`` copies the delivered STAC items' assets from UP42 storage to
   ``<output_folder>/deliveries`` (streamed, resumed, checksum-verified), any ``ObjectStoragePath``.

The connection is ``up42_current`` (type ``up42``: login = the UP42 account's e-mail, password = its
password). ``UP42_EXAMPLE_POLL_INTERVAL`` (seconds, default 60) sets how often UP42 is asked.
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

CONN_ID = "up42_current"
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
    dag_id="up42_current_tasking",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["up42", "example", "current-api"],
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "up42_conn_id": CONN_ID},
    params={
        "aoi": Param(TEMPELHOF, type="object", description="GeoJSON Polygon (EPSG:4326)."),
        "tasking_name": Param("Airflow tasking example", type="string", description="Order name."),
        "start_date": Param(None, type=["null", "string"], description="Window start (default: tomorrow)."),
        "end_date": Param(None, type=["null", "string"], description="Window end (default: +30 days)."),
        "data_product": Param(
            "phr-tasking/Standard", type="string", description="<tasking collection>/<product>."
        ),
        "order_params": Param(TASKING_PARAMETERS, type="object", description="Schema parameters."),
        "order_tags": Param(["airflow-example"], type="array", description="Tags of the order."),
        "feasibility_option": Param(
            None,
            type=["null", "integer", "string"],
            description="Feasibility option to choose (index, id or description), or null: a human decides.",
        ),
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
            (OUTPUT.absolute() / "current-tasking").as_uri(), type="string", description="Downloads go here."
        ),
    },
)
def up42_current_tasking() -> None:
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
        """A rejected quotation ends the order at no cost: nothing to wait for."""
        return context["params"]["quotation_decision"] != "REJECTED"

    window = acquisition_window()
    order = UP42PlaceOrderOperator(
        task_id="place_tasking_order",
        data_product_id="{{ params.data_product }}",
        tasking_name="{{ params.tasking_name }}",
        acquisition_start=window["start"],
        acquisition_end=window["end"],
        aoi="{{ params.aoi }}",
        order_params="{{ params.order_params }}",
        feasibility_option="{{ params.feasibility_option }}",
        quotation_decision="{{ params.quotation_decision }}",
        max_credits="{{ params.max_credits }}",
        tags="{{ params.order_tags }}",
        wait_for_completion=False,
        poll_interval=POLL_INTERVAL,  # while waiting for UP42 to upload the study and the quotation
        timeout=timedelta(days=7).total_seconds(),
    )
    wait = UP42OrderFulfilledSensor(
        task_id="wait_for_acquisition",
        order_ids=order.output,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(days=45).total_seconds(),
    )
    download = UP42DownloadAssetsOperator(
        task_id="download_deliveries",
        order_ids=order.output,
        destination="{{ params.output_folder }}/deliveries",
        emit_asset=False,
    )
    order >> quotation_not_rejected() >> wait >> download


up42_current_tasking()
