"""Workflows of the 2023 processing platform: records, the store, task chains and job planning.

This module also owns what a job *would* do with given inputs, because the estimate
(``workflows.responses.estimate_job``) and the job (``jobs.models``) must agree to the credit:
:func:`parse_tasks` checks a task chain, :func:`resolve_inputs` validates job inputs, and :func:`plan_run`
selects the data block's scenes and prices every task with ``blocks.models`` (``select_scenes``,
``block_consumption``, whose credits add up to ``block_credits``). The job charges exactly the planned
numbers.

Behaviour the UP42 documentation leaves open (our assumptions):

* ``workflows.responses.create_workflow`` answers **200** with the whole workflow object (``id``,
  ``displayId`` = first 8 characters of the id, ``name``, ``description``, ``projectId``, timestamps).
  ``name`` is required and must be a non-empty string; ``description`` defaults to ``""``.
* ``workflows.responses.update_workflow`` (``PUT``): a ``null`` (or missing) ``name``/``description``
  **keeps** the current value (the SDK sends ``null`` for arguments it was not given); an empty name is 400.
  Answers 200 with the updated workflow.
* ``workflows.responses.delete_workflow`` answers **204** with an empty body; jobs of a deleted workflow stay
  listed (``jobs.responses.list_jobs``).
* ``workflows.responses.set_tasks`` only accepts a linear chain: the first task has ``parentName: null`` and
  is a DATA block, every other task names the previous one as parent. Names must be ``<block name>:<n>`` and
  unique; ``blockId`` may be a block id, name or display name; ``blockVersionTag`` is ignored (blocks have one
  version). Incompatible neighbours are 400 naming the pair (``blocks.models.chain_errors``). An empty list
  clears the workflow. Answers 200 with the ``workflows.responses.get_tasks`` list.
* ``workflows.responses.compatible_blocks`` without ``parentTaskName`` uses the last task (an empty workflow
  answers the DATA blocks); an unknown task name is 400. Compatibility is judged for the whole chain up to
  that task.
* Job inputs (``workflows.responses.estimate_job``/``jobs.responses.create_job``): a parameter missing from a
  task's inputs takes the block default, then the blocks' own rules apply (types, ranges, required parameters,
  unknown parameters rejected except ``asset_ids`` on data blocks). Data-block geometries must be GeoJSON
  (Multi)Polygons with closed rings; the AOI must not exceed ``JOB_QUERY_MAX_AOI_SIZE`` km² and ``limit`` must
  not exceed ``JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE`` (project settings, ``account.responses.get_settings``).
  Unknown task names are 400.
* ``workflows.responses.estimate_job``: ``credit.min == credit.max`` (the emulator knows the outcome) and
  equal to what the job is charged. ``duration`` is in **milliseconds** (the real sample values look like
  milliseconds). Inputs carrying ``config.mode == "DRY_RUN"`` estimate 0 credits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator import geo
from up42_provider.emulator.blocks import models as block_models
from up42_provider.emulator.clock import iso
from up42_provider.emulator.http import ApiError, bad_request

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

# Nominal (speed 1) run time of one job task; CONTRACT.md "Nominal durations".
TASK_SECONDS = 20.0
_NAME = re.compile(r"^(?P<block>.+):(?P<n>[1-9][0-9]*)$")
_GEOMETRY_FILTERS = ("bbox", "intersects", "contains")
_KM_PER_DEGREE = 111.32  # the AOI limit's degree of latitude (geo.area_km2)


def block_version(block: dict[str, Any]) -> str:
    return str(block.get("version") or block.get("versionTag") or "1.0.0")


def is_data_block(block: dict[str, Any]) -> bool:
    return str(block.get("type", "")).upper() == "DATA"


# -- workflows -----------------------------------------------------------------------------------


@dataclass
class WorkflowTask:
    """One task of a workflow: ``name`` is ``<block name>:<n>``, ``block`` the full block details."""

    id: str
    name: str
    parent_name: str | None
    block: dict[str, Any]

    def as_json(self, parent_id: str | None) -> dict[str, Any]:
        """The ``workflows.responses.get_tasks`` item."""
        block = self.block
        return {
            "id": self.id,
            "name": self.name,
            "parentsIds": [parent_id] if parent_id else [],
            "blockName": block["name"],
            "blockVersionTag": block_version(block),
            "environment": None,
            "block": {
                "id": block["id"],
                "name": block["name"],
                "displayName": block.get("displayName", block["name"]),
                "type": block.get("type", "PROCESSING"),
                "isDryRunSupported": bool(block.get("isDryRunSupported", is_data_block(block))),
                "version": block_version(block),
                "parameters": block.get("parameters") or {},
            },
        }


@dataclass
class Workflow:
    id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    tasks: list[WorkflowTask] = field(default_factory=list)

    def as_json(self, state: EmulatorState) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayId": self.id[:8],
            "name": self.name,
            "description": self.description,
            "projectId": state.config.project_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "createdBy": {"id": state.user_id, "type": "USER"},
            "updatedBy": {"id": state.user_id, "type": "USER"},
            "totalProcessingTime": 0,
        }

    def tasks_json(self) -> list[dict[str, Any]]:
        ids = {t.name: t.id for t in self.tasks}
        return [t.as_json(ids.get(t.parent_name or "")) for t in self.tasks]


class WorkflowStore:
    """The project's workflows (``state.workflows``); nothing here changes with time."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._workflows: dict[str, Workflow] = {}

    def create(self, name: str, description: str) -> Workflow:
        state = self._state
        with state.lock:
            now = state.clock.now()
            workflow = Workflow(state.new_id(), name, description, now, now)
            self._workflows[workflow.id] = workflow
            return workflow

    def get(self, workflow_id: str) -> Workflow:
        with self._state.lock:
            workflow = self._workflows.get(workflow_id)
        if workflow is None:
            raise ApiError(404, f"Workflow {workflow_id} not found", title="Resource does not exist.")
        return workflow

    def all(self) -> list[Workflow]:
        with self._state.lock:
            return sorted(self._workflows.values(), key=lambda w: w.created_at, reverse=True)

    def delete(self, workflow_id: str) -> None:
        with self._state.lock:
            self.get(workflow_id)
            del self._workflows[workflow_id]

    def set_tasks(self, workflow: Workflow, tasks: list[WorkflowTask]) -> None:
        with self._state.lock:
            workflow.tasks = tasks
            workflow.updated_at = self._state.clock.now()


