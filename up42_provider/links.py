"""Extra links from a task to the UP42 console.

The operators push the ids as soon as UP42 created them (XCom keys ``up42_order_ids``,
``up42_job_ids`` and ``up42_project_id``), so the links work while the task still waits and after
it failed. Tasks that only read ids (sensors, downloads) have none pushed: their link uses the
task's own, rendered ``order_ids``/``job_ids``. Airflow 3 evaluates ``get_link`` once, in the
worker at the end of the task try, and stores the URL.

URL patterns (change ``CONSOLE_URL`` for another environment):

* 2023 generation (console.up42.com, as of 2024): one order ``/storage/orders/<order id>``,
  several ``/storage/orders``; one job ``/projects/<project id>/jobs/<job id>``, several
  ``/projects/<project id>/jobs``.
* today's generation: no UP42 document names the console pages, so these are the plausible
  ones of a console without projects: one order ``/orders/<order id>``, several ``/orders``;
  one processing job ``/processing/jobs/<job id>``, several ``/processing/jobs``.

The generation is the one of the task's UP42 connection (read from the connection only: no
request); a connection that cannot be read gives the 2023 patterns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

CONSOLE_URL = "https://console.up42.com"
XCOM_ORDER_IDS = "up42_order_ids"
XCOM_JOB_IDS = "up42_job_ids"
XCOM_PROJECT_ID = "up42_project_id"
CURRENT = "current"


def _as_ids(value: Any) -> list[str]:
    from up42_provider.utils.ids import parse_ids

    try:
        return list(parse_ids(value, name="ids", required=False))
    except (TypeError, ValueError):
        return []


def order_console_url(order_ids: list[str] | str | None, generation: str = "2023") -> str:
    """The console page of one order, or the order list for several; "" without orders."""
    ids = [order_ids] if isinstance(order_ids, str) else list(order_ids or [])
    if not ids:
        return ""
    base = f"{CONSOLE_URL}/orders" if generation == CURRENT else f"{CONSOLE_URL}/storage/orders"
    if len(ids) == 1:
        return f"{base}/{quote(str(ids[0]), safe='')}"
    return base


def job_console_url(project_id: str | None, job_ids: list[str] | str | None, generation: str = "2023") -> str:
    """The console page of one job, or the job list for several; "" when unknown.

    2023 jobs live in a project (no project id, no link); today's have none."""
    ids = [job_ids] if isinstance(job_ids, str) else list(job_ids or [])
    if not ids:
        return ""
    if generation == CURRENT:
        base = f"{CONSOLE_URL}/processing/jobs"
    elif project_id:
        base = f"{CONSOLE_URL}/projects/{quote(str(project_id), safe='')}/jobs"
    else:
        return ""
    if len(ids) == 1:
        return f"{base}/{quote(str(ids[0]), safe='')}"
    return base


def _xcom(ti_key: TaskInstanceKey, key: str) -> Any:
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.get_value(ti_key=ti_key, key=key)


def _connection(operator: BaseOperator) -> tuple[str, str | None]:
    """(generation, 2023 project id) of the task's UP42 connection; ("2023", None) when unreadable."""
    from up42_provider.hooks.up42 import UP42Hook

    try:
        conn_id = getattr(operator, "up42_conn_id", None) or UP42Hook.default_conn_name
        settings = UP42Hook(up42_conn_id=conn_id).settings
    except Exception:  # a link must never fail the task
        return "2023", None
    return settings.generation, settings.project_id


def _ids(operator: BaseOperator, ti_key: TaskInstanceKey, key: str, attribute: str) -> list[str]:
    return _as_ids(_xcom(ti_key, key)) or _as_ids(getattr(operator, attribute, None))


class UP42OrderLink(BaseOperatorLink):
    """Link "UP42 Order": the order(s) this task placed, waits for or downloads, in the console."""

    name = "UP42 Order"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        ids = _ids(operator, ti_key, XCOM_ORDER_IDS, "order_ids")
        if not ids:
            return ""
        return order_console_url(ids, _connection(operator)[0])


class UP42JobLink(BaseOperatorLink):
    """Link "UP42 Job": the job(s) this task started, waits for or downloads, in the console."""

    name = "UP42 Job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        ids = _ids(operator, ti_key, XCOM_JOB_IDS, "job_ids")
        if not ids:
            return ""
        generation, project_id = _connection(operator)
        return job_console_url(_xcom(ti_key, XCOM_PROJECT_ID) or project_id, ids, generation)
