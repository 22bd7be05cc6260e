"""Route table of today's processing API (the 2023 generation has workflows and jobs instead)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from up42_provider.emulator.http import route
from up42_provider.emulator.processing import responses_current as current

_PROCESS = "/v2/processing/processes/{process_id}"

ROUTES_2023: list[BaseRoute] = []
ROUTES_CURRENT: list[BaseRoute] = [
    *route("/v2/processing/processes", current.list_processes, ["GET"]),
    *route(_PROCESS, current.get_process, ["GET"]),
    *route(_PROCESS + "/validation", current.validate, ["POST"]),
    *route(_PROCESS + "/cost", current.cost, ["POST"]),
    *route(_PROCESS + "/execution", current.execute, ["POST"]),
    *route("/v2/processing/jobs", current.list_jobs, ["GET"]),
    *route("/v2/processing/jobs/{job_id}", current.get_job, ["GET"]),
]