def parse_tasks(state: EmulatorState, body: Any) -> list[WorkflowTask]:
    """Validate ``workflows.responses.set_tasks``/``workflows.responses.estimate_job`` task definitions: a
    linear, compatible chain starting with a DATA block."""
    if not isinstance(body, list):
        raise bad_request("Request body must be a list of workflow tasks")
    tasks: list[WorkflowTask] = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise bad_request(f"Workflow task #{index + 1} must be an object")
        name, parent, block_ref = item.get("name"), item.get("parentName"), item.get("blockId")
        if not isinstance(name, str) or not name:
            raise bad_request(f"Workflow task #{index + 1} has no 'name'")
        if not isinstance(block_ref, str) or not block_ref:
            raise bad_request(f"Workflow task '{name}' has no 'blockId'")
        block = block_models.find_block(block_ref)
        if block is None:
            raise bad_request(f"Block '{block_ref}' of workflow task '{name}' does not exist")
        match = _NAME.match(name)
        if match is None or match["block"] != block["name"]:
            raise bad_request(
                f"Invalid workflow task name '{name}': expected '{block['name']}:<n>' (n = 1, 2, ...)"
            )
        if any(t.name == name for t in tasks):
            raise bad_request(f"Duplicate workflow task name '{name}'")
        expected_parent = tasks[-1].name if tasks else None
        if parent != expected_parent:
            if expected_parent is None:
                raise bad_request(f"The first workflow task '{name}' must have parentName null")
            raise bad_request(
                f"Workflow task '{name}' must have parentName '{expected_parent}' (got {parent!r}): "
                "workflows are linear chains"
            )
        if index == 0 and not is_data_block(block):
            raise bad_request(
                f"The first workflow task '{name}' must be a DATA block, '{block['name']}' is not"
            )
        tasks.append(WorkflowTask(state.new_id(), name, parent, block))
    errors = block_models.chain_errors([t.block["name"] for t in tasks]) if tasks else []
    if errors:
        raise bad_request("Incompatible workflow tasks: " + "; ".join(errors))
    return tasks


