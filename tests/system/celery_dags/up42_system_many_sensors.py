"""System-test DAG: one archive order, then ``sensors`` deferred sensors waiting for it (mapped).

It runs against the held emulator (connection ``up42_held``): its clock barely moves, so the order stays
pending until the test advances that clock; meanwhile the triggerer is restarted under all the sensors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, task

from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.operators.search import UP42SearchCatalogOperator
from up42_provider.sensors.order import UP42OrderFulfilledSensor

CONN = "up42_held"
BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.51], [13.41, 52.51], [13.41, 52.53], [13.37, 52.53], [13.37, 52.51]]],
}


@dag(
    dag_id="up42_system_many_sensors",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    params={"sensors": Param(50, type="integer", minimum=1)},
    tags=["up42", "system-test"],
)
def up42_system_many_sensors() -> None:
    search = UP42SearchCatalogOperator(
        task_id="search_catalog",
        up42_conn_id=CONN,
        aoi=BERLIN,
        collections=["phr"],
        acquisition_start="2023-01-01",
        acquisition_end="2023-12-31",
        limit=1,
        fail_on_empty=True,
    )

    @task
    def find_data_product() -> str:
        from up42_provider.hooks.up42 import UP42Hook

        for product in UP42Hook(up42_conn_id=CONN).get_data_products(basic=True).values():
            if product["collection"] == "phr":
                return str(product["data_products"]["Display"])
        raise ValueError("no Display product for phr")

    order = UP42PlaceOrderOperator(
        task_id="place_order",
        up42_conn_id=CONN,
        data_product_id=find_data_product(),
        image_ids=search.output,
        aoi=BERLIN,
        max_credits=1000,
        wait_for_completion=False,
    )

    @task
    def fan_out(order_ids: list[str], **context: Any) -> list[list[str]]:
        return [list(order_ids)] * int(context["params"]["sensors"])

    UP42OrderFulfilledSensor.partial(
        task_id="wait_for_delivery", up42_conn_id=CONN, deferrable=True, poll_interval=5, timeout=3600
    ).expand(order_ids=fan_out(order.output))


up42_system_many_sensors()
