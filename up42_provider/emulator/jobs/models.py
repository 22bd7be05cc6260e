"""Jobs and job tasks of the 2023 processing platform: records, the store and their life cycle.

A job follows the plan made at creation (``workflows.plan_run``: selected scenes and the price of every task),
so the estimate (``workflows.responses.estimate_job``) and the charged credits agree. Time progression is
lazy: the state's ticker and every request call :meth:`JobStore.advance`, which applies every transition that
is due, stamped with its *scheduled* time (a clock jump replays the whole history).

Lifecycle (nominal seconds, divided by ``speed``): ``NOT STARTED`` 2 s -> ``PENDING`` 5 s -> ``RUNNING`` (20 s
per task, tasks in workflow order, each task ``NOT STARTED`` -> ``RUNNING`` -> ``SUCCEEDED``) ->
``SUCCEEDED``. Credits are charged per task when it succeeds. Every job status change (including the initial
``NOT STARTED``) emits a ``job.status`` event.

Behaviour the UP42 documentation leaves open (our assumptions):

* ``jobs.responses.create_job`` answers **200** with the whole job object. ``name`` defaults to the workflow
  name. The job's ``inputs`` are the submitted body without ``config``. Refusals, in this order: invalid
  inputs **400**; ``MAX_CONCURRENT_JOBS`` non-terminal (incl. ``CANCELLING``) ``DEFAULT`` jobs **409**
  ``"Maximum number of concurrent jobs (N) reached"``; credits below the estimate **402**. Nothing is created
  when refused. ``DRY_RUN`` jobs are free, not counted as concurrent, and quick (1 s, 1 s, 2 s per task);
  their outputs carry metadata only (no ``up42.data_path``, no GeoTIFFs).
* Failure triggers: a job name containing ``emulator-error`` -> the first task ends in ``ERROR`` after 30 % of
  its run and the job is ``ERROR``; ``emulator-fail`` -> the last task ``FAILED`` after 60 % of its run
  (earlier tasks succeed and are charged) and the job is ``FAILED``. The failing task's log ends with a
  traceback; tasks that never started stay ``NOT STARTED``. The job ``error`` is then ``{"code":
  "JOB_FAILED"|"JOB_ERROR", "message": ...}`` (``null`` otherwise). A task whose credits cannot be charged any
  more fails the same way.
* ``jobs.responses.cancel_job`` on ``NOT STARTED``/``PENDING``/``RUNNING``: job and running task go to
  ``CANCELLING``, then after 3 s to ``CANCELLED`` (unstarted tasks too); on ``CANCELLING`` it is a no-op; on a
  terminal job it is **409**. Answers 200 with the job.
* ``jobs.responses.list_jobs`` pages hold **50** jobs by default (``size=1..100`` is accepted too); past the
  end ``data`` is ``[]``; unknown sort fields are 400; ``null`` timestamps sort last in both directions.
* ``jobs.responses.job_data_json``/``jobs.responses.job_results`` answer **404** until the job ``SUCCEEDED``;
  ``jobs.responses.task_data_json``/``jobs.responses.task_results`` until that task ``SUCCEEDED``.
  ``jobs.responses.job_data_json`` is the last task's data.json.
* ``jobs.responses.task_logs`` is ``text/plain``: Python-logging style lines, revealed as their time passes;
  ``""`` before the task starts. ``jobs.responses.quicklooks`` lists ``<scene id>.png`` for a succeeded
  data-block task, ``[]`` otherwise. Tiling makes one feature (and GeoTIFF) per tile (at most 4 x 4 per input
  feature), any other processing block one GeoTIFF per input feature (also vector blocks such as ship
  detection: the product writer only makes rasters). In ``DRY_RUN`` jobs processing tasks pass the scenes
  through.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapely.geometry import box, shape

from up42_provider.emulator.clock import iso
from up42_provider.emulator.http import ApiError, bad_request
from up42_provider.emulator.media import products
from up42_provider.emulator.workflows.models import (
    TASK_SECONDS,
    TaskPlan,
    Workflow,
    block_version,
    data_aoi,
    is_data_block,
    job_mode,
    plan_run,
    resolve_inputs,
)

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

NOT_STARTED, PENDING, RUNNING, SUCCEEDED = "NOT STARTED", "PENDING", "RUNNING", "SUCCEEDED"
FAILED, ERROR, CANCELLING, CANCELLED = "FAILED", "ERROR", "CANCELLING", "CANCELLED"
ACTIVE = frozenset({NOT_STARTED, PENDING, RUNNING, CANCELLING})

# Nominal seconds: (NOT STARTED, PENDING, per task) for real and dry-run jobs; cancellation.
DEFAULT_TIMES = (2.0, 5.0, TASK_SECONDS)
DRY_RUN_TIMES = (1.0, 1.0, 2.0)
CANCEL_SECONDS = 3.0
FAIL_AT, ERROR_AT = 0.6, 0.3  # fraction of the failing task's run time

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
SORT_FIELDS = ("createdAt", "name", "id", "mode", "status", "startedAt", "finishedAt")
MAX_TILES_PER_SIDE = 4


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found", title="Resource does not exist.")


def _log_time(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]


@dataclass
class JobTask:
    id: str
    plan: TaskPlan
    status: str = NOT_STARTED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    features: list[dict[str, Any]] | None = None  # set when the task succeeds
    quicklooks: dict[str, int] = field(default_factory=dict)  # file name -> image seed
    log: list[tuple[datetime, str]] = field(default_factory=list)
    charged: int = 0
    error: str | None = None

    @property
    def name(self) -> str:
        return self.plan.task.name

    @property
    def block(self) -> dict[str, Any]:
        return self.plan.task.block

    def as_json(self, job: Job) -> dict[str, Any]:
        block = self.block
        return {
            "id": self.id,
            "name": self.name,
            "jobId": job.id,
            "workflowTaskId": self.plan.task.id,
            "status": self.status,
            "startedAt": iso(self.started_at) if self.started_at else None,
            "finishedAt": iso(self.finished_at) if self.finished_at else None,
            "block": {"id": block["id"], "name": block["name"], "displayName": block.get("displayName")},
            "blockName": block["name"],
            "blockVersion": block_version(block),
            "error": self.error,
        }


@dataclass
class Job:
    id: str
    name: str
    mode: str
    workflow_id: str
    workflow_name: str
    inputs: dict[str, Any]
    created_at: datetime
    tasks: list[JobTask]
    seed: int
    outcome: str  # SUCCEEDED, FAILED or ERROR: what the run will end with
    status: str = NOT_STARTED
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: dict[str, Any] | None = None
    cancel_due: datetime | None = None

    @property
    def times(self) -> tuple[float, float, float]:
        return DRY_RUN_TIMES if self.mode == "DRY_RUN" else DEFAULT_TIMES

    @property
    def credits_used(self) -> int:
        return sum(t.charged for t in self.tasks)

    def as_json(self, state: EmulatorState) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayId": self.id[:8],
            "name": self.name,
            "mode": self.mode,
            "status": self.status,
            "projectId": state.config.project_id,
            "workflowId": self.workflow_id,
            "workflowName": self.workflow_name,
            "inputs": self.inputs,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at or self.created_at),
            "startedAt": iso(self.started_at) if self.started_at else None,
            "finishedAt": iso(self.finished_at) if self.finished_at else None,
            "error": self.error,
            "createdBy": {"id": state.user_id, "type": "USER"},
        }


class JobStore:
    """The project's jobs (``state.jobs``); :meth:`advance` applies due transitions."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._jobs: dict[str, Job] = {}
        self._active: list[Job] = []

    # -- queries -----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        with self._state.lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise not_found(f"Job {job_id}")
        return job

    def all(self) -> list[Job]:
        with self._state.lock:
            return list(self._jobs.values())

    def running_real_jobs(self) -> int:
        with self._state.lock:
            return sum(1 for j in self._active if j.mode == "DEFAULT" and j.status in ACTIVE)

    # -- creation ------------------------------------------------------------------------------
    def create(self, workflow: Workflow, name: str, body: dict[str, Any]) -> Job:
        """Validate, plan and start a job (``jobs.responses.create_job``); raises 400/409/402 with nothing
        created.

        Blocking (catalogue search): call it from a worker thread.
        """
        state = self._state
        inputs = dict(body)
        mode = job_mode(inputs.pop("config", None))
        with state.lock:
            tasks = list(workflow.tasks)
        if not tasks:
            raise bad_request(f"Workflow {workflow.id} has no tasks: add tasks before running a job")
        resolved = resolve_inputs(state, tasks, inputs)
        plans = plan_run(state, tasks, resolved, dry_run=mode == "DRY_RUN")
        with state.lock:
            if mode == "DEFAULT":
                limit = int(state.settings.get("MAX_CONCURRENT_JOBS", state.config.max_concurrent_jobs))
                if self.running_real_jobs() >= limit:
                    raise ApiError(
                        409, f"Maximum number of concurrent jobs ({limit}) reached", title="Conflict"
                    )
                state.credits.require(sum(p.credits for p in plans))
            job_id = state.new_id()
            outcome = SUCCEEDED
            if "emulator-error" in name:
                outcome = ERROR
            elif "emulator-fail" in name:
                outcome = FAILED
            job = Job(
                id=job_id,
                name=name,
                mode=mode,
                workflow_id=workflow.id,
                workflow_name=workflow.name,
                inputs=inputs,
                created_at=state.clock.now(),
                tasks=[JobTask(state.new_id(), plan) for plan in plans],
                seed=products.derive_seed(state.config.seed, "job", job_id),
                outcome=outcome,
            )
            self._jobs[job.id] = job
            self._active.append(job)
            self._set_status(job, NOT_STARTED, job.created_at)
            return job

    # -- progression -----------------------------------------------------------------------------
    def advance(self, now: datetime) -> None:
        with self._state.lock:
            for job in list(self._active):
                self._advance_job(job, now)
                if job.status not in ACTIVE:
                    self._active.remove(job)

    def _seconds(self, nominal: float) -> timedelta:
        return timedelta(seconds=self._state.config.duration(nominal))

    def _advance_job(self, job: Job, now: datetime) -> None:
        queued, pending, per_task = (self._seconds(s) for s in job.times)
        while True:
            if job.status == NOT_STARTED and now >= job.created_at + queued:
                self._set_status(job, PENDING, job.created_at + queued)
            elif job.status == PENDING and now >= job.created_at + queued + pending:
                at = job.created_at + queued + pending
                job.started_at = at
                self._set_status(job, RUNNING, at)
                self._start_task(job, 0, at)
            elif job.status == RUNNING:
                index, task = next(
                    ((i, t) for i, t in enumerate(job.tasks) if t.status == RUNNING), (-1, None)
                )
                if task is None or task.started_at is None:
                    return
                fails = self._failing_fraction(job, index)
                if fails is not None and now >= task.started_at + per_task * fails:
                    self._fail(job, task, task.started_at + per_task * fails)
                elif fails is None and now >= task.started_at + per_task:
                    at = task.started_at + per_task
                    if not self._complete_task(job, index, at):
                        continue
                    if index + 1 < len(job.tasks):
                        self._start_task(job, index + 1, at)
                    else:
                        job.finished_at = at
                        self._set_status(job, SUCCEEDED, at)
                        self._register_job_results(job)
                else:
                    return
            elif job.status == CANCELLING and job.cancel_due is not None and now >= job.cancel_due:
                at = job.cancel_due
                for task in job.tasks:
                    if task.status in (NOT_STARTED, RUNNING, CANCELLING):
                        if task.status != NOT_STARTED:
                            task.log.append((at, f"{_log_time(at)} - up42.runner - WARNING - Task cancelled"))
                        task.status, task.finished_at = CANCELLED, at
                job.finished_at = at
                self._set_status(job, CANCELLED, at)
            else:
                return

    def _failing_fraction(self, job: Job, index: int) -> float | None:
        if job.outcome == ERROR and index == 0:
            return ERROR_AT
        if job.outcome == FAILED and index == len(job.tasks) - 1:
            return FAIL_AT
        return None

    def _set_status(self, job: Job, status: str, at: datetime) -> None:
        job.status, job.updated_at = status, at
        state = self._state
        state.emit(
            "job.status",
            {
                "jobId": job.id,
                "jobName": job.name,
                "projectId": state.config.project_id,
                "workflowId": job.workflow_id,
                "status": status,
                "statusChangedAt": iso(at),
            },
        )

    def _start_task(self, job: Job, index: int, at: datetime) -> None:
        task = job.tasks[index]
        task.status, task.started_at = RUNNING, at
        parent = job.tasks[index - 1].features if index else None
        task.features = None
        task.log = _task_log(job, task, parent, at, self._seconds(job.times[2]))

    def _complete_task(self, job: Job, index: int, at: datetime) -> bool:
        """Charge and publish a finished task; False (task and job failed) when credits run out."""
        task = job.tasks[index]
        if job.mode == "DEFAULT" and task.plan.credits > 0:
            try:
                self._charge(job, task, at)
            except ApiError as exc:
                task.log = [line for line in task.log if line[0] <= at]
                self._fail(job, task, at, reason=exc.message, status=FAILED)
                return False
        parent = job.tasks[index - 1].features if index else None
        task.features = _task_features(job, task, parent)
        if is_data_block(task.block):
            task.quicklooks = {
                f"{scene.id}.png": products.derive_seed(job.seed, "quicklook", scene.id)
                for scene in task.plan.scenes
            }
        task.status, task.finished_at = SUCCEEDED, at
        self._register_task_results(job, task)
        return True

    def _charge(self, job: Job, task: JobTask, at: datetime) -> None:
        state, plan, cfg = self._state, task.plan, self._state.config
        state.credits.require(plan.credits)
        block = task.block
        common = {
            "accountId": cfg.account_id,
            "blockDisplayName": block.get("displayName", block["name"]),
            "blockId": block["id"],
            "blockName": block["name"],
            "blockVersion": block_version(block),
            "jobId": job.id,
            "jobName": job.name,
            "jobTaskId": task.id,
            "machineName": "SMALL" if is_data_block(block) else "MEDIUM",
            "projectId": cfg.project_id,
            "projectName": state.project.get("name"),
            "userId": state.user_id,
            "workflowId": job.workflow_id,
            "workflowName": job.workflow_name,
            "workspaceId": cfg.workspace_id,
            "createdAt": iso(at),
        }
        resources = plan.consumption["blockConsumption"]["resources"]
        usage = {"quantity": resources["max"], "unit": resources["unit"]}
        duration = plan.consumption["machineConsumption"]["duration"]["max"]
        machine = {"cpu": 2000, "duration": duration, "memory": 10737418240}
        for credits, extra in ((plan.block_credits, usage), (plan.machine_credits, machine)):
            if credits <= 0:
                continue
            consumption = {**common, **extra, "creditsUsed": credits, "id": state.new_id()}
            state.credits.charge(
                credits,
                "JOB_TASK",
                f"Consumption for {task.id}",
                details={"id": task.id, "consumption": consumption},
            )
            task.charged += credits

    def _fail(
        self, job: Job, task: JobTask, at: datetime, reason: str | None = None, status: str | None = None
    ) -> None:
        status = status or job.outcome
        if reason is None:
            trigger = "emulator-error" if status == ERROR else "emulator-fail"
            reason = (
                "Internal error: the task's machine was lost"
                if status == ERROR
                else "Processing failed: could not process the input data"
            ) + f" (job name contains '{trigger}')"
        task.log = [line for line in task.log if line[0] <= at] + _error_tail(task, at, reason)
        task.status, task.finished_at, task.error = status, at, reason
        job.finished_at = at
        code = "JOB_ERROR" if status == ERROR else "JOB_FAILED"
        job.error = {"code": code, "message": f"Job task {task.name} ({task.id}) {status.lower()}: {reason}"}
        self._set_status(job, status, at)

    def cancel(self, job: Job) -> None:
        state = self._state
        with state.lock:
            if job.status == CANCELLING:
                return
            if job.status not in ACTIVE:
                raise ApiError(
                    409, f"Job {job.id} is {job.status} and can no longer be cancelled", title="Conflict"
                )
            now = state.clock.now()
            for task in job.tasks:
                if task.status == RUNNING:
                    task.log = [line for line in task.log if line[0] <= now]
                    task.log.append(
                        (now, f"{_log_time(now)} - up42.runner - WARNING - Cancellation requested")
                    )
                    task.status = CANCELLING
            job.cancel_due = now + self._seconds(CANCEL_SECONDS)
            self._set_status(job, CANCELLING, now)

    # -- results ----------------------------------------------------------------------------------
    def data_json(self, job: Job, task: JobTask) -> dict[str, Any]:
        features = task.features or []
        if job.mode == "DRY_RUN":
            return products.feature_collection(features)
        return products.job_data_json(features, job.seed)

    def _register(self, key: str, filename: str, job: Job, task: JobTask) -> None:
        blobs = self._state.blobs
        if blobs.has(key):
            return
        features = list(task.features or [])
        if job.mode == "DRY_RUN":
            build: Callable[[Path], Any] = _dry_run_archive(self.data_json(job, task))
        else:
            seed = job.seed

            def build(path: Path) -> None:
                products.write_job_results(path, features, seed)

        blobs.register(key, filename, "application/gzip", build)

    def _register_task_results(self, job: Job, task: JobTask) -> None:
        self._register(f"jobtask:{task.id}", f"{task.id}.tgz", job, task)

    def _register_job_results(self, job: Job) -> None:
        self._register(f"job:{job.id}", f"{job.id}.tgz", job, job.tasks[-1])