# -- job inputs ------------------------------------------------------------------------------------


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_position(pos: Any) -> bool:
    return (
        isinstance(pos, list)
        and len(pos) >= 2
        and all(_is_number(c) for c in pos)
        and -180 <= pos[0] <= 180
        and -90 <= pos[1] <= 90
    )


def _check_polygon(rings: Any) -> str | None:
    if not isinstance(rings, list) or not rings:
        return "a Polygon needs at least one linear ring"
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            return "every linear ring needs at least 4 positions"
        if not all(_check_position(p) for p in ring):
            return "positions must be [longitude, latitude] within [-180, 180] x [-90, 90]"
        if ring[0][:2] != ring[-1][:2]:
            return "linear rings must be closed (first position == last position)"
    return None


# The 2023 job inputs' wording of ``geo.parse_geometry``'s refusals.
_GEOMETRY_MESSAGES = {
    **dict.fromkeys(geo.GEOMETRY_MESSAGES, "{what}: invalid geometry (empty or self-intersecting polygon)"),
    "object": "{what}: invalid geometry, expected a GeoJSON Polygon or MultiPolygon",
    "type": "{what}: invalid geometry, expected a GeoJSON Polygon or MultiPolygon",
}


def parse_geometry(value: Any, where: str) -> BaseGeometry:
    """A GeoJSON Polygon/MultiPolygon as a valid shapely geometry of positive area (UP42 needs polygons).

    ``geo.parse_geometry``, after the 2023 ring rules (closed rings of at least four lon/lat
    positions) that shapely alone would let pass.
    """
    if isinstance(value, dict) and value.get("type") in ("Polygon", "MultiPolygon"):
        coords = value.get("coordinates")
        if value["type"] == "Polygon":
            problem = _check_polygon(coords)
        elif not isinstance(coords, list) or not coords:
            problem = "a MultiPolygon needs at least one polygon"
        else:
            problem = next((p for p in map(_check_polygon, coords) if p), None)
        if problem:
            raise bad_request(f"{where}: invalid geometry, {problem}")
    try:
        geometry = geo.parse_geometry(
            value, where, allow=("Polygon", "MultiPolygon"), messages=_GEOMETRY_MESSAGES
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if geometry.area <= 0:
        raise bad_request(_GEOMETRY_MESSAGES["empty"].format(what=where))
    return geometry


def parse_bbox(value: Any, where: str) -> BaseGeometry:
    if not (isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)):
        raise bad_request(f"{where}: bbox must be [minx, miny, maxx, maxy]")
    minx, miny, maxx, maxy = value
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise bad_request(f"{where}: invalid bbox {value}")
    return box(minx, miny, maxx, maxy)


def _setting(state: EmulatorState, name: str, default: int) -> int:
    try:
        return int(state.settings.get(name, default))
    except ValueError:
        return default


def resolve_inputs(state: EmulatorState, tasks: list[WorkflowTask], inputs: Any) -> dict[str, dict[str, Any]]:
    """Per task name: the block defaults overlaid with the given inputs, validated (400 on problems).

    ``inputs`` is the ``jobs.responses.create_job`` body without ``config`` (or the
    ``workflows.responses.estimate_job`` ``inputs``). The per-parameter rules
    (types, ranges, unknown parameters, required ones) are the blocks' own
    (``blocks.models.validate_block_inputs``); the project limits and the polygon rule are added here.
    """
    if not isinstance(inputs, dict):
        raise bad_request("Job inputs must be an object keyed by workflow task name")
    names = [t.name for t in tasks]
    for key in inputs:
        if key not in names:
            raise bad_request(f"Unknown workflow task '{key}' in job inputs (tasks: {', '.join(names)})")
    resolved: dict[str, dict[str, Any]] = {}
    for task in tasks:
        given = inputs.get(task.name)
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise bad_request(f"Inputs of task '{task.name}' must be an object")
        specs: dict[str, Any] = task.block.get("parameters") or {}
        params = {
            k: spec["default"] for k, spec in specs.items() if isinstance(spec, dict) and "default" in spec
        }
        params.update(given)
        errors = block_models.validate_block_inputs(task.block, params)
        if errors:
            raise bad_request(f"Invalid inputs of task '{task.name}': " + "; ".join(errors))
        if is_data_block(task.block):
            _check_data_params(state, task, params)
        resolved[task.name] = params
    return resolved


