"""Handlers of today's processing API: processes, validation, cost, execution and jobs.

Validation problems answer in the processing API's own shapes, which the SDK reads: 400
``{"title": "Bad Request", "status": 400, "schema-error": ...}`` and 422
``{"title": "Unprocessable Entity", "status": 422, "errors": [{"name", "message"}]}``. Cost answers
them too (the SDK asks for a cost only after a clean validation). Execution takes any inputs of the
right shape and lets the job end ``invalid`` (``processing.models``).

``GET /v2/processing/jobs`` pages with ``limit`` (default 20, at most 100) and ``page`` (0-based);
the ``next`` link is a path starting with ``/`` that repeats every filter, and every page carries
``links`` (``[]`` on the last). ``minDuration``/``maxDuration`` are seconds from start (or creation)
to the end (or now). ``processId``, ``status`` and ``ids`` are comma-separated; an unknown status or
sort field is a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from up42_provider.emulator.http import (
    ApiError,
    bad_request,
    bare,
    base_url,
    emulator_state,
    json_body,
    query_int,
    query_list,
    query_sort,
)
from up42_provider.emulator.processing.models import (
    PROCESSES,
    STATUSES,
    InvalidInputs,
    Process,
    ProcessingJob,
    check_inputs,
    cost_of,
    find_process,
)

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
SORT_FIELDS = ("processID", "status", "created", "creditConsumption.credits")
_SORT_KEYS: dict[str, Callable[[ProcessingJob], Any]] = {
    "processID": lambda j: j.process.id,
    "status": lambda j: j.status,
    "created": lambda j: j.created,
    "creditConsumption.credits": lambda j: j.withheld,
}


def _invalid(exc: InvalidInputs) -> JSONResponse:
    if exc.schema_error is not None:
        body: dict[str, Any] = {"title": "Bad Request", "status": 400, "schema-error": exc.schema_error}
        return JSONResponse(body, status_code=400)
    return JSONResponse(
        {"title": "Unprocessable Entity", "status": 422, "errors": exc.errors}, status_code=422
    )


async def _process_and_inputs(request: Request) -> tuple[Process, Any]:
    process = find_process(request.path_params["process_id"])
    body = await json_body(request, required=False)
    if not isinstance(body, dict) or "inputs" not in body:
        raise InvalidInputs(schema_error="data must contain ['inputs'] properties: send {\"inputs\": {...}}")
    return process, body["inputs"]


async def list_processes(request: Request) -> Response:
    base = base_url(request)
    processes = [
        {
            "id": p.id,
            "title": p.title,
            "version": "1.0.0",
            "links": [{"rel": "self", "href": f"{base}/v2/processing/processes/{p.id}"}],
        }
        for p in PROCESSES.values()
    ]
    return bare(
        {"processes": processes, "links": [{"rel": "self", "href": f"{base}/v2/processing/processes"}]}
    )


async def get_process(request: Request) -> Response:
    return bare(find_process(request.path_params["process_id"]).description())


async def validate(request: Request) -> Response:
    state = emulator_state(request)
    try:
        process, inputs = await _process_and_inputs(request)
        await run_in_threadpool(check_inputs, state, process, inputs)
    except InvalidInputs as exc:
        return _invalid(exc)
    return Response(status_code=200)


async def cost(request: Request) -> Response:
    state = emulator_state(request)
    try:
        process, inputs = await _process_and_inputs(request)
        items = await run_in_threadpool(check_inputs, state, process, inputs)
    except InvalidInputs as exc:
        return _invalid(exc)
    return bare(cost_of(process, items).as_json())


async def execute(request: Request) -> Response:
    state = emulator_state(request)
    workspace_id = request.query_params.get("workspaceId")
    if not workspace_id:
        raise bad_request("Query parameter 'workspaceId' is required (the 'sub' of the userinfo answer)")
    if workspace_id != state.config.workspace_id:
        raise ApiError(403, f"Workspace {workspace_id} is not yours", title="Forbidden")
    try:
        process, inputs = await _process_and_inputs(request)
    except InvalidInputs as exc:
        return _invalid(exc)
    if not isinstance(inputs, dict):
        return _invalid(InvalidInputs(schema_error="data.inputs must be object"))
    budget_id = request.query_params.get("budgetId") or None
    if budget_id:  # an unknown or inactive budget is bad input, refused before a job exists
        state.budgets.require(budget_id, 0)
    job = state.processing.execute(process, inputs, workspace_id, budget_id)
    with state.lock:
        return bare(job.as_json(state, base_url(request)))


async def get_job(request: Request) -> Response:
    state = emulator_state(request)
    job = state.processing.get(request.path_params["job_id"])
    with state.lock:
        return bare(job.as_json(state, base_url(request)))


async def list_jobs(request: Request) -> Response:
    state = emulator_state(request)
    workspace = request.query_params.get("workspaceId")
    processes = set(query_list(request, "processId"))
    statuses = set(query_list(request, "status"))
    unknown = sorted(statuses - set(STATUSES))
    if unknown:
        raise bad_request(f"Unknown job status {unknown}; expected any of {', '.join(STATUSES)}")
    ids = set(query_list(request, "ids"))
    min_duration = query_int(request, "minDuration", 0, minimum=0)
    max_duration = query_int(request, "maxDuration", -1, minimum=0)
    limit = query_int(request, "limit", PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    page = query_int(request, "page", 0, minimum=0)
    field_name, descending = query_sort(request, SORT_FIELDS, "created")
    key = _SORT_KEYS[field_name]
    base = base_url(request)
    now = state.clock.now()

    def duration(job: ProcessingJob) -> float:
        return ((job.finished or now) - (job.started or job.created)).total_seconds()

    def keep(job: ProcessingJob) -> bool:
        return (
            (not workspace or job.workspace_id == workspace)
            and (not processes or job.process.id in processes)
            and (not statuses or job.status in statuses)
            and (not ids or job.id in ids)
            and duration(job) >= min_duration
            and (max_duration < 0 or duration(job) <= max_duration)
        )

    with state.lock:
        jobs = sorted(
            (j for j in state.processing.all() if keep(j)), key=lambda j: (j.created, j.id), reverse=True
        )
        jobs.sort(key=key, reverse=descending)
        chunk = jobs[page * limit : (page + 1) * limit]
        body = [j.as_json(state, base) for j in chunk]
    links = []
    if (page + 1) * limit < len(jobs):
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        links.append(
            {"rel": "next", "href": f"/v2/processing/jobs?{urlencode([*query, ('page', page + 1)])}"}
        )
    return bare({"jobs": body, "links": links})
