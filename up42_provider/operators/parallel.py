"""Run many UP42 jobs of one workflow, never more at once than the project allows."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from up42_provider.api.errors import UP42Error
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
    is_concurrency_refusal,
    resolve_workflow,
    start_job,
)
from up42_provider.operators.job import item_href
from up42_provider.status import classify_job_status
from up42_provider.utils import parameters as P
from up42_provider.utils.ids import parse_ids
from up42_provider.waiters import WaitResult, WaitState, check_jobs
from up42_provider.waiting import resumed, wait_or_defer

if TYPE_CHECKING:
    from airflow.sdk import Context

CURRENT_CONCURRENCY = 4  # jobs at once on today's API (no project limit to read)


class UP42JobsFailedError(AirflowException):
    """More jobs failed than ``max_failed_jobs`` allows."""


class UP42RunParallelJobsOperator(UP42BaseOperator):
    """Run one job per parameter set, at most ``max_concurrent_jobs`` at a time, and wait for all.

    **Today's API** (an account connection): one processing job of ``process_id`` per storage STAC
    item - ``items`` (``self`` hrefs or items) or every item ``order_ids`` delivered - with
    ``process_inputs`` added; each is validated and priced before it runs (``UP42Hook.execute_process``).
    Concurrency is ``max_concurrent_jobs`` (default 4: today's API has no project limit to read).

    **2023 API** (a project connection):

    Parameter sets: ``aois`` x ``interval_dates`` (``limit_per_job`` scenes each), ``aois`` x
    ``scene_ids`` (one scene per job), ``scene_ids`` alone, or an explicit ``job_parameters_list``
    (each a dict keyed by task name); ``job_parameters`` is merged over every set. The workflow is
    chosen as in ``UP42RunJobOperator``.

    Concurrency: the project's ``MAX_CONCURRENT_JOBS`` (``V1.get_project_settings``), lowered by
    ``max_concurrent_jobs``.
    The first jobs start at once, the rest queue; whenever one ends the next starts. Deferrable:
    the task defers on ``UP42JobStatusTrigger(mode="any")``, resumes when a job ends, starts more
    and defers again (progress travels in the defer kwargs). If UP42 still refuses a job because
    other jobs of the project hold the slots, it stays queued until one is free.

    Failures: the task fails as soon as more than ``max_failed_jobs`` jobs failed (no new job is
    started then; running ones are left to finish and are reused by a retry). Otherwise it
    succeeds with the failed jobs listed in the log and the result.

    Idempotency: job ``i`` is named ``<name>-<hash(dag id, task id, run id, map index)>-<i>``; a
    retry reuses running and succeeded jobs and (``rerun_failed``) starts failed ones again.

    Returns ``{"job_ids": [...], "succeeded": [...], "failed": [...], "statuses": {id: status}}``
    with ``job_ids`` in parameter-set order. Link: "UP42 Job" (the project's job list).

    :param process_id: today's process to run on every item.
    :param items: today's input items (``self`` hrefs or STAC items), one job each.
    :param order_ids: today's orders whose delivered items are the inputs (instead of ``items``).
    :param process_inputs: further inputs of today's process, for every job.
    :param aois: list of AOIs (one set per AOI and interval/scene).
    :param interval_dates: list of ``(start, end)`` pairs.
    :param scene_ids: scene ids (one per job).
    :param limit_per_job: scenes per job with ``interval_dates`` (default 1).
    :param geometry_operation: ``intersects`` (default), ``contains`` or ``bbox``.
    :param job_parameters_list: explicit parameter sets instead of the above.
    :param job_parameters: inputs merged over every set (e.g. processing block settings).
    :param max_concurrent_jobs: run fewer jobs at once than the project allows.
    :param max_failed_jobs: failed jobs tolerated before the task fails (default 0).
    :param max_credits: most all the jobs together may cost. Every job is priced (and, today,
        validated) before the first one starts; above it, or when one cannot run, nothing starts.
    :param name: readable prefix of the job names (default ``<dag_id>.<task_id>``).
    :param test_jobs: run free test jobs (``DRY_RUN`` mode).
    :param rerun_failed: on retry, start failed jobs again (default True).
    ``wait_for_completion`` must stay True: the queue only moves while the task waits.
    Other parameters: see ``UP42RunJobOperator``.
    """

    template_fields: Sequence[str] = (
        "process_id",
        "items",
        "order_ids",
        "process_inputs",
        "workflow_id",
        "workflow_name",
        "blocks",
        "aois",
        "interval_dates",
        "scene_ids",
        "job_parameters_list",
        "job_parameters",
        "max_concurrent_jobs",
        "max_failed_jobs",
        "max_credits",
        "name",
        "test_jobs",
        "up42_conn_id",
    )
    operator_extra_links = (UP42JobLink(),)

    def __init__(
        self,
        *,
        process_id: str | None = None,
        items: Any = None,
        order_ids: Any = None,
        process_inputs: Mapping[str, Any] | None = None,
        workflow_id: str | None = None,
        workflow_name: str | None = None,
        blocks: Sequence[str] | None = None,
        workflow_description: str = "",
        aois: Sequence[Any] | None = None,
        interval_dates: Sequence[Sequence[Any]] | None = None,
        scene_ids: Sequence[str] | None = None,
        limit_per_job: int = 1,
        geometry_operation: str = "intersects",
        job_parameters_list: Sequence[Mapping[str, Any]] | None = None,
        job_parameters: Mapping[str, Any] | None = None,
        max_concurrent_jobs: int | None = None,
        max_failed_jobs: int = 0,
        max_credits: int | None = None,
        name: str | None = None,
        test_jobs: bool = False,
        rerun_failed: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poll_interval", 30.0)
        super().__init__(**kwargs)
        self.process_id = process_id
        self.items = items
        self.order_ids = order_ids
        self.process_inputs = process_inputs
        self.workflow_id = workflow_id
        self.workflow_name = workflow_name
        self.blocks = blocks
        self.workflow_description = workflow_description
        self.aois = aois
        self.interval_dates = interval_dates
        self.scene_ids = scene_ids
        self.limit_per_job = limit_per_job
        self.geometry_operation = geometry_operation
        self.job_parameters_list = job_parameters_list
        self.job_parameters = job_parameters
        self.max_concurrent_jobs = max_concurrent_jobs
        self.max_failed_jobs = max_failed_jobs
        self.max_credits = max_credits
        self.name = name
        self.test_jobs = test_jobs
        self.rerun_failed = rerun_failed
        self.job_ids: list[str] = []

    # ------------------------------------------------------------------------------ validation

    @property
    def is_current(self) -> bool:
        return self.hook.generation == "current"

    def _check_limits(self) -> None:
        if not self.wait_for_completion:
            raise ValueError("UP42RunParallelJobsOperator always waits: queued jobs start only as others end")
        self.max_concurrent_jobs = as_positive_int(self.max_concurrent_jobs, "max_concurrent_jobs")
        try:
            self.max_failed_jobs = int(self.max_failed_jobs)
        except (TypeError, ValueError):
            raise ValueError(
                f"max_failed_jobs must be a whole number, got {self.max_failed_jobs!r}"
            ) from None
        if self.max_failed_jobs < 0:
            raise ValueError(f"max_failed_jobs must not be negative, got {self.max_failed_jobs}")
        self.max_credits = as_positive_int(self.max_credits, "max_credits")

    def _check_current(self) -> None:
        if not self.process_id:
            raise ValueError(
                "today's UP42 API runs processes: pass process_id (see UP42Hook.get_processes())"
            )
        given = [
            n
            for n in ("workflow_id", "workflow_name", "blocks", "aois", "interval_dates", "scene_ids")
            if getattr(self, n)
        ]
        if self.job_parameters_list is not None:
            given.append("job_parameters_list")
        if given:
            raise ValueError(
                f"{', '.join(given)} belong to the 2023 API (workflows); today's connection runs "
                "process_id on items or order_ids"
            )
        if (self.items in (None, "", [])) == (self.order_ids in (None, "", [])):
            raise ValueError("pass the inputs one way: items (storage STAC items or hrefs) or order_ids")
        if self.process_inputs is not None and not isinstance(self.process_inputs, Mapping):
            raise ValueError(f"process_inputs must be a dict, got {self.process_inputs!r}")

    def _check_arguments(self) -> None:
        self._check_limits()
        if self.is_current:
            self._check_current()
            return
        check_workflow_arguments(self.workflow_id, self.workflow_name, self.blocks)
        self.test_jobs = as_bool(self.test_jobs, "test_jobs")
        check_geometry_operation(self.geometry_operation)
        check_job_parameters(self.job_parameters)
        explicit = self.job_parameters_list is not None
        generated = any(v is not None for v in (self.aois, self.interval_dates, self.scene_ids))
        if explicit == generated:
            raise ValueError(
                "Give the parameter sets one way: job_parameters_list, or aois with interval_dates / "
                "scene_ids (or scene_ids alone)"
            )
        if explicit:
            sets = self.job_parameters_list
            if isinstance(sets, (str, Mapping)) or not sets:
                raise ValueError("job_parameters_list must be a non-empty list of dicts keyed by task name")
            for index, item in enumerate(sets):
                check_job_parameters(item, f"job_parameters_list[{index}]")
            return
        if self.aois is not None:
            if isinstance(self.aois, (str, Mapping)) or not list(self.aois):
                raise ValueError("aois must be a non-empty list of AOIs; wrap a single AOI in a list")
            self.aois = [resolve_aoi(a, name=f"aois[{i}]") for i, a in enumerate(self.aois)]
        for pair in self.interval_dates or []:
            if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
                raise ValueError(f"interval_dates items must be (start, end) pairs, got {pair!r}")
            P.format_time_period(pair[0], pair[1])
        as_positive_int(self.limit_per_job, "limit_per_job", allow_none=False)

    def parameter_sets(self, workflow_id: str | None) -> list[dict[str, Any]]:
        """One job input per set, in a stable order (job ``i`` always gets set ``i``)."""
        if self.is_current:
            if self.items not in (None, "", []):
                raw = self.items if isinstance(self.items, list | tuple) else [self.items]
                hrefs = [item_href(i) for i in raw]
            else:
                hrefs = [
                    item_href(item)
                    for order_id in parse_ids(self.order_ids, name="order_ids")
                    for item in self.hook.iter_order_items(order_id)
                ]
            if not hrefs:
                raise ValueError("no input item: the orders delivered nothing yet (wait until FULFILLED)")
            return [{**dict(self.process_inputs or {}), "item": href} for href in hrefs]
        assert workflow_id is not None  # 2023 runs resolve their workflow first (execute)
        if self.job_parameters_list is not None:
            base = self.hook.construct_job_parameters(workflow_id)
            sets = [deep_merge(base, item) for item in self.job_parameters_list]
        else:
            sets = self.hook.construct_job_parameters_parallel(
                workflow_id,
                geometries=self.aois,
                interval_dates=[tuple(p) for p in self.interval_dates] if self.interval_dates else None,
                scene_ids=parse_ids(self.scene_ids, name="scene_ids") if self.scene_ids is not None else None,
                limit_per_job=int(self.limit_per_job),
                geometry_operation=self.geometry_operation,
            )
        if self.job_parameters:
            sets = [deep_merge(s, self.job_parameters) for s in sets]
        return sets

    # ------------------------------------------------------------------------------- execution

    def execute(self, context: Context) -> dict[str, Any]:
        self._check_arguments()
        if self.is_current:
            workflow_id = None
            sets = self.parameter_sets(None)
            limit = self.max_concurrent_jobs or CURRENT_CONCURRENCY
            what = f"process {self.process_id}"
        else:
            workflow_id = resolve_workflow(
                self.hook, self.workflow_id, self.workflow_name, self.blocks, self.workflow_description
            )
            sets = self.parameter_sets(workflow_id)
            limit = self._concurrency()
            what = f"workflow {workflow_id}"
        self.log.info("%d job(s) to run with %s, at most %d at a time", len(sets), what, limit)
        if self.max_credits is not None:
            self._price_all(context, workflow_id, sets)
        progress: dict[str, Any] = {
            "process_id": self.process_id if self.is_current else None,
            "workflow_id": workflow_id,
            "count": len(sets),
            "limit": limit,
            "jobs": {},
            "statuses": {},
            "end_time": self.end_time(),
        }
        return self._run(context, progress, sets)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, progress: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A job ended (trigger mode "any"): record it, start queued jobs, defer again or finish."""
        progress = resumed(context, "progress", progress)
        if not progress:
            raise AirflowException("The progress of the parallel jobs was lost; clear the task to re-attach")
        self._check_arguments()
        self._record(WaitResult.from_event(event), progress)
        sets = self.parameter_sets(progress["workflow_id"])
        return self._run(context, progress, sets)

    def _record(self, result: WaitResult, progress: dict[str, Any]) -> None:
        """What a wait on the running jobs (mode "any") saw; a time-out or error fails the task."""
        if result.status not in ("success", "failure"):
            result.raise_for_status()
        if result.state is not None:
            progress["statuses"].update(result.state.statuses)
            self._log_messages(result.state)

    def _price_all(self, context: Context, workflow_id: str | None, sets: list[dict[str, Any]]) -> None:
        """Price (today: also validate) every job before the first starts: nothing starts when one
        cannot run or all together cost more than ``max_credits``."""
        costs: list[float] = []
        for index, inputs in enumerate(sets):
            if self.is_current:
                checked = self.hook.check_process(
                    str(self.process_id), {**inputs, "title": job_name(self.name, context, index)}
                )
                if checked["errors"]:
                    raise AirflowFailException(
                        f"job {index} (item {inputs.get('item')}) cannot run: {checked['errors']}; "
                        "no job was started"
                    )
                credits = (checked["cost"] or {}).get("totalCredits")
                costs.append(float(credits) if isinstance(credits, int | float) else 0.0)
            elif not self.test_jobs:
                assert workflow_id is not None
                costs.append(float(estimated_credits(self.hook.estimate_job(workflow_id, inputs))))
        total = sum(costs)
        self.log.info("The %d job(s) are estimated at %g credits", len(sets), total)
        if total > float(self.max_credits or 0):
            raise AirflowFailException(
                f"The {len(sets)} job(s) would cost {total:g} credits, more than max_credits="
                f"{self.max_credits}; no job was started. Raise max_credits or run fewer jobs."
            )

    def _concurrency(self) -> int:
        project = self.hook.get_max_concurrent_jobs()
        wanted = self.max_concurrent_jobs
        if wanted is not None and wanted > project:
            self.log.warning(
                "max_concurrent_jobs=%d exceeds the project's %d; using %d", wanted, project, project
            )
        return min(project, wanted) if wanted is not None else project

    def _run(self, context: Context, progress: dict[str, Any], sets: list[dict[str, Any]]) -> Any:
        """Start jobs into free slots and wait for one to end, until all ended."""
        if len(sets) != progress["count"]:
            raise AirflowException(
                f"The parameter sets changed while the task ran ({progress['count']} -> {len(sets)} sets)"
            )
        jobs: dict[str, str] = progress["jobs"]
        statuses: dict[str, str] = progress["statuses"]
        while True:
            self._check_failures(progress)
            running = [j for j in jobs.values() if classify_job_status(statuses.get(j)) == "running"]
            queued = [i for i in range(len(sets)) if str(i) not in jobs]
            refused = False
            for index in queued:
                if len(running) >= progress["limit"]:
                    break
                try:
                    job = self._start(progress, sets[index], job_name(self.name, context, index))
                except UP42Error as exc:
                    if not is_concurrency_refusal(exc):
                        raise
                    self.log.info("UP42 has no free job slot (%s); job %d stays queued", exc.message, index)
                    refused = True
                    break
                jobs[str(index)] = job["id"]
                statuses[job["id"]] = str(job.get("status"))
                self.log.info("Job %d/%d: %s is %s", index + 1, len(sets), job["id"], job.get("status"))
                if classify_job_status(job.get("status")) == "running":
                    running.append(job["id"])
                self._push_ids(context, progress)
                self._check_failures(progress)  # a job may fail before the next one would start
            self._push_ids(context, progress)
            self._check_failures(progress)
            queued = [i for i in range(len(sets)) if str(i) not in jobs]
            if not running and not queued:
                return self._finish(progress)
            if not running:  # slots held by jobs outside this task: try again later
                self._sleep_or_timeout(progress, refused)
                continue
            result = wait_or_defer(
                self,
                context,
                "job",
                running,
                hook=self.hook,
                deferrable=self.deferrable,
                poll_interval=self.poll_interval,
                end_time=progress["end_time"],
                mode="any",
                fail_fast=False,
                resume={"progress": progress},
            )
            self._record(result, progress)

    def _start(self, progress: dict[str, Any], inputs: dict[str, Any], name: str) -> dict[str, Any]:
        """Start job ``name`` (or find the one an earlier try started), in either generation."""
        if progress.get("process_id"):
            return self.hook.execute_process(
                str(progress["process_id"]), {**inputs, "title": name}, reuse_existing=True
            )
        return start_job(
            self.hook,
            progress["workflow_id"],
            inputs,
            name,
            dry_run=self.test_jobs,
            rerun_failed=self.rerun_failed,
        )

    def _sleep_or_timeout(self, progress: dict[str, Any], refused: bool) -> None:
        end_time = progress.get("end_time")
        if end_time is not None and time.time() > end_time:
            raise AirflowException("Timed out waiting for a free UP42 job slot")
        if not refused:
            raise AirflowException("Nothing runs and nothing could start: this is a bug, please report it")
        time.sleep(self.poll_interval)

    def _check_failures(self, progress: dict[str, Any]) -> None:
        failed = [
            j
            for j in progress["jobs"].values()
            if classify_job_status(progress["statuses"].get(j)) == "failure"
        ]
        if len(failed) > self.max_failed_jobs:
            state = check_jobs(self.hook, failed)
            running = [
                j
                for j in progress["jobs"].values()
                if classify_job_status(progress["statuses"].get(j)) == "running"
            ]
            raise UP42JobsFailedError(
                f"{len(failed)} UP42 job(s) failed, more than max_failed_jobs={self.max_failed_jobs}; "
                f"no further jobs were started ({len(running)} still running: {', '.join(running) or '-'}).\n"
                + state.failure_message()
            )

    def _log_messages(self, state: WaitState) -> None:
        for job_id in state.terminal:
            self.log.info("Job %s ended %s", job_id, state.statuses.get(job_id))
            if state.messages.get(job_id):
                self.log.warning("%s", state.messages[job_id])

    def _finish(self, progress: dict[str, Any]) -> dict[str, Any]:
        ordered = [progress["jobs"][str(i)] for i in range(progress["count"])]
        statuses = {j: progress["statuses"].get(j, "?") for j in ordered}
        succeeded = [j for j in ordered if classify_job_status(statuses[j]) == "success"]
        failed = [j for j in ordered if classify_job_status(statuses[j]) == "failure"]
        for index, job_id in enumerate(ordered):
            self.log.info("Job %d: %s %s", index, job_id, statuses[job_id])
        if failed:
            self.log.warning(
                "%d job(s) failed (tolerated: %d): %s", len(failed), self.max_failed_jobs, failed
            )
        return {"job_ids": ordered, "succeeded": succeeded, "failed": failed, "statuses": statuses}

    def _push_ids(self, context: Context, progress: dict[str, Any]) -> None:
        ids = [progress["jobs"][k] for k in sorted(progress["jobs"], key=int)]
        if ids != self.job_ids:
            self.job_ids = ids
            self.push_link_ids(context, XCOM_JOB_IDS, ids)

    def on_kill(self) -> None:
        """Cancel this task's unfinished 2023 jobs on UP42 (best effort; today's API cannot)."""
        if self.is_current:
            return
        for job_id in self.job_ids:
            try:
                if classify_job_status(self.hook.get_job(job_id).get("status")) == "running":
                    self.hook.cancel_job(job_id)
                    self.log.info("Cancelled UP42 job %s", job_id)
            except Exception:
                self.log.warning("Could not cancel UP42 job %s", job_id, exc_info=True)
