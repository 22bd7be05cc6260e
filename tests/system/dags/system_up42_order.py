"""System test DAG: catalog search -> archive order -> deferred wait until FULFILLED -> check the assets.

Placed through UP42Hook (idempotent by a tag derived from the run id, so a task retry reuses the order).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, get_current_context, task

from up42_provider.sensors.order import UP42OrderFulfilledSensor

# A small AOI over Berlin-Mitte; the emulator's synthetic catalog covers it.
AOI = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.51], [13.41, 52.51], [13.41, 52.53], [13.37, 52.53], [13.37, 52.51]]],
}


@dag(dag_id="system_up42_order", schedule=None, catchup=False, tags=["system-test", "up42"])
def system_up42_order():
    @task
    def place_order() -> str:
        from up42_provider.hooks.up42 import UP42Hook

        hook = UP42Hook()
        product = next(
            p
            for p in hook.get_data_products()
            if p.get("collectionName") == "phr" and (p.get("collection") or {}).get("type") == "ARCHIVE"
        )
        scenes = hook.search(
            {
                "datetime": "2023-01-01T00:00:00Z/2023-12-31T23:59:59Z",
                "intersects": AOI,
                "collections": ["phr"],
                "limit": 5,
                "query": {"cloudCoverage": {"lte": 30}},
            }
        )["features"]
        if not scenes:
            raise ValueError("the catalog search found no scene")
        params = hook.construct_catalog_order_parameters(
            product["id"], scenes[0]["properties"]["id"], aoi=AOI, tags=["airflow-system-test"]
        )
        run_id = get_current_context()["run_id"]
        order = hook.place_order(params, tag=f"system-{run_id}", reuse_existing=True)
        return order["id"]

    order_id = place_order()

    wait = UP42OrderFulfilledSensor(
        task_id="wait_for_order",
        order_ids="{{ ti.xcom_pull(task_ids='place_order') }}",
        deferrable=True,
        poll_interval=3,
        timeout=900,
    )

    @task
    def check_order(order_id: str, state: dict[str, Any]) -> int:
        from up42_provider.hooks.up42 import UP42Hook

        hook = UP42Hook()
        order = hook.get_order(order_id)
        if order["status"] != "FULFILLED" or state["statuses"].get(order_id) != "FULFILLED":
            raise ValueError(f"order {order_id} is {order['status']}; sensor saw {state}")
        assets = hook.get_order_assets(order_id)
        if not assets:
            raise ValueError(f"fulfilled order {order_id} has no asset")
        return len(assets)

    order_id >> wait
    check_order(order_id, wait.output)


system_up42_order()
