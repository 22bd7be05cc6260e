"""Project, project settings and credits: E02-E04, E09, E10 (API.md §3.5, §8.1, §8.2).

Behaviour where API.md is silent (our assumptions):

* The credentials are scoped to one project, so any other ``{project_id}`` is somebody else's
  project: **403** v1 error (``"Access to project <id> is forbidden"``), not 404. The same rule
  applies to other workspaces in the webhook routes.
* E04 validates every setting before applying any (all-or-nothing), accepts integer strings or
  JSON integers, allows partial updates, rejects unknown names (also the fixture-only
  ``MAX_AOI_SIZE``) with 400, and answers **201** with the full settings list (as E03).
* E10 ``size`` defaults to 20 (Spring's default) and is silently capped at 2000 (Spring's
  ``max-page-size`` behaviour); ``from``/``to`` are inclusive; records are newest first.
* At start the history is seeded with a deterministic (per seed) record of past consumption over
  the last ~5 months, preceded by one ``ALLOCATION`` record so that the deltas of the whole
  history add up to the current balance (``config.initial_credits`` at start).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from up42_provider.emulator.clock import iso, parse_iso
from up42_provider.emulator.http import (
    ApiError,
    envelope,
    json_body,
    query_int,
    query_time,
    route,
    spring_page,
)
from up42_provider.emulator.state import EmulatorState

# name -> (minimum, maximum), API.md §8.1 documented ranges.
SETTING_RANGES: dict[str, tuple[int, int]] = {
    "JOB_QUERY_MAX_AOI_SIZE": (1, 1000),
    "MAX_CONCURRENT_JOBS": (1, 10),
    "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE": (1, 20),
}

HISTORY_MAX_PAGE_SIZE = 2000
HISTORY_DEFAULT_PAGE_SIZE = 20


def check_project(state: EmulatorState, project_id: str) -> None:
    """Refuse project ids other than the authenticated project (403, see module docstring)."""
    if project_id != state.config.project_id:
        raise ApiError(403, f"Access to project {project_id} is forbidden", title="Forbidden")


def settings_list(state: EmulatorState) -> list[dict[str, str]]:
    with state.lock:
        return [{"name": name, "value": value} for name, value in state.settings.items()]


def validate_settings(body: Any) -> dict[str, str]:
    """The normalised (integer string) settings of an E04 body; raises 400 naming the bad setting."""
    if not isinstance(body, dict) or not isinstance(body.get("settings"), dict):
        raise ApiError(400, "Request body must be an object with a 'settings' object", title="Bad request")
    result: dict[str, str] = {}
    for name, raw in body["settings"].items():
        if name not in SETTING_RANGES:
            known = ", ".join(SETTING_RANGES)
            raise ApiError(400, f"Unknown project setting '{name}' (known: {known})", title="Bad request")
        low, high = SETTING_RANGES[name]
        try:
            if isinstance(raw, bool) or not isinstance(raw, (int, str)):
                raise ValueError
            value = int(str(raw).strip())
        except ValueError:
            raise ApiError(
                400, f"Setting '{name}' must be an integer, got {raw!r}", title="Bad request"
            ) from None
        if not low <= value <= high:
            raise ApiError(
                400, f"Setting '{name}' must be between {low} and {high}, got {value}", title="Bad request"
            )
        result[name] = str(value)
    return result


# -- seeded credit history ----------------------------------------------------------------------

# (block name, display name, version, machine, credits per km²)
_DATA_BLOCKS = (
    ("oneatlas-pleiades-fullscene", "Pléiades Reflectance (Download)", "2.5.7", "SMALL", 1000),
    ("oneatlas-spot-fullscene", "SPOT 6/7 Reflectance (Download)", "2.4.2", "SMALL", 250),
    ("esa-s2-l2a-gtiff-visual", "Sentinel-2 L2A Visual (GeoTIFF)", "1.0.1", "SMALL", 0),
    ("esa-s2-l2a-gtiff-analytic", "Sentinel-2 L2A Analytic (GeoTIFF)", "1.1.0", "SMALL", 0),
)
_PROCESSING_BLOCKS = (
    ("tiling", "Raster Tiling", "2.2.3", "MEDIUM", 0),
    ("up42-waterfinder-flood", "Flood Finder Pléiades/SPOT", "1.0.1", "LARGE", 50),
    ("ndvi", "NDVI", "2.1.0", "SMALL", 2),
    ("pansharpen", "Pan-sharpening SPOT/Pléiades", "2.3.1", "MEDIUM", 20),
)
_WORKFLOW_NAMES = ("Flood Mapping Elbe", "Field NDVI monitoring", "Port activity tiles", "Coastline change")
_ARCHIVE_PRODUCTS = (
    ("Pléiades Display (Archive)", "OneAtlas", 30),
    ("SPOT Display (Archive)", "OneAtlas", 8),
    ("Pléiades Neo (Archive)", "OneAtlas", 70),
)


def _block_id(name: str) -> str:
    """The block's id as the blocks catalog knows it, or a stable made-up one."""
    try:
        from up42_provider.emulator.blocks.models import find_block
    except ImportError:
        find_block = None
    block = find_block(name) if find_block is not None else None
    if isinstance(block, dict) and block.get("id"):
        return str(block["id"])
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"up42-emulator/block/{name}"))


