"""Run one UP42 processing job (workflow) as a task, exactly once per task instance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from up42_provider.links import UP42JobLink
from up42_provider.operators._aoi import resolve_aoi
from up42_provider.operators._common import (
    XCOM_JOB_IDS,
    UP42BaseOperator,
    as_bool,
    as_positive_int,
    job_name,
)
from up42_provider.operators._workflow import (
    check_geometry_operation,
    check_job_parameters,
    check_workflow_arguments,
    deep_merge,
    estimated_credits,
    resolve_workflow,
    start_job,
)
from up42_provider.utils import parameters as P
from up42_provider.utils.ids import parse_ids
from up42_provider.waiters import WaitResult
from up42_provider.waiting import resumed, wait_or_defer

if TYPE_CHECKING:
    from airflow.sdk import Context


def item_href(item: Any) -> str:
    """A storage STAC item's ``self`` href (today's processes name their input items by it)."""
    if isinstance(item, str) and item.strip():
        return item.strip()
    if isinstance(item, Mapping):
        for link in item.get("links") or []:
            if isinstance(link, Mapping) and link.get("rel") == "self" and link.get("href"):
                return str(link["href"])
    raise ValueError(f"not a storage STAC item or its self href: {item!r}")


class UP42RunJobOperator(UP42BaseOperator):
    """Run one UP42 processing job and (by default) wait until it succeeded.

    **Today's API** (an account connection): the job applies ``process_id`` (e.g.
    ``"upsampling-ns"``, see ``UP42Hook.get_processes()``) to one storage STAC item - given in
    ``item`` (its ``self`` href, or the item itself), or the delivery of ``order_ids`` (one
    delivered item) - with ``process_inputs`` added to the inputs. EULA, validation and cost are
    checked before anything runs (``UP42Hook.check_process``); ``max_credits`` bounds the cost. The
    job title is the task instance's job name: a retry finds the job instead of starting another.

    **2023 API** (a project connection):
    The workflow is ``workflow_id``, or the workflow ``workflow_name`` created (or reused) with the
    linear chain ``blocks`` (e.g. ``["esa-s2-l2a-gtiff-visual", "tiling"]``). The job inputs are
    built from ``aoi``, ``acquisition_start``/``acquisition_end``, ``limit`` and ``scene_ids`` like up42-py's
    ``construct_parameters``, then ``job_parameters`` (dict keyed by task name) is merged over them;
    with none of those the blocks' defaults are used.

    Idempotency: the job is named ``<name>-<hash(dag id, task id, run id, map index)>``; a retry
    finds the job an earlier try started (also when UP42's answer to the creation was lost) and
    waits for it instead of starting another. A job that already failed is started again on
    retry unless ``rerun_failed=False``.

    Returns the list of the job id (XCom; both generations). Link: "UP42 Job". Killing the task
    cancels the 2023 job on UP42.

    :param process_id: today's process to run.
    :param item: today's input item (``self`` href or STAC item dict).
    :param order_ids: today's orders whose delivered item is the input (instead of ``item``).
    :param process_inputs: further inputs of today's process (e.g. ``{"scale": 2}``).
    :param workflow_id: the UP42 workflow to run.
    :param workflow_name: name of a workflow to create or reuse (with ``blocks``).
    :param blocks: block names of that workflow, data block first.
    :param workflow_description: description of a created workflow (part of its identity).
    :param aoi: area of interest (GeoJSON, WKT, bbox, vector file or object-storage URI).
    :param geometry_operation: ``intersects`` (default), ``contains`` or ``bbox``.
    :param acquisition_start: start of the scene acquisition window.
    :param acquisition_end: end of the window.
    :param limit: number of scenes the data block selects.
    :param scene_ids: explicit scene ids for the data block.
    :param job_parameters: job inputs keyed by task name, merged over the constructed ones.
    :param name: readable prefix of the job name (default ``<dag_id>.<task_id>``).
    :param test_job: run a free test job (``DRY_RUN`` mode: metadata only).
    :param max_credits: fail before starting when the estimate's upper bound is higher.
    :param rerun_failed: on retry, start a job again whose earlier run failed (default True).
    :param wait_for_completion: wait for SUCCEEDED (default True).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks.
    :param timeout: seconds to wait for the job.
    :param up42_conn_id: Airflow connection of type ``up42``.
    """

    template_fields: Sequence[str] = (
        "process_id",
        "item",
        "order_ids",
        "process_inputs",
        "workflow_id",
        "workflow_name",
        "blocks",
        "aoi",
        "acquisition_start",
        "acquisition_end",
        "limit",
        "scene_ids",
        "job_parameters",
        "name",
        "test_job",
        "max_credits",
        "up42_conn_id",
    )
    template_fields_renderers = {"job_parameters": "json", "aoi": "json"}
    operator_extra_links = (UP42JobLink(),)

    def __init__(
        self,
        *,
        process_id: str | None = None,
        item: Any = None,
        order_ids: Any = None,
        process_inputs: Mapping[str, Any] | None = None,
        workflow_id: str | None = None,
        workflow_name: str | None = None,
        blocks: Sequence[str] | None = None,
        workflow_description: str = "",
        aoi: Any = None,
        geometry_operation: str = "intersects",
        acquisition_start: Any = None,
        acquisition_end: Any = None,
        limit: int | None = None,
        scene_ids: Sequence[str] | None = None,
        job_parameters: Mapping[str, Any] | None = None,
        name: str | None = None,
        test_job: bool = False,
        max_credits: int | None = None,
        rerun_failed: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.process_id = process_id
        self.item = item
        self.order_ids = order_ids
        self.process_inputs = process_inputs
        self.workflow_id = workflow_id
        self.workflow_name = workflow_name
        self.blocks = blocks
        self.workflow_description = workflow_description
        self.aoi = aoi
        self.geometry_operation = geometry_operation
        self.acquisition_start = acquisition_start
        self.acquisition_end = acquisition_end
        self.limit = limit
        self.scene_ids = scene_ids
        self.job_parameters = job_parameters
        self.name = name
        self.test_job = test_job
        self.max_credits = max_credits
        self.rerun_failed = rerun_failed
        self.job_id: str | None = None

    def _check_arguments(self) -> dict[str, Any]:
        """Validate everything local; returns the keyword arguments for the job inputs."""
        check_workflow_arguments(self.workflow_id, self.workflow_name, self.blocks)
        self.test_job = as_bool(self.test_job, "test_job")
        check_geometry_operation(self.geometry_operation)
        check_job_parameters(self.job_parameters)
        self.max_credits = as_positive_int(self.max_credits, "max_credits")
        construct: dict[str, Any] = {}
        if self.aoi is not None:
            construct["geometry"] = resolve_aoi(self.aoi)
            construct["geometry_operation"] = self.geometry_operation
        if self.acquisition_start is not None or self.acquisition_end is not None:
            try:
                P.format_time_period(self.acquisition_start, self.acquisition_end)  # both, in order
            except ValueError as exc:
                raise ValueError(f"acquisition_start/acquisition_end: {exc}") from None
            construct.update(start_date=self.acquisition_start, end_date=self.acquisition_end)
        limit = as_positive_int(self.limit, "limit")
        if limit is not None:
            construct["limit"] = limit
        if self.scene_ids is not None:
            construct["scene_ids"] = parse_ids(self.scene_ids, name="scene_ids")
        return construct

    def _current_item(self) -> str:
        """The one input item's ``self`` href: ``item``, or the one delivery of ``order_ids``."""
        if self.item is not None and self.order_ids not in (None, "", []):
            raise ValueError("pass item or order_ids, not both")
        if self.item is not None:
            return item_href(self.item)
        if self.order_ids in (None, "", []):
            raise ValueError(
                "today's processing job needs an input: item (a storage STAC item or its self href) "
                "or order_ids (the order whose delivery to process)"
            )
        hrefs = [
            item_href(found)
            for order_id in parse_ids(self.order_ids, name="order_ids")
            for found in self.hook.iter_order_items(order_id)
        ]
        if len(hrefs) != 1:
            raise ValueError(
                f"order_ids delivered {len(hrefs)} items; one job takes one item - "
                "use UP42RunParallelJobsOperator for one job per item"
                + ("" if hrefs else " (is the order FULFILLED? wait for it with UP42OrderFulfilledSensor)")
            )
        return hrefs[0]

    def _execute_current(self, context: Context) -> list[str]:
        if not self.process_id:
            raise ValueError(
                "today's UP42 API runs processes: pass process_id (see UP42Hook.get_processes())"
            )
        given = [n for n in ("workflow_id", "workflow_name", "blocks", "scene_ids") if getattr(self, n)]
        if given:
            raise ValueError(
                f"{', '.join(given)} belong to the 2023 API (workflows); today's connection runs "
                "process_id on an item"
            )
        if self.process_inputs is not None and not isinstance(self.process_inputs, Mapping):
            raise ValueError(f"process_inputs must be a dict, got {self.process_inputs!r}")
        max_credits = as_positive_int(self.max_credits, "max_credits")
        name = job_name(self.name, context)
        inputs = {**dict(self.process_inputs or {}), "title": name, "item": self._current_item()}
        job = self.hook.execute_process(
            str(self.process_id), inputs, max_credits=max_credits, reuse_existing=True
        )
        return self._after_start(context, job, name)

    def execute(self, context: Context) -> list[str]:
        if self.hook.generation == "current":
            return self._execute_current(context)
        construct = self._check_arguments()
        name = job_name(self.name, context)
        workflow_id = resolve_workflow(
            self.hook, self.workflow_id, self.workflow_name, self.blocks, self.workflow_description
        )
        inputs = self.hook.construct_job_parameters(workflow_id, **construct)
        if self.job_parameters:
            inputs = deep_merge(inputs, self.job_parameters)
        if self.max_credits is not None and not self.test_job:
            credits = estimated_credits(self.hook.estimate_job(workflow_id, inputs))
            self.log.info("Job %s is estimated at up to %d credits", name, credits)
            if credits > self.max_credits:
                raise ValueError(
                    f"Job {name} may cost up to {credits} credits, more than max_credits={self.max_credits}; "
                    "nothing was started. Raise max_credits or shrink the AOI/limit."
                )
        job = start_job(
            self.hook, workflow_id, inputs, name, dry_run=self.test_job, rerun_failed=self.rerun_failed
        )
        return self._after_start(context, job, name)

    def _after_start(self, context: Context, job: Mapping[str, Any], name: str) -> list[str]:
        self.job_id = job["id"]
        self.log.info("UP42 job %s (%s) is %s", job["id"], name, job.get("status"))
        self.push_link_ids(context, XCOM_JOB_IDS, [job["id"]])
        if not self.wait_for_completion:
            return [job["id"]]
        result = wait_or_defer(
            self,
            context,
            "job",
            [job["id"]],
            hook=self.hook,
            deferrable=self.deferrable,
            poll_interval=self.poll_interval,
            end_time=self.end_time(),
            resume={"job_id": job["id"]},
        )
        return self._finish(result, job["id"])

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, job_id: str | None = None
    ) -> list[str]:
        """Resume after the trigger fired: success returns the job id, anything else fails."""
        return self._finish(WaitResult.from_event(event), resumed(context, "job_id", job_id))

    def _finish(self, result: WaitResult, job_id: str) -> list[str]:
        self.job_id = job_id
        result.raise_for_status()
        self.log.info("Job %s succeeded", job_id)
        return [str(job_id)]

    def on_kill(self) -> None:
        """Cancel the 2023 job on UP42 when the task is killed (best effort; today's API has no
        job cancellation)."""
        if not self.job_id or self.hook.generation == "current":
            return
        try:
            self.hook.cancel_job(self.job_id)
            self.log.info("Cancelled UP42 job %s", self.job_id)
        except Exception:
            self.log.warning("Could not cancel UP42 job %s", self.job_id, exc_info=True)
