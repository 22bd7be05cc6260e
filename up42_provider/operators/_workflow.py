"""Workflow selection and job inputs shared by the single- and parallel-job operators."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from up42_provider.api.errors import UP42ValidationError
from up42_provider.status import classify_job_status
from up42_provider.utils import parameters as P

if TYPE_CHECKING:
    from up42_provider.hooks.up42 import UP42Hook

log = logging.getLogger(__name__)

GEOMETRY_OPERATIONS = P.GEOMETRY_OPERATIONS


def check_workflow_arguments(workflow_id: Any, workflow_name: Any, blocks: Any) -> None:
    """Either a workflow id, or a name plus the blocks to create/reuse it with."""
    if workflow_id:
        if workflow_name or blocks:
            raise ValueError("Pass workflow_id, or workflow_name with blocks - not both")
        return
    if not workflow_name or not blocks:
        raise ValueError(
            "Name the workflow: workflow_id='<uuid>', or workflow_name='my-workflow' with "
            "blocks=['<data block>', '<processing block>', ...]"
        )
    if isinstance(blocks, str) or not all(isinstance(b, (str, Mapping)) and b for b in blocks):
        raise ValueError(f"blocks must be a list of block names (or task dicts), got {blocks!r}")


def check_geometry_operation(value: str) -> None:
    if value not in GEOMETRY_OPERATIONS:
        raise ValueError(
            f"geometry_operation {value!r} is unknown: use one of {', '.join(GEOMETRY_OPERATIONS)}"
        )


def resolve_workflow(
    hook: UP42Hook,
    workflow_id: str | None,
    workflow_name: str | None,
    blocks: Sequence[str | Mapping[str, Any]] | None,
    description: str = "",
) -> str:
    """The workflow id: given, or the workflow named ``workflow_name`` (created if missing) whose
    tasks are set to ``blocks`` when they differ (:meth:`UP42Hook.create_workflow` and
    :meth:`UP42Hook.add_workflow_tasks`, idempotent)."""
    if workflow_id:
        return str(workflow_id)
    workflow = hook.create_workflow(str(workflow_name), description or "", use_existing=True)
    wanted = list(blocks or [])
    current = hook.get_workflow_tasks(workflow["id"])
    current_names = [t.get("blockName") or str(t.get("name", "")).split(":")[0] for t in current]
    if not all(isinstance(b, str) for b in wanted) or current_names != wanted:
        log.info("Setting the tasks of workflow %s to %s", workflow["id"], wanted)
        hook.add_workflow_tasks(workflow["id"], wanted)
    return str(workflow["id"])


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, one level into each task's parameters."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def check_job_parameters(value: Any, name: str = "job_parameters") -> None:
    if value is not None and not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a dict keyed by workflow task name, e.g. {{'tiling:1': {{...}}}}")


def is_concurrency_refusal(exc: Exception) -> bool:
    """UP42's 409 "Maximum number of concurrent jobs (N) reached"."""
    return isinstance(exc, UP42ValidationError) and exc.status == 409 and "concurrent" in str(exc).lower()


def start_job(
    hook: UP42Hook,
    workflow_id: str,
    inputs: Mapping[str, Any],
    name: str,
    *,
    dry_run: bool,
    rerun_failed: bool,
) -> dict[str, Any]:
    """Start the job called ``name``, or return the one an earlier try started.

    A job of that name that already failed is started again when ``rerun_failed`` (a retry is
    meant to try again); a running or succeeded one is reused (a retry never doubles a job).
    """
    job = hook.run_job(workflow_id, inputs, name=name, dry_run=dry_run, reuse_existing=True)
    if rerun_failed and classify_job_status(job.get("status")) == "failure":
        log.warning(
            "Job %s (%s) ended %s in an earlier try; starting it again", job["id"], name, job["status"]
        )
        job = hook.run_job(workflow_id, inputs, name=name, dry_run=dry_run, reuse_existing=False)
    return job


def estimated_credits(estimate: Mapping[str, Any]) -> int:
    """The upper bound of a ``V1.estimate_job`` estimate (block plus machine consumption, summed over
    tasks)."""
    total = 0
    for task in estimate.values():
        if not isinstance(task, Mapping):
            continue
        for part in ("blockConsumption", "machineConsumption"):
            credit = ((task.get(part) or {}).get("credit")) or {}
            total += int(credit.get("max") or 0)
    return total