def seed_history(state: EmulatorState, jobs: int = 10, orders: int = 8) -> list[dict[str, Any]]:
    """Deterministic past consumption (oldest first) for the seed, ending before ``state.started_at``.

    Uses its own generator so that other modules' ids do not depend on this history.
    """
    rng = random.Random(f"credits-history:{state.config.seed}")
    cfg = state.config

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    created_by = {"id": state.user_id, "type": "USER"}
    common = {
        "accountId": cfg.account_id,
        "projectId": cfg.project_id,
        "projectName": state.project["name"],
        "userId": state.user_id,
        "workspaceId": cfg.workspace_id,
    }
    events: list[tuple[datetime, int, str, dict[str, Any]]] = []
    end = state.started_at - timedelta(hours=2)
    for _ in range(jobs):
        when = end - timedelta(days=rng.uniform(1, 150), seconds=rng.uniform(0, 86400))
        job_id, workflow_id = uid(), uid()
        base = {
            **common,
            "jobId": job_id,
            "jobName": job_id[:8],
            "workflowId": workflow_id,
            "workflowName": rng.choice(_WORKFLOW_NAMES),
        }
        area_m2 = rng.randint(800_000, 12_000_000)
        for block in (rng.choice(_DATA_BLOCKS), rng.choice(_PROCESSING_BLOCKS)):
            name, display, version, machine, per_km2 = block
            task_id = uid()
            task = {
                **base,
                "blockDisplayName": display,
                "blockId": _block_id(name),
                "blockName": name,
                "blockVersion": version,
                "jobTaskId": task_id,
                "machineName": machine,
            }
            duration_ms = rng.randint(20, 600) * 1000
            when += timedelta(seconds=rng.uniform(20, 90))
            usage = round(per_km2 * area_m2 / 1_000_000)
            events.append((when, usage, task_id, {**task, "quantity": area_m2, "unit": "SQUARE_METERS"}))
            when += timedelta(milliseconds=duration_ms)
            machine_info = {"cpu": 2000, "duration": duration_ms, "memory": 10737418240}
            events.append((when, 1, task_id, {**task, **machine_info}))
    for _ in range(orders):
        when = end - timedelta(days=rng.uniform(1, 150), seconds=rng.uniform(0, 86400))
        product, provider, per_km2 = rng.choice(_ARCHIVE_PRODUCTS)
        area_km2 = round(rng.uniform(25, 120), 2)
        order_id = uid()
        consumption = {
            **common,
            "orderId": order_id,
            "dataProductName": product,
            "dataProvider": provider,
            "quantity": area_km2,
            "unit": "SQUARE_KILOMETERS",
        }
        events.append((when, round(per_km2 * area_km2), order_id, {**consumption, "type": "ORDER"}))
    events.sort(key=lambda e: e[0])

    records: list[dict[str, Any]] = []
    for when, credits, ref_id, consumption in events:
        kind = consumption.pop("type", "JOB_TASK")
        text = f"Consumption for order {ref_id}" if kind == "ORDER" else f"Consumption for {ref_id}"
        stamp = iso(when)
        records.append(
            {
                "createdAt": stamp,
                "createdBy": created_by,
                "delta": -credits,
                "type": kind,
                "details": {
                    "allocation": "None",
                    "consumption": {**consumption, "createdAt": stamp, "creditsUsed": credits, "id": uid()},
                    "description": text,
                    "id": ref_id,
                },
            }
        )
    spent = -sum(r["delta"] for r in records)
    first = events[0][0] if events else end
    allocated = first - timedelta(days=rng.uniform(3, 20))
    allocation_id = uid()
    allocation = {
        "createdAt": iso(allocated),
        "createdBy": {"id": "system", "type": "INTERNAL"},
        "delta": cfg.initial_credits + spent,
        "type": "ALLOCATION",
        "details": {
            "allocation": allocation_id,
            "description": "Credits allocated to account",
            "id": allocation_id,
        },
    }
    return [allocation, *records]


def install(state: EmulatorState) -> list[BaseRoute]:
    with state.lock:
        # Past records go before anything recorded through credits.charge (chronological list).
        state.credits.history[:0] = seed_history(state)

    async def get_project(request: Request) -> Response:
        check_project(state, request.path_params["project_id"])
        with state.lock:
            return envelope(dict(state.project))

    async def get_settings(request: Request) -> Response:
        check_project(state, request.path_params["project_id"])
        return envelope(settings_list(state))

    async def post_settings(request: Request) -> Response:
        check_project(state, request.path_params["project_id"])
        changes = validate_settings(await json_body(request))
        with state.lock:
            state.settings.update(changes)
        return envelope(settings_list(state), status=201)

    async def credits_balance(request: Request) -> Response:
        with state.lock:
            return envelope({"balance": state.credits.balance})

    async def credits_history(request: Request) -> Response:
        start, end = query_time(request, "from"), query_time(request, "to")
        page = query_int(request, "page", 0, minimum=0)
        size = min(query_int(request, "size", HISTORY_DEFAULT_PAGE_SIZE, minimum=1), HISTORY_MAX_PAGE_SIZE)
        with state.lock:
            records = list(state.credits.history)
        keyed = [(parse_iso(r["createdAt"]), r) for r in records]
        selected = [
            r
            for ts, r in sorted(keyed, key=lambda item: item[0], reverse=True)
            if (start is None or ts >= start) and (end is None or ts <= end)
        ]
        return envelope(spring_page(selected, page, size, sort_field="createdAt"))

    return [
        *route("/projects/{project_id}", get_project, ["GET"]),
        *route("/projects/{project_id}/settings", get_settings, ["GET"]),
        *route("/projects/{project_id}/settings", post_settings, ["POST"]),
        *route("/accounts/me/credits/balance", credits_balance, ["GET"]),
        *route("/accounts/me/credits/history", credits_history, ["GET"]),
    ]
