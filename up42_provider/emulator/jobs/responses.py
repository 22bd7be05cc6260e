"""Job handlers (2023 generation): run, list, get, cancel, results, credits, tasks, logs, quicklooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from up42_provider.emulator.account.models import check_project
from up42_provider.emulator.http import (
    bad_request,
    bare,
    base_url,
    emulator_state,
    envelope,
    json_body,
    query_int,
    query_sort,
)
from up42_provider.emulator.jobs.models import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    SORT_FIELDS,
    SUCCEEDED,
    Job,
    JobTask,
    not_found,
)
from up42_provider.emulator.media import products


def _sort_key(field_name: str) -> Callable[[Job], Any]:
    return {
        "createdAt": lambda j: j.created_at,
        "name": lambda j: j.name,
        "id": lambda j: j.id,
        "mode": lambda j: j.mode,
        "status": lambda j: j.status,
        "startedAt": lambda j: j.started_at,
        "finishedAt": lambda j: j.finished_at,
    }[field_name]


def _job(request: Request) -> Job:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    return state.jobs.get(request.path_params["job_id"])


def _task(request: Request) -> tuple[Job, JobTask]:
    job = _job(request)
    task_id = request.path_params["task_id"]
    task = next((t for t in job.tasks if t.id == task_id), None)
    if task is None:
        raise not_found(f"Job task {task_id} of job {job.id}")
    return job, task


def _succeeded_task(task: JobTask) -> None:
    if task.status != SUCCEEDED or task.features is None:
        raise not_found(f"Results of job task {task.id} (status {task.status})")


def _succeeded_job(job: Job) -> JobTask:
    if job.status != SUCCEEDED:
        raise not_found(f"Results of job {job.id} (status {job.status})")
    return job.tasks[-1]


async def _signed(request: Request, key: str) -> Response:
    blobs = emulator_state(request).blobs
    await blobs.ensure(key)
    return envelope({"url": blobs.signed_url(base_url(request), key)})


async def create_job(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    workflow = state.workflows.get(request.path_params["workflow_id"])
    body = await json_body(request, required=False)
    if not isinstance(body, dict):
        raise bad_request("Job inputs must be an object keyed by workflow task name")
    name = request.query_params.get("name") or workflow.name
    job = await run_in_threadpool(state.jobs.create, workflow, name, body)
    with state.lock:
        return envelope(job.as_json(state))


async def list_jobs(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    field_name, descending = query_sort(request, SORT_FIELDS, "createdAt")
    page = query_int(request, "page", 0, minimum=0)
    size = query_int(request, "size", PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    key = _sort_key(field_name)
    with state.lock:
        jobs = sorted(state.jobs.all(), key=lambda j: (j.created_at, j.id), reverse=True)
        present = sorted((j for j in jobs if key(j) is not None), key=key, reverse=descending)
        ordered = present + [j for j in jobs if key(j) is None]
        return envelope([j.as_json(state) for j in ordered[page * size : (page + 1) * size]])


async def get_job(request: Request) -> Response:
    state = emulator_state(request)
    job = _job(request)
    with state.lock:
        return envelope(job.as_json(state))


async def cancel_job(request: Request) -> Response:
    state = emulator_state(request)
    job = _job(request)
    state.jobs.cancel(job)
    with state.lock:
        return envelope(job.as_json(state))


async def job_data_json(request: Request) -> Response:
    state = emulator_state(request)
    job = _job(request)
    with state.lock:
        return bare(state.jobs.data_json(job, _succeeded_job(job)))


async def job_results(request: Request) -> Response:
    job = _job(request)
    with emulator_state(request).lock:
        _succeeded_job(job)
    return await _signed(request, f"job:{job.id}")


async def job_credits(request: Request) -> Response:
    state = emulator_state(request)
    job = _job(request)
    project_id = state.config.project_id
    with state.lock:
        return envelope(
            {
                "projectId": project_id,
                "projectDisplayId": project_id[:8],
                "jobId": job.id,
                "jobDisplayId": job.id[:8],
                "creditsUsed": job.credits_used,
            }
        )


async def job_tasks(request: Request) -> Response:
    job = _job(request)
    with emulator_state(request).lock:
        return envelope([t.as_json(job) for t in job.tasks])


async def task_logs(request: Request) -> Response:
    state = emulator_state(request)
    _, task = _task(request)
    now = state.clock.now()
    with state.lock:
        lines = [text for at, text in task.log if at <= now]
    return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""))


async def task_data_json(request: Request) -> Response:
    state = emulator_state(request)
    job, task = _task(request)
    with state.lock:
        _succeeded_task(task)
        return bare(state.jobs.data_json(job, task))


async def task_results(request: Request) -> Response:
    _, task = _task(request)
    with emulator_state(request).lock:
        _succeeded_task(task)
    return await _signed(request, f"jobtask:{task.id}")


async def quicklooks(request: Request) -> Response:
    _, task = _task(request)
    with emulator_state(request).lock:
        return envelope(sorted(task.quicklooks))


async def quicklook(request: Request) -> Response:
    _, task = _task(request)
    with emulator_state(request).lock:
        seed = task.quicklooks.get(request.path_params["quicklook_id"])
    if seed is None:
        return Response(status_code=404)
    return Response(products.quicklook_png(seed), media_type="image/png")
