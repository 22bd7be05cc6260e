"""Workflows and jobs of the 2023 processing platform (``V1``)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from up42_provider.api.endpoints import V1
from up42_provider.api.errors import UP42Error, UP42NotFoundError
from up42_provider.hooks._helpers import (
    JOB_LOOKUP_LIMIT,
    _require_id,
    keep_one,
)
from up42_provider.hooks._jobs import JobsMixin
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import to_polygon_geojson


class ProcessingMixin(JobsMixin):
    """Methods of :class:`~up42_provider.hooks.up42.UP42Hook` (relies on its ``_call``/``get_conn``)."""

    # ---------------------------------------------------------------------------------- workflows

    def get_workflows(self) -> list[dict[str, Any]]:
        """``V1.get_workflows``: the project's workflows."""
        return self._call(V1.get_workflows) or []

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        """``V1.get_workflow``."""
        return self._call(V1.get_workflow, workflow_id=_require_id(workflow_id, "workflow_id"))

    def create_workflow(self, name: str, description: str = "", use_existing: bool = True) -> dict[str, Any]:
        """``V1.get_workflows`` (lookup by name and description), ``V1.create_workflow``,
        ``V1.get_workflow``; idempotent after a lost answer."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a workflow needs a name")
        description = description or ""

        def matches() -> list[dict[str, Any]]:
            return [
                w
                for w in self.get_workflows()
                if w.get("name") == name and (w.get("description") or "") == description
            ]

        known = matches()
        if use_existing and known:
            first = keep_one(known)[0]
            self.log.info("Using existing workflow %s (%s)", name, first.get("id"))
            return self.get_workflow(first["id"])
        known_ids = {w.get("id") for w in known}

        def create() -> dict[str, Any]:
            data = self._call(V1.create_workflow, json={"name": name, "description": description}) or {}
            if not data.get("id"):
                raise UP42Error(
                    f"Workflow was not created: {data}", method="POST", path=V1.create_workflow.path
                )
            try:
                return self.get_workflow(data["id"])
            except UP42NotFoundError:  # a concurrent worker converging on an older one removed it
                return data

        def find() -> list[dict[str, Any]]:
            return [w for w in matches() if w.get("id") not in known_ids]

        # converge: workers that share a name and both found none converge on the oldest one.
        return self._create_once(
            f"create workflow {name!r}",
            create,
            find,
            fetch=self.get_workflow,
            discard=self.delete_workflow,
            converge=use_existing,
        )

    def update_workflow(
        self, workflow_id: str, name: str | None = None, description: str | None = None
    ) -> None:
        """``V1.update_workflow``: both keys are always sent (``None`` when not given), as up42-py does."""
        self._call(
            V1.update_workflow,
            json={"name": name, "description": description},
            workflow_id=_require_id(workflow_id, "workflow_id"),
        )

    def delete_workflow(self, workflow_id: str) -> None:
        """``V1.delete_workflow``."""
        self._call(V1.delete_workflow, workflow_id=_require_id(workflow_id, "workflow_id"))

    def get_workflow_tasks(self, workflow_id: str) -> list[dict[str, Any]]:
        """``V1.get_workflow_tasks``: the ordered task list (the first task is the data block)."""
        return self._call(V1.get_workflow_tasks, workflow_id=_require_id(workflow_id, "workflow_id")) or []

    def add_workflow_tasks(
        self, workflow_id: str, input_tasks: Sequence[str | Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """``V1.set_workflow_tasks`` (after ``V1.get_blocks`` for block names): replace the workflow's tasks
        with a linear chain.

        ``input_tasks`` are block names, ids or display names (resolved via ``V1.get_blocks``, public blocks
        only), or full task definitions ``{"name", "parentName", "blockId"}``. Returns what was sent.
        """
        _require_id(workflow_id, "workflow_id")
        if not input_tasks:
            raise ValueError("input_tasks is empty: give at least the data block")
        if all(isinstance(t, Mapping) for t in input_tasks):
            tasks = [dict(t) for t in input_tasks]  # type: ignore[arg-type]
        elif all(isinstance(t, str) for t in input_tasks):
            blocks = self.get_blocks()
            lookup: dict[str, dict[str, Any]] = {}
            for block in blocks:
                for key in (block.get("id"), block.get("name"), block.get("displayName")):
                    if key:
                        lookup.setdefault(key, block)
            tasks = []
            counts: dict[str, int] = {}
            parent: str | None = None
            for ref in input_tasks:
                block = lookup.get(ref)  # type: ignore[arg-type]
                if block is None:
                    raise ValueError(f"block {ref!r} is not a public UP42 block name, id or display name")
                counts[block["name"]] = counts.get(block["name"], 0) + 1
                task_name = f"{block['name']}:{counts[block['name']]}"
                tasks.append({"name": task_name, "parentName": parent, "blockId": block["id"]})
                parent = task_name
        else:
            raise ValueError("input_tasks must be all block names/ids or all task definition dicts")
        self._call(V1.set_workflow_tasks, json=tasks, workflow_id=workflow_id)
        return tasks

    def get_compatible_blocks(self, workflow_id: str) -> dict[str, str]:
        """``V1.get_workflow_tasks`` then ``V1.get_compatible_blocks`` (or ``V1.get_blocks`` data blocks for
        an empty workflow): ``{block name: block id}``."""
        tasks = self.get_workflow_tasks(workflow_id)
        if not tasks:
            return {b["name"]: b["id"] for b in self.get_blocks(block_type="DATA")}
        data = (
            self._call(
                V1.get_compatible_blocks,
                params={"parentTaskName": tasks[-1]["name"]},
                workflow_id=workflow_id,
            )
            or {}
        )
        return {b["name"]: b["blockId"] for b in data.get("blocks") or []}

    def get_parameters_info(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """``V1.get_workflow_tasks``: ``{task name: block parameter specs}``."""
        return {
            t["name"]: (t.get("block") or {}).get("parameters") or {}
            for t in self.get_workflow_tasks(workflow_id)
        }

    def construct_job_parameters(self, workflow_id: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
        """``V1.get_workflow_tasks`` + :func:`~up42_provider.utils.parameters.job_parameters` (same keyword
        arguments)."""
        return P.job_parameters(self.get_workflow_tasks(workflow_id), **kwargs)

    def construct_job_parameters_parallel(
        self, workflow_id: str, **kwargs: Any
    ) -> list[dict[str, dict[str, Any]]]:
        """``V1.get_workflow_tasks`` + :func:`~up42_provider.utils.parameters.job_parameters_parallel`."""
        return P.job_parameters_parallel(self.get_workflow_tasks(workflow_id), **kwargs)

    def estimate_job(self, workflow_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """``V1.get_workflow_tasks`` (+``V1.get_blocks`` when a task lacks its block id), then
        ``V1.estimate_job``: per-task credit/duration estimates."""
        tasks = self.get_workflow_tasks(workflow_id)
        if not tasks:
            raise ValueError(f"workflow {workflow_id} has no tasks to estimate")
        blocks: dict[str, str] | None = None
        body_tasks = []
        parent: str | None = None
        for task in tasks:
            block = task.get("block") or {}
            block_id = block.get("id")
            if not block_id:
                if blocks is None:
                    blocks = {b["name"]: b["id"] for b in self.get_blocks()}
                block_id = blocks.get(task.get("blockName") or task["name"].split(":")[0])
            body_tasks.append(
                {
                    "name": task["name"],
                    "parentName": parent,
                    "blockId": block_id,
                    "blockVersionTag": task.get("blockVersionTag") or block.get("version"),
                }
            )
            parent = task["name"]
        body = {"tasks": body_tasks, "inputs": self._job_inputs(inputs, dry_run=False)}
        return self._call(V1.estimate_job, json=body)

    # --------------------------------------------------------------------------------------- jobs

    @staticmethod
    def _job_inputs(inputs: Mapping[str, Any] | str | os.PathLike[str], *, dry_run: bool) -> dict[str, Any]:
        if isinstance(inputs, (str, os.PathLike)):
            path = Path(inputs)
            if not path.is_file():
                raise ValueError(f"job inputs {str(path)!r} are neither a dict nor an existing JSON file")
            inputs = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(inputs, Mapping) or not inputs:
            raise ValueError("job inputs must be a non-empty dict keyed by workflow task name")
        result = P.with_job_mode(inputs, dry_run=dry_run)
        for task, values in result.items():
            if task == "config" or not isinstance(values, dict):
                continue
            for key in ("intersects", "contains"):
                if isinstance(values.get(key), Mapping):
                    values[key] = to_polygon_geojson(values[key])
        return result

    def run_job(
        self,
        workflow_id: str,
        inputs: Mapping[str, Any] | str | os.PathLike[str],
        *,
        name: str,
        dry_run: bool = False,
        reuse_existing: bool = False,
    ) -> dict[str, Any]:
        """``V1.create_job`` then ``V1.get_job``: create and start a job, idempotently by its ``name``.

        The job list (``V1.get_jobs``, newest first, a few pages) is read before creating; after a lost answer
        a job of this workflow with this name that was not there before is returned instead of
        creating a second one. Make ``name`` unique per logical job (e.g. include the run id);
        ``reuse_existing=True`` returns the newest existing job of that name without creating.
        ``dry_run`` creates a free test job (``"config": {"mode": "DRY_RUN"}``).
        """
        _require_id(workflow_id, "workflow_id")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("run_job needs a job name (its idempotency key)")
        body = self._job_inputs(inputs, dry_run=dry_run)

        def matches() -> list[dict[str, Any]]:
            pages = itertools.islice(self.iter_jobs(), JOB_LOOKUP_LIMIT)
            return [j for j in pages if j.get("name") == name and j.get("workflowId") == workflow_id]

        known = matches()
        if reuse_existing and known:
            newest = known[0]  # V1.get_jobs newest first: the latest try of this job
            self.log.info("Job %r exists already: %s", name, newest.get("id"))
            return self.get_job(newest["id"])
        known_ids = {j.get("id") for j in known}

        def create() -> dict[str, Any]:
            data = self._call(V1.create_job, params={"name": name}, json=body, workflow_id=workflow_id) or {}
            if not data.get("id"):
                raise UP42Error(f"Job was not created: {data}", method="POST", path=V1.create_job.path)
            return self.get_job(data["id"])

        def find() -> list[dict[str, Any]]:
            return [j for j in matches() if j.get("id") not in known_ids]

        return self._create_once(
            f"create job {name!r}", create, find, fetch=self.get_job, discard=self.cancel_job
        )

    def cancel_job(self, job_id: str) -> None:
        """``V1.cancel_job``: cancel a pending or running job (it goes CANCELLING, then CANCELLED)."""
        self._call(V1.cancel_job, json={}, job_id=_require_id(job_id, "job_id"))

    def get_job_tasks(self, job_id: str) -> list[dict[str, Any]]:
        """``V1.get_job_tasks``: the job's tasks, in workflow order."""
        return self._call(V1.get_job_tasks, job_id=_require_id(job_id, "job_id")) or []

    async def aget_job_tasks(self, job_id: str) -> list[dict[str, Any]]:
        """``V1.get_job_tasks``, async."""
        client = await self.aget_client()
        return await client.call(V1.get_job_tasks, job_id=_require_id(job_id, "job_id")) or []

    def get_job_task(self, job_id: str, job_task_id: str) -> dict[str, Any]:
        """``V1.get_job_tasks``, picking one task by id."""
        for task in self.get_job_tasks(job_id):
            if task.get("id") == job_task_id:
                return task
        raise UP42NotFoundError(
            f"job {job_id} has no task {job_task_id}", status=404, method="GET", path=V1.get_job_tasks.path
        )

    def get_job_task_logs(self, job_id: str, job_task_id: str) -> str:
        """``V1.get_job_task_logs``: the task's plain-text log."""
        return self._call(
            V1.get_job_task_logs,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
        )

    async def aget_job_task_logs(self, job_id: str, job_task_id: str) -> str:
        """``V1.get_job_task_logs``, async."""
        client = await self.aget_client()
        return await client.call(
            V1.get_job_task_logs,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
        )

    def get_job_logs(self, job_id: str) -> dict[str, str]:
        """``V1.get_job_tasks`` then ``V1.get_job_task_logs`` per task: ``{job task id: log}``."""
        return {t["id"]: self.get_job_task_logs(job_id, t["id"]) for t in self.get_job_tasks(job_id)}

    def get_job_results_json(self, job_id: str) -> dict[str, Any]:
        """``V1.get_job_results_json``: the job's final ``data.json`` FeatureCollection."""
        return self._call(V1.get_job_results_json, job_id=_require_id(job_id, "job_id"))

    def get_job_task_results_json(self, job_id: str, job_task_id: str) -> dict[str, Any]:
        """``V1.get_job_task_results_json``: one task's ``data.json``."""
        return self._call(
            V1.get_job_task_results_json,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
        )

    def get_job_tasks_results_json(self, job_id: str) -> dict[str, dict[str, Any]]:
        """``V1.get_job_tasks`` then ``V1.get_job_task_results_json`` per task: ``{job task id:
        data.json}``."""
        return {t["id"]: self.get_job_task_results_json(job_id, t["id"]) for t in self.get_job_tasks(job_id)}

    def get_job_results_url(self, job_id: str) -> str:
        """``V1.get_job_results_url``: signed URL of the job's result archive (.tgz)."""
        return (self._call(V1.get_job_results_url, job_id=_require_id(job_id, "job_id")) or {})["url"]

    def get_job_task_results_url(self, job_id: str, job_task_id: str) -> str:
        """``V1.get_job_task_results_url``: signed URL of one task's result archive."""
        data = self._call(
            V1.get_job_task_results_url,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
        )
        return (data or {})["url"]

    def get_job_task_quicklooks(self, job_id: str, job_task_id: str) -> list[str]:
        """``V1.get_job_task_quicklooks``: the task's quicklook ids (file names with extension)."""
        return (
            self._call(
                V1.get_job_task_quicklooks,
                job_id=_require_id(job_id, "job_id"),
                jobtask_id=_require_id(job_task_id, "job_task_id"),
            )
            or []
        )

    def download_job_task_quicklook(self, job_id: str, job_task_id: str, quicklook_id: str) -> bytes:
        """``V1.get_job_task_quicklook``: one quicklook image (PNG/JPEG bytes)."""
        return self._call(
            V1.get_job_task_quicklook,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
            quicklook_id=_require_id(quicklook_id, "quicklook_id"),
        )

    def get_job_credits(self, job_id: str) -> dict[str, Any]:
        """``V1.get_job_credits``: ``{"creditsUsed": n, ...}``."""
        return self._call(V1.get_job_credits, job_id=_require_id(job_id, "job_id"))
