"""Today's processing API: fixed processes applied to STAC items in storage, and the jobs they run.

A process (``PROCESSES``) takes ``inputs`` that name storage items by their ``self`` href. The same
checks serve validation, cost and execution (:func:`check_inputs`): a schema problem (a missing,
unknown or mistyped property) is a 400 with ``schema-error``; a semantic one (an item that is not
in storage, a title that is too long, a grey weight on a band the item lacks) is a 422 listing
``errors`` of ``{"name", "message"}``. Execution refuses neither: like the real service it creates
the job, which then ends ``invalid`` with those errors in ``results.errors``.

Life cycle (nominal seconds, divided by ``speed``, each transition stamped with its scheduled time):
``created`` 1 s -> ``licensed`` 1 s -> ``valid`` 1 s -> ``accepted`` 2 s -> ``running`` 10 s ->
``successful`` 2 s -> ``captured``. The failure exits are ``unlicensed``, ``invalid`` (the inputs,
checked again at that step: an item deleted since execution counts), ``rejected`` (the balance
cannot cover the cost) and ``running`` -> ``failed`` (at 60 % of the run) 2 s -> ``released``.

* Credits: withheld at ``accepted`` (charged to the one account balance, so orders and jobs cannot
  overspend it together, and recorded with the job's ``budgetId``), kept at ``captured``, given back
  at ``released``. ``creditConsumption.credits`` is the cost from ``accepted`` on, 0 once released.
* Results: when the job starts running the result GeoTIFFs are computed from the input item's file
  in a worker thread (``processing.rasters``); ``successful`` waits for them, then publishes one
  STAC collection in storage (``results.collection``, its items carrying ``up42-system:job_id``).
  A result that cannot be computed fails the job like the trigger below.
* Failure triggers: a job title containing ``emulator-fail`` fails while running,
  ``emulator-unlicensed`` ends ``unlicensed`` (every process EULA is accepted otherwise).
* Processing jobs emit no webhook events: webhooks belong to the 2023 generation (the SDK dropped
  them), and their ``job.status`` payload describes workflow jobs.
* 2023 jobs (``jobs.models``) are workflow runs without a process: they stay in their own store and
  do not appear in ``/v2/processing/jobs``, as the real service did not carry them over when it
  retired workflows. Both kinds share the credits, the clock, storage and the blobs.
* Timestamps are ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (``clock.iso``): the SDK cuts them at 23 characters.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from up42_provider.emulator.clock import iso
from up42_provider.emulator.geo import area_km2
from up42_provider.emulator.glossary.models import eula_id
from up42_provider.emulator.http import ApiError
from up42_provider.emulator.processing import results

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

CREATED, LICENSED, UNLICENSED, VALID, INVALID = "created", "licensed", "unlicensed", "valid", "invalid"
ACCEPTED, REJECTED, RUNNING, SUCCESSFUL = "accepted", "rejected", "running", "successful"
FAILED, CAPTURED, RELEASED = "failed", "captured", "released"
STATUSES: tuple[str, ...] = (CREATED, LICENSED, UNLICENSED, VALID, INVALID, ACCEPTED, REJECTED, RUNNING)
STATUSES += (SUCCESSFUL, FAILED, CAPTURED, RELEASED)
TERMINAL = frozenset({UNLICENSED, INVALID, REJECTED, CAPTURED, RELEASED})

# Nominal seconds spent in each status before the next one.
STEP_SECONDS = {CREATED: 1.0, LICENSED: 1.0, VALID: 1.0, ACCEPTED: 2.0, SUCCESSFUL: 2.0, FAILED: 2.0}
RUN_SECONDS = 10.0
FAIL_AT = 0.6
MAX_TITLE = 100


@dataclass(frozen=True)
class Process:
    """One process: its inputs form (``kind``), price per km² of input and result algorithm."""

    id: str
    title: str
    kind: str  # "single", "pansharpening", "two", "change"
    credits_per_km2: float
    algorithm: str

    @property
    def eula_id(self) -> str:
        """Its EULA in the glossary (``/v2/eulas/{id}``), where acceptance is recorded."""
        return eula_id(f"process:{self.id}")

    def description(self) -> dict[str, Any]:
        """The OGC-API-Processes description; the SDK reads only the ``eula-id`` parameter."""
        string, uri = {"type": "string"}, {"type": "string", "format": "uri"}
        inputs: dict[str, Any] = {
            "title": {"title": "Job title", "schema": {**string, "maxLength": MAX_TITLE}}
        }
        required = ["title", *INPUT_ITEMS[self.kind]]
        for name in INPUT_ITEMS[self.kind]:
            inputs[name] = {"title": "STAC item self href in storage", "schema": uri}
        if self.kind == "pansharpening":
            weight = {"type": "object", "properties": {"band": string, "weight": {"type": "number"}}}
            inputs["greyWeights"] = {"schema": {"type": "array", "items": weight}}
        if self.kind == "change":
            inputs["sensitivity"] = {"schema": {"type": "number", "minimum": 1, "maximum": 5}}
        return {
            "id": self.id,
            "title": self.title,
            "description": f"{self.title} of STAC items in your storage",
            "version": "1.0.0",
            "jobControlOptions": ["async-execute"],
            "outputTransmission": ["reference"],
            "inputs": inputs,
            "required": required,
            "outputs": {"results": {"schema": {"type": "string", "format": "uri"}}},
            "additionalParameters": {
                "parameters": [
                    {"name": "eula-id", "value": [self.eula_id]},
                    {"name": "price", "value": [{"credits": self.credits_per_km2, "unit": "SQ_KM"}]},
                ]
            },
            "links": [],
        }


INPUT_ITEMS = {
    "single": ("item",),
    "pansharpening": ("item",),
    "two": ("sourceItem", "referenceItem"),
    "change": ("sourceItem", "referenceItem"),
}
_OPTIONAL = {"single": (), "pansharpening": ("greyWeights",), "two": (), "change": ("sensitivity",)}


def _processes() -> dict[str, Process]:
    table = [
        ("pansharpening", "Pansharpening", "pansharpening", 1.0, "pansharpen"),
        ("upsampling-ns", "Upsampling (Neo Space)", "single", 2.0, "upsample"),
        ("upsampling-ns-sentinel", "Sentinel-2 upsampling (Neo Space)", "single", 0.5, "upsample"),
        ("true-color-conversion", "True color conversion", "single", 0.5, "true_color"),
        ("orthorectification-intermap", "Orthorectification (Intermap)", "single", 1.5, "copy"),
        ("detection-buildings-spacept", "Building detection (SpacePT)", "single", 3.0, "mask:built"),
        ("detection-trees-spacept", "Tree detection (SpacePT)", "single", 3.0, "mask:vegetation"),
        ("detection-shadows-spacept", "Shadow detection (SpacePT)", "single", 2.0, "mask:shadow"),
        ("detection-ships-airbus", "Ship detection (Airbus)", "single", 4.0, "mask:water"),
        ("detection-wind-turbines-airbus", "Wind turbine detection (Airbus)", "single", 4.0, "mask:built"),
        ("detection-storage-tanks-airbus", "Storage tank detection (Airbus)", "single", 4.0, "mask:built"),
        ("detection-trucks-oi", "Truck detection (Orbital Insight)", "single", 3.5, "mask:built"),
        ("detection-cars-oi", "Car detection (Orbital Insight)", "single", 3.5, "mask:built"),
        ("detection-aircraft-oi", "Aircraft detection (Orbital Insight)", "single", 3.5, "mask:built"),
        ("coregistration-simularity", "Co-registration (Simularity)", "two", 1.0, "coregister"),
        ("detection-change-simularity", "Change detection (Simularity)", "change", 5.0, "change"),
    ]
    return {pid: Process(pid, title, kind, price, algorithm) for pid, title, kind, price, algorithm in table}


PROCESSES = _processes()


def find_process(process_id: str) -> Process:
    process = PROCESSES.get(process_id)
    if process is None:
        raise ApiError(404, f"Process {process_id} not found", title=f"Process {process_id} does not exist.")
    return process


# -- inputs ------------------------------------------------------------------------------------------


class InvalidInputs(Exception):
    """The inputs are wrong: ``schema_error`` (400) or semantic ``errors`` (422)."""

    def __init__(self, schema_error: str | None = None, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(schema_error or "; ".join(e["message"] for e in errors or []))
        self.schema_error = schema_error
        self.errors = errors or []


def _schema(process: Process, inputs: Any) -> str | None:
    if not isinstance(inputs, dict):
        return "data.inputs must be object"
    required = ["title", *INPUT_ITEMS[process.kind]]
    missing = [name for name in required if name not in inputs]
    if missing:
        return f"data.inputs must contain {missing} properties"
    allowed = {*required, *_OPTIONAL[process.kind]}
    unknown = sorted(set(inputs) - allowed)
    if unknown:
        return f"data.inputs must NOT have additional properties {unknown} (allowed: {sorted(allowed)})"
    for name in required:
        if not isinstance(inputs[name], str):
            return f"data.inputs.{name} must be string"
    weights = inputs.get("greyWeights")
    if weights is not None:
        if not isinstance(weights, list):
            return "data.inputs.greyWeights must be array"
        for index, entry in enumerate(weights):
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("band"), str)
                and isinstance(entry.get("weight"), int | float)
                and not isinstance(entry.get("weight"), bool)
            ):
                return f"data.inputs.greyWeights[{index}] needs a string 'band' and a number 'weight'"
    sensitivity = inputs.get("sensitivity")
    if sensitivity is not None and (
        not isinstance(sensitivity, int | float) or isinstance(sensitivity, bool)
    ):
        return "data.inputs.sensitivity must be number"
    return None


def check_inputs(state: EmulatorState, process: Process, inputs: Any) -> list[results.InputItem]:
    """The input items of valid ``inputs``, or :class:`InvalidInputs` naming every problem."""
    problem = _schema(process, inputs)
    if problem:
        raise InvalidInputs(schema_error=problem)
    errors: list[dict[str, str]] = []
    title = inputs["title"]
    if not title.strip():
        errors.append({"name": "InvalidTitle", "message": "title must not be empty"})
    elif len(title) > MAX_TITLE:
        errors.append({"name": "InvalidTitle", "message": f"title is too long ({len(title)} > {MAX_TITLE})"})
    items: list[results.InputItem] = []
    for name in INPUT_ITEMS[process.kind]:
        found = results.find_item(state, inputs[name])
        if found is None:
            message = (
                f"{name} {inputs[name]!r} is not an item of your storage: give the self href of a STAC "
                "item, <api>/v2/assets/stac/collections/<collection id>/items/<item id>"
            )
            errors.append({"name": "ItemNotFound", "message": message})
        else:
            items.append(found)
    if len(items) == 2 and items[0].item_id == items[1].item_id:
        errors.append({"name": "IdenticalItems", "message": "sourceItem and referenceItem must differ"})
    if items and process.kind == "pansharpening":
        bands = set(items[0].bands)
        for entry in inputs.get("greyWeights") or []:
            if entry["band"] not in bands:
                message = (
                    f"greyWeights band {entry['band']!r} is not a band of the item (bands: {sorted(bands)})"
                )
                errors.append({"name": "InvalidGreyWeights", "message": message})
    sensitivity = inputs.get("sensitivity")
    if sensitivity is not None and not 1 <= sensitivity <= 5:
        errors.append(
            {"name": "InvalidSensitivity", "message": f"sensitivity must be 1 to 5, got {sensitivity}"}
        )
    if errors:
        raise InvalidInputs(errors=errors)
    return items


@dataclass(frozen=True)
class Cost:
    credits: int
    size_km2: float

    def as_json(self) -> dict[str, Any]:
        return {
            "pricingStrategy": "area",
            "totalCredits": self.credits,
            "totalSize": self.size_km2,
            "unit": "SQ_KM",
        }


def cost_of(process: Process, items: list[results.InputItem]) -> Cost:
    """Price by the area of the first input item (the one processed; a reference is not charged)."""
    size = round(area_km2(items[0].geometry), 2)
    return Cost(max(1, math.ceil(size * process.credits_per_km2)), size)


# -- jobs --------------------------------------------------------------------------------------------


@dataclass
class ProcessingJob:
    id: str
    process: Process
    workspace_id: str
    budget_id: str | None
    inputs: dict[str, Any]
    created: datetime
    fails: bool
    unlicensed: bool
    status: str = CREATED
    updated: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None
    due: datetime | None = None  # when the current status ends
    cost: Cost | None = None
    withheld: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    items: list[results.InputItem] = field(default_factory=list)
    build: results.ResultBuild | None = None
    collection_id: str | None = None  # the results collection in storage, once successful

    def as_json(self, state: EmulatorState, base: str) -> dict[str, Any]:
        collection = f"{base}/v2/assets/stac/collections/{self.collection_id}" if self.collection_id else None
        has_results = collection is not None or self.errors
        return {
            "processID": self.process.id,
            "jobID": self.id,
            "accountID": state.config.account_id,
            "workspaceID": self.workspace_id,
            "definition": {"inputs": self.inputs},
            "status": self.status,
            "results": {"collection": collection, "errors": list(self.errors) or None}
            if has_results
            else None,
            "creditConsumption": {"credits": self.withheld}
            if self.cost and self.status not in _UNPRICED
            else None,
            "created": iso(self.created),
            "updated": iso(self.updated or self.created),
            "started": iso(self.started) if self.started else None,
            "finished": iso(self.finished) if self.finished else None,
        }


_UNPRICED = frozenset({CREATED, LICENSED, UNLICENSED, VALID, INVALID, REJECTED})
TRIGGER_FAIL, TRIGGER_UNLICENSED = "emulator-fail", "emulator-unlicensed"


class ProcessingStore:
    """Today's processing jobs (``state.processing``); :meth:`advance` applies due transitions."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._jobs: dict[str, ProcessingJob] = {}
        self._active: list[ProcessingJob] = []
        self._builds: set[concurrent.futures.Future[None]] = set()
        state.shutdown_hooks.append(self.wait_for_builds)

    def get(self, job_id: str) -> ProcessingJob:
        with self._state.lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"Job {job_id} not found", title=f"Job {job_id} does not exist.")
        return job

    def all(self) -> list[ProcessingJob]:
        with self._state.lock:
            return list(self._jobs.values())

    def execute(
        self, process: Process, inputs: dict[str, Any], workspace_id: str, budget_id: str | None
    ) -> ProcessingJob:
        state = self._state
        raw_title = inputs.get("title")
        title = raw_title if isinstance(raw_title, str) else ""
        with state.lock:
            now = state.clock.now()
            job = ProcessingJob(
                id=state.new_id(),
                process=process,
                workspace_id=workspace_id,
                budget_id=budget_id,
                inputs=inputs,
                created=now,
                fails=TRIGGER_FAIL in title,
                unlicensed=TRIGGER_UNLICENSED in title,
            )
            self._set(job, CREATED, now)
            self._jobs[job.id] = job
            self._active.append(job)
            return job

    # -- progression -----------------------------------------------------------------------------
    def _seconds(self, nominal: float) -> timedelta:
        return timedelta(seconds=self._state.config.duration(nominal))

    def _set(self, job: ProcessingJob, status: str, at: datetime) -> None:
        job.status, job.updated = status, at
        if status in TERMINAL or status in (SUCCESSFUL, FAILED):
            job.finished = job.finished or at
        if status == RUNNING:
            job.started = at
            job.due = at + self._seconds(RUN_SECONDS * (FAIL_AT if job.fails else 1.0))
        elif status in STEP_SECONDS:
            job.due = at + self._seconds(STEP_SECONDS[status])
        else:
            job.due = None

    def advance(self, now: datetime) -> None:
        with self._state.lock:
            for job in list(self._active):
                while job.due is not None and now >= job.due and self._step(job, job.due):
                    pass
                if job.status in TERMINAL:
                    self._active.remove(job)

    def _step(self, job: ProcessingJob, at: datetime) -> bool:
        """Apply the transition due at ``at``; False when it has to wait (results still computing)."""
        state = self._state
        if job.status == CREATED:
            unlicensed = job.unlicensed or not state.glossary.eula(job.process.eula_id).accepted
            self._set(job, UNLICENSED if unlicensed else LICENSED, at)
            if unlicensed and not job.unlicensed:
                message = f"EULA {job.process.eula_id} of the process {job.process.id} not accepted"
                job.errors = [{"name": "EulaNotAccepted", "message": message}]
            elif job.unlicensed:
                message = f"EULA for the process {job.process.id} not accepted"
                message += f" (job title contains '{TRIGGER_UNLICENSED}')"
                job.errors = [{"name": "EulaNotAccepted", "message": message}]
        elif job.status == LICENSED:
            try:
                job.items = check_inputs(state, job.process, job.inputs)
            except InvalidInputs as exc:
                job.errors = exc.errors or [{"name": "InvalidSchema", "message": str(exc.schema_error)}]
                self._set(job, INVALID, at)
            else:
                job.cost = cost_of(job.process, job.items)
                self._set(job, VALID, at)
        elif job.status == VALID:
            assert job.cost is not None
            refused = self._refusal(job)
            if refused:
                job.errors = [refused]
                self._set(job, REJECTED, at)
            else:
                self._withhold(job)
                self._set(job, ACCEPTED, at)
        elif job.status == ACCEPTED:
            algorithm = job.process.algorithm
            job.build = results.start_build(state, job.id, algorithm, job.items, job.inputs, self._builds)
            self._set(job, RUNNING, at)
        elif job.status == RUNNING:
            assert job.build is not None
            if job.fails or job.build.error:
                reason = job.build.error or f"Processing failed (job title contains '{TRIGGER_FAIL}')"
                job.errors = [{"name": "ProcessingFailed", "message": reason}]
                self._set(job, FAILED, at)
            elif not job.build.ready:
                return False
            else:
                at = max(at, job.build.built_at or at)
                job.collection_id = results.publish(state, job.build, job.id, job.inputs["title"])
                self._set(job, SUCCESSFUL, at)
        elif job.status == SUCCESSFUL:
            self._set(job, CAPTURED, at)
        elif job.status == FAILED:
            self._release(job)
            self._set(job, RELEASED, at)
        return True

    async def wait_for_builds(self, timeout: float = 60.0) -> None:
        """Shutdown hook: let result computations finish before the data directory goes away."""
        pending = [asyncio.wrap_future(f) for f in list(self._builds)]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # -- credits (the one call site for the balance and budgets) ---------------------------------
    def _refusal(self, job: ProcessingJob) -> dict[str, str] | None:
        """Why the balance or the job's budget cannot cover its cost (the job ends ``rejected``), if so."""
        assert job.cost is not None
        balance = self._state.credits.balance
        if job.cost.credits > balance:
            message = f"{job.cost.credits} credits required, {balance} available"
            return {"name": "InsufficientCredits", "message": message}
        if job.budget_id:
            try:
                self._state.budgets.require(job.budget_id, job.cost.credits)
            except ApiError as exc:
                return {"name": "BudgetExceeded", "message": exc.message}
        return None

    def _withhold(self, job: ProcessingJob) -> None:
        assert job.cost is not None
        details = {"jobId": job.id, "processId": job.process.id, "budgetId": job.budget_id}
        self._state.credits.charge(job.cost.credits, "PROCESSING", f"Processing job {job.id}", details)
        job.withheld = job.cost.credits

    def _release(self, job: ProcessingJob) -> None:
        if job.withheld:
            details = {"jobId": job.id, "processId": job.process.id, "budgetId": job.budget_id}
            self._state.credits.refund(job.withheld, "PROCESSING", f"Released for job {job.id}", details)
            job.withheld = 0
