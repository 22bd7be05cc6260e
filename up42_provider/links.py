"""Extra links from a task to the UP42 console.

The operators push the ids as soon as UP42 created them (XCom keys ``up42_order_ids``,
``up42_job_ids`` and ``up42_project_id``), so the links work while the task still waits and after
it failed. Airflow 3 evaluates ``get_link`` once, at the end of the task try, and stores the URL.

URL patterns (console.up42.com, as of 2024; change ``CONSOLE_URL`` for another environment):

* one order: ``/storage/orders/<order id>``; several orders: ``/storage/orders``;
* one job: ``/projects/<project id>/jobs/<job id>``; several jobs: ``/projects/<project id>/jobs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator

CONSOLE_URL = "https://console.up42.com"
XCOM_ORDER_IDS = "up42_order_ids"
XCOM_JOB_IDS = "up42_job_ids"
XCOM_PROJECT_ID = "up42_project_id"


def order_console_url(order_ids: list[str] | str | None) -> str:
    """The console page of one order, or the order list for several; "" without orders."""
    ids = [order_ids] if isinstance(order_ids, str) else list(order_ids or [])
    if not ids:
        return ""
    if len(ids) == 1:
        return f"{CONSOLE_URL}/storage/orders/{quote(str(ids[0]), safe='')}"
    return f"{CONSOLE_URL}/storage/orders"


def job_console_url(project_id: str | None, job_ids: list[str] | str | None) -> str:
    """The console page of one job, or the project's job list for several; "" when unknown."""
    ids = [job_ids] if isinstance(job_ids, str) else list(job_ids or [])
    if not ids or not project_id:
        return ""
    project = quote(str(project_id), safe="")
    if len(ids) == 1:
        return f"{CONSOLE_URL}/projects/{project}/jobs/{quote(str(ids[0]), safe='')}"
    return f"{CONSOLE_URL}/projects/{project}/jobs"


def _xcom(ti_key: TaskInstanceKey, key: str) -> Any:
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.get_value(ti_key=ti_key, key=key)


class UP42OrderLink(BaseOperatorLink):
    """Link "UP42 Order": the order(s) this task placed, in the UP42 console."""

    name = "UP42 Order"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return order_console_url(_xcom(ti_key, XCOM_ORDER_IDS))


class UP42JobLink(BaseOperatorLink):
    """Link "UP42 Job": the job(s) this task started, in the UP42 console."""

    name = "UP42 Job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return job_console_url(_xcom(ti_key, XCOM_PROJECT_ID), _xcom(ti_key, XCOM_JOB_IDS))