def data_aoi(params: dict[str, Any], where: str) -> tuple[str | None, BaseGeometry | None]:
    """The data block's geometry filter: (operation, geometry) or (None, None)."""
    given = [op for op in _GEOMETRY_FILTERS if params.get(op) is not None]
    if len(given) > 1:
        raise bad_request(f"{where}: give only one of bbox, intersects, contains (got {', '.join(given)})")
    if not given:
        return None, None
    op = given[0]
    value = params[op]
    geometry = parse_bbox(value, f"{where}.bbox") if op == "bbox" else parse_geometry(value, f"{where}.{op}")
    return op, geometry


def _check_data_params(state: EmulatorState, task: WorkflowTask, params: dict[str, Any]) -> None:
    where = task.name
    _, aoi = data_aoi(params, where)
    if aoi is not None:
        max_aoi = _setting(state, "JOB_QUERY_MAX_AOI_SIZE", 1000)
        size = geo.area_km2(aoi, km_per_degree_lat=_KM_PER_DEGREE)
        if size > max_aoi:
            raise bad_request(
                f"{where}: the AOI covers {size:.1f} km², more than the project's maximum of "
                f"{max_aoi} km² (JOB_QUERY_MAX_AOI_SIZE)"
            )
    limit = params.get("limit")
    max_limit = _setting(state, "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE", 20)
    if _is_number(limit) and limit > max_limit:
        raise bad_request(
            f"{where}.limit: {limit} is above the project's maximum of {max_limit} "
            "(JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE)"
        )


# -- scene selection and prices ----------------------------------------------------------------


@dataclass
class TaskPlan:
    """What one job task will do and cost; the job follows it exactly."""

    task: WorkflowTask
    params: dict[str, Any]
    scenes: list[Any]  # data task: the selected ``world.catalog.Scene`` objects; others: []
    n_scenes: int
    consumption: dict[str, Any]  # the ``workflows.responses.estimate_job`` entry of this task

    @property
    def block_credits(self) -> int:
        return int(self.consumption["blockConsumption"]["credit"]["max"])

    @property
    def machine_credits(self) -> int:
        return int(self.consumption["machineConsumption"]["credit"]["max"])

    @property
    def credits(self) -> int:
        return self.block_credits + self.machine_credits


def plan_run(
    state: EmulatorState, tasks: list[WorkflowTask], inputs: dict[str, dict[str, Any]], *, dry_run: bool
) -> list[TaskPlan]:
    """Select the data block's scenes and price every task (``inputs`` from :func:`resolve_inputs`).

    Blocking (catalogue search): call it from a worker thread.
    """
    plans: list[TaskPlan] = []
    scenes: list[Any] = []
    for index, task in enumerate(tasks):
        params = inputs[task.name]
        if index == 0:
            try:
                scenes = list(block_models.select_scenes(state.catalog, task.block, params))
            except ValueError as exc:  # world.catalog.SearchError: inputs the catalogue refuses
                raise bad_request(f"{task.name}: {exc}") from None
        consumption = block_models.block_consumption(task.block, params, len(scenes))
        if dry_run:  # test queries are free of charge
            for part in ("blockConsumption", "machineConsumption"):
                consumption[part]["credit"] = {"max": 0, "min": 0}
        plans.append(TaskPlan(task, params, scenes if index == 0 else [], len(scenes), consumption))
    return plans


def estimate_json(plans: list[TaskPlan]) -> dict[str, Any]:
    """The ``workflows.responses.estimate_job`` answer for a plan: per task name, credits equal to what the
    job will be charged."""
    return {p.task.name: p.consumption for p in plans}


def job_mode(config: Any) -> str:
    """``DEFAULT`` or ``DRY_RUN`` from the inputs' ``config`` object."""
    if config is None:
        return "DEFAULT"
    mode = config.get("mode", "DEFAULT") if isinstance(config, dict) else None
    if mode not in ("DEFAULT", "DRY_RUN"):
        raise bad_request(f"Invalid job config {config!r}: mode must be DEFAULT or DRY_RUN")
    return mode