def _dry_run_archive(collection: dict[str, Any]) -> Callable[[Path], None]:
    """A results archive with ``output/data.json`` only (test queries deliver no imagery)."""
    payload = json.dumps(collection, indent=2).encode()

    def build(path: Path) -> None:
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=1_704_067_200) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            folder = tarfile.TarInfo("output")
            folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, 1_704_067_200
            tar.addfile(folder)
            info = tarfile.TarInfo("output/data.json")
            info.size, info.mode, info.mtime = len(payload), 0o644, 1_704_067_200
            tar.addfile(info, io.BytesIO(payload))

    return build


# -- outputs -----------------------------------------------------------------------------------------


def _task_features(job: Job, task: JobTask, parent: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The features a task outputs: clipped scenes (data block), tiles (tiling) or 1:1 products."""
    dry = job.mode == "DRY_RUN"

    def output(feature: dict[str, Any], key: object, geometry: Any = None) -> dict[str, Any]:
        out = products.output_feature(feature, products.item_id(job.seed, task.id, key), geometry)
        if dry:
            out["properties"].pop("up42.data_path", None)
        return out

    if parent is None:  # the data block
        _, aoi = data_aoi(task.plan.params, task.name)
        aoi_json = aoi.__geo_interface__ if aoi is not None else None
        return [
            output(scene.feature(), scene.id, products.clip_geometry(scene.geometry, aoi_json))
            for scene in task.plan.scenes
        ]
    if dry:
        return [dict(f) for f in parent]
    if "tiling" in task.block["name"]:
        return [
            output(tile, (index, row, col), geometry)
            for index, feature in enumerate(parent)
            for row, col, geometry, tile in _tiles(feature, task.plan.params)
        ]
    return [output(feature, index) for index, feature in enumerate(parent)]


def _tiles(feature: dict[str, Any], params: dict[str, Any]) -> list[tuple[int, int, Any, dict[str, Any]]]:
    """Split a feature's extent into a grid of tiles of about ``tile_width`` x ``tile_height`` px."""
    geometry = shape(feature["geometry"])
    minx, miny, maxx, maxy = geometry.bounds
    props = feature.get("properties") or {}
    resolution = float(props.get("resolution") or 10.0)
    tile_w = float(params.get("tile_width") or 768)
    tile_h = float(params.get("tile_height") or tile_w)
    width_px = (maxx - minx) * 111_320 * math.cos(math.radians((miny + maxy) / 2)) / resolution
    height_px = (maxy - miny) * 110_574 / resolution
    cols = max(1, min(MAX_TILES_PER_SIDE, math.ceil(width_px / tile_w)))
    rows = max(1, min(MAX_TILES_PER_SIDE, math.ceil(height_px / tile_h)))
    dx, dy = (maxx - minx) / cols, (maxy - miny) / rows
    tiles = []
    for row in range(rows):
        for col in range(cols):
            cell = box(minx + col * dx, maxy - (row + 1) * dy, minx + (col + 1) * dx, maxy - row * dy)
            part = cell.intersection(geometry)
            if part.is_empty or part.area <= 0 or part.geom_type not in ("Polygon", "MultiPolygon"):
                continue
            tile_props = {**props, "up42.tile": {"row": row, "col": col, "width": tile_w, "height": tile_h}}
            tiles.append((row, col, part.__geo_interface__, {**feature, "properties": tile_props}))
    return tiles


# -- logs ---------------------------------------------------------------------------------------------


def _task_log(
    job: Job, task: JobTask, parent: list[dict[str, Any]] | None, start: datetime, duration: timedelta
) -> list[tuple[datetime, str]]:
    """Timestamped log lines spread over the task's run (revealed as time passes)."""
    block = task.block
    params = {k: v for k, v in task.plan.params.items() if k not in ("intersects", "contains")}
    messages = [
        f"Starting job task {task.id} ({task.name}, block {block['name']} {block_version(block)})",
        f"Job {job.id} ({job.mode}), workflow {job.workflow_id}",
        f"Loaded task parameters: {json.dumps(params, default=str)}",
    ]
    if parent is None:
        scenes = task.plan.scenes
        collection = block.get("collection", "unknown")
        messages.append(f"Searching collection '{collection}' ...")
        messages.append(f"Found {len(scenes)} scene(s) matching the query")
        for number, scene in enumerate(scenes, start=1):
            verb = "Fetching metadata of" if job.mode == "DRY_RUN" else "Downloading and clipping"
            messages.append(f"{verb} scene {scene.id} ({number}/{len(scenes)})")
    else:
        messages.append(f"Received {len(parent)} feature(s) from the parent task")
        for number, feature in enumerate(parent[:20], start=1):
            messages.append(
                f"Processing feature {number}/{len(parent)}: {feature['properties'].get('id', '-')}"
            )
    messages.append("Writing output/data.json")
    step = duration * 0.9 / len(messages)
    lines = [
        (start + step * i, f"{_log_time(start + step * i)} - up42.runner - INFO - {m}")
        for i, m in enumerate(messages)
    ]
    end = start + duration
    lines.append((end, f"{_log_time(end)} - up42.runner - INFO - Job task {task.id} finished successfully"))
    return lines


def _error_tail(task: JobTask, at: datetime, reason: str) -> list[tuple[datetime, str]]:
    stamp = f"{_log_time(at)} - up42.runner - ERROR - "
    tail = [
        "Traceback (most recent call last):",
        '  File "/block/src/run.py", line 57, in <module>',
        "    run(task_parameters)",
        f'  File "/block/src/{task.block["name"].replace("-", "_")}.py", line 214, in run',
        "    result = process(features, parameters)",
        f"up42.exceptions.UP42Error: {reason}",
        f"Job task {task.id} ended with an error",
    ]
    return [(at, stamp + line) for line in tail]
