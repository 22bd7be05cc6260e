"""Route table of the workflows domain (workflows exist only in the 2023 generation)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from up42_provider.emulator.http import route
from up42_provider.emulator.workflows import responses

_BASE = "/projects/{project_id}/workflows"

ROUTES_2023: list[BaseRoute] = [
    *route(_BASE, responses.list_workflows, ["GET"]),
    *route(_BASE + "/", responses.create_workflow, ["POST"]),
    *route(_BASE + "/{workflow_id}", responses.get_workflow, ["GET"]),
    *route(_BASE + "/{workflow_id}", responses.update_workflow, ["PUT"]),
    *route(_BASE + "/{workflow_id}", responses.delete_workflow, ["DELETE"]),
    *route(_BASE + "/{workflow_id}/tasks", responses.get_tasks, ["GET"]),
    *route(_BASE + "/{workflow_id}/tasks", responses.set_tasks, ["POST"]),
    *route(_BASE + "/{workflow_id}/compatible-blocks", responses.compatible_blocks, ["GET"]),
    *route("/projects/{project_id}/estimate/job", responses.estimate_job, ["POST"]),
]
ROUTES_CURRENT: list[BaseRoute] = []
