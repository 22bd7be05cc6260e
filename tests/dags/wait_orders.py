"""Test DAGs: wait for UP42 orders given in the run conf (``{"order_ids": [...]}``).

One DAG per way of waiting, since deferrable/mode/timeout are fixed when the DAG is parsed.
``wait_order_poke`` renders the ids as text (no native rendering) on purpose: the sensor must
accept a rendered list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from up42_provider.sensors.order import UP42OrderFulfilledSensor

ORDER_IDS = "{{ dag_run.conf['order_ids'] }}"


def _dag(dag_id: str, native: bool = True, **sensor: Any) -> DAG:
    with DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        render_template_as_native_obj=native,
        tags=["up42", "tests"],
    ) as dag:
        UP42OrderFulfilledSensor(task_id="wait", order_ids=ORDER_IDS, poll_interval=0.3, **sensor)
    return dag


wait_order_deferrable = _dag("wait_order_deferrable", deferrable=True, timeout=60)
wait_order_poke = _dag("wait_order_poke", native=False, deferrable=False, mode="poke", timeout=60)
wait_order_reschedule = _dag("wait_order_reschedule", deferrable=False, mode="reschedule", timeout=60)
wait_order_timeout_deferrable = _dag("wait_order_timeout_deferrable", deferrable=True, timeout=1.5)
wait_order_timeout_poke = _dag("wait_order_timeout_poke", deferrable=False, mode="poke", timeout=1.5)
