"""Route table of the 2023 jobs domain (today's jobs are in ``processing.urls``)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from up42_provider.emulator.http import route
from up42_provider.emulator.jobs import responses

_JOB = "/projects/{project_id}/jobs/{job_id}"
_TASK = _JOB + "/tasks/{task_id}"

ROUTES_2023: list[BaseRoute] = [
    *route("/projects/{project_id}/workflows/{workflow_id}/jobs", responses.create_job, ["POST"]),
    *route("/projects/{project_id}/jobs", responses.list_jobs, ["GET"]),
    *route(_JOB, responses.get_job, ["GET"]),
    *route(_JOB + "/cancel", responses.cancel_job, ["POST"]),
    *route(_JOB + "/outputs/data-json", responses.job_data_json, ["GET"]),
    *route(_JOB + "/downloads/results", responses.job_results, ["GET"]),
    *route(_JOB + "/credits", responses.job_credits, ["GET"]),
    *route(_JOB + "/tasks", responses.job_tasks, ["GET"]),
    *route(_TASK + "/logs", responses.task_logs, ["GET"]),
    *route(_TASK + "/outputs/data-json", responses.task_data_json, ["GET"]),
    *route(_TASK + "/downloads/results", responses.task_results, ["GET"]),
    *route(_TASK + "/outputs/quicklooks", responses.quicklooks, ["GET"]),
    *route(_TASK + "/outputs/quicklooks/{quicklook_id}", responses.quicklook, ["GET"]),
]
ROUTES_CURRENT: list[BaseRoute] = []
