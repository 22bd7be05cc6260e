"""Workflow handlers (2023 generation): CRUD, task chains, compatible blocks and the job estimate."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from up42_provider.emulator.account.models import check_project
from up42_provider.emulator.blocks import models as block_models
from up42_provider.emulator.http import bad_request, emulator_state, envelope, json_body
from up42_provider.emulator.workflows.models import (
    Workflow,
    block_version,
    estimate_json,
    is_data_block,
    job_mode,
    parse_tasks,
    plan_run,
    resolve_inputs,
)


def _workflow(request: Request) -> Workflow:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    return state.workflows.get(request.path_params["workflow_id"])


def _name_and_description(body: object, *, name_required: bool) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        raise bad_request("Request body must be an object with 'name' and 'description'")
    name, description = body.get("name"), body.get("description")
    if name_required and (not isinstance(name, str) or not name.strip()):
        raise bad_request("Workflow 'name' is required and must be a non-empty string")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise bad_request("Workflow 'name' must be a non-empty string")
    if description is not None and not isinstance(description, str):
        raise bad_request("Workflow 'description' must be a string")
    return name, description


async def list_workflows(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    return envelope([w.as_json(state) for w in state.workflows.all()])


async def create_workflow(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    name, description = _name_and_description(await json_body(request), name_required=True)
    assert name is not None
    workflow = state.workflows.create(name, description or "")
    return envelope(workflow.as_json(state))


async def get_workflow(request: Request) -> Response:
    return envelope(_workflow(request).as_json(emulator_state(request)))


async def update_workflow(request: Request) -> Response:
    state = emulator_state(request)
    workflow = _workflow(request)
    name, description = _name_and_description(await json_body(request, required=False), name_required=False)
    with state.lock:
        workflow.name = workflow.name if name is None else name
        workflow.description = workflow.description if description is None else description
        workflow.updated_at = state.clock.now()
        return envelope(workflow.as_json(state))


async def delete_workflow(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    state.workflows.delete(request.path_params["workflow_id"])
    return Response(status_code=204)


async def get_tasks(request: Request) -> Response:
    workflow = _workflow(request)
    with emulator_state(request).lock:
        return envelope(workflow.tasks_json())


async def set_tasks(request: Request) -> Response:
    state = emulator_state(request)
    workflow = _workflow(request)
    tasks = parse_tasks(state, await json_body(request))
    state.workflows.set_tasks(workflow, tasks)
    with state.lock:
        return envelope(workflow.tasks_json())


async def compatible_blocks(request: Request) -> Response:
    workflow = _workflow(request)
    parent_name = request.query_params.get("parentTaskName")
    with emulator_state(request).lock:
        tasks = list(workflow.tasks)
    if parent_name is None and not tasks:
        candidates = [b for b in block_models.BLOCKS if is_data_block(b)]
    else:
        parent = tasks[-1] if parent_name is None else next((t for t in tasks if t.name == parent_name), None)
        if parent is None:
            raise bad_request(f"Workflow {workflow.id} has no task named '{parent_name}'")
        chain = [t.block["name"] for t in tasks[: tasks.index(parent) + 1]]
        candidates = block_models.compatible_blocks(parent.block["name"], chain)
    items = [{"blockId": b["id"], "name": b["name"], "versionTag": block_version(b)} for b in candidates]
    return envelope({"blocks": items})


async def estimate_job(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("Request body must be an object with 'tasks' and 'inputs'")
    tasks = parse_tasks(state, body.get("tasks"))
    if not tasks:
        raise bad_request("'tasks' must not be empty")
    raw_inputs = dict(body.get("inputs") or {})
    dry_run = job_mode(raw_inputs.pop("config", None)) == "DRY_RUN"
    resolved = resolve_inputs(state, tasks, raw_inputs)
    plans = await run_in_threadpool(plan_run, state, tasks, resolved, dry_run=dry_run)
    return envelope(estimate_json(plans))
