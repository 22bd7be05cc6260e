"""Test DAGs of the OPS workstream: catalog search and orders, parametrised by the run conf.

One DAG per combination of what is fixed at parse time (deferrable, retries, timeout); everything
else comes from ``dag_run.conf`` (native rendering), e.g. ``{"aoi": ..., "data_product_id": ...}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.operators.search import UP42SearchCatalogOperator

CONF = "dag_run.conf"
POLL = 0.2


def _get(key: str, default: str = "None") -> str:
    return "{{ " + f"{CONF}.get('{key}', {default})" + " }}"


def _dag(dag_id: str) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        render_template_as_native_obj=True,
        tags=["up42", "tests"],
    )


@task
def links(**context: Any) -> dict[str, Any]:
    """The stored extra-link URL and link ids of the ``order`` task (for the tests to check)."""
    ti = context["ti"]
    return {
        "url": ti.xcom_pull(task_ids="order", key="_link_UP42OrderLink"),
        "order_ids": ti.xcom_pull(task_ids="order", key="up42_order_ids"),
    }


def _search() -> UP42SearchCatalogOperator:
    return UP42SearchCatalogOperator(
        task_id="search",
        aoi=_get("aoi"),
        collections=_get("collections", "['phr']"),
        acquisition_start=_get("acquisition_start", "'2022-01-01'"),
        acquisition_end=_get("acquisition_end", "'2022-12-31'"),
        max_cloud_cover=_get("max_cloud_cover"),
        limit=_get("limit", "1"),
        output_path=_get("output_path"),
    )


def _archive(dag_id: str, **order: Any) -> DAG:
    with _dag(dag_id) as dag:
        search = _search()
        placed = UP42PlaceOrderOperator(
            task_id="order",
            data_product_id=_get("data_product_id"),
            image_ids=search.output,
            aoi=_get("aoi"),
            tags=_get("tags"),
            max_credits=_get("max_credits"),
            poll_interval=POLL,
            **order,
        )
        placed >> links()
    return dag


ops_search = _dag("ops_search")
with ops_search:
    _search()

ops_order_archive = _archive("ops_order_archive", deferrable=False, timeout=60)
ops_order_archive_deferrable = _archive("ops_order_archive_deferrable", deferrable=True, timeout=60)

# A try times out after 1 s while the (slow) order is still running; retries re-attach to it.
with _dag("ops_order_retry") as ops_order_retry:
    UP42PlaceOrderOperator(
        task_id="order",
        data_product_id=_get("data_product_id"),
        image_ids=_get("image_ids"),
        aoi=_get("aoi"),
        poll_interval=POLL,
        timeout=1.0,
        retries=15,
        retry_delay=timedelta(seconds=0),
    )

with _dag("ops_order_tasking") as ops_order_tasking:
    UP42PlaceOrderOperator(
        task_id="order",
        data_product_id=_get("data_product_id"),
        tasking_name=_get("tasking_name", "'Airflow tasking'"),
        acquisition_start=_get("acquisition_start"),
        acquisition_end=_get("acquisition_end"),
        aoi=_get("aoi"),
        order_params=_get("order_params"),
        quotation_decision=_get("quotation_decision"),
        max_credits=_get("max_credits"),
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL,
        timeout=60,
    )
