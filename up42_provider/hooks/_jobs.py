"""Jobs of both generations: 2023 workflow jobs (``V1.get_jobs``/``get_job``) and today's processing
jobs (``V2.get_jobs``/``get_job``).

Neither API sorts jobs by update time: 2023 lists ``createdAt`` descending (``page=``),
today ``created`` descending (``next`` links). ``updated_after`` is therefore a client-side
filter over the whole list. ``statuses`` is server-side today (``status=``), client-side in
2023. Both return the one shape of :func:`~._shapes.normalize_job`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping
from typing import Any

from up42_provider.api.endpoints import V1, V2
from up42_provider.api.errors import UP42NotFoundError, UP42ValidationError
from up42_provider.hooks._base import HookBase
from up42_provider.hooks._helpers import JOB_SORT_FIELDS, _require_id, _sort, _strings, _take
from up42_provider.hooks._pagination import alink_pages, link_pages, list_pages
from up42_provider.hooks._shapes import failure_reason, normalize_job, parse_time, updated_since
from up42_provider.status import StatusVerdict, job_verdict


class JobsMixin(HookBase):
    def get_job(self, job_id: str) -> dict[str, Any]:
        """The job (a 2023 workflow job or today's processing job), normalized."""
        job_id = _require_id(job_id, "job_id")
        if self.generation == "current":
            return normalize_job(self._call(V2.get_job, job_id=job_id), "current")
        return normalize_job(self._call(V1.get_job, job_id=job_id), "2023")

    async def aget_job(self, job_id: str) -> dict[str, Any]:
        """Async twin of :meth:`get_job` on the hook's pooled async client (for triggers)."""
        job_id = _require_id(job_id, "job_id")
        client = await self.aget_client()
        generation = await self.ageneration()
        endpoint = V2.get_job if generation == "current" else V1.get_job
        return normalize_job(await client.call(endpoint, job_id=job_id), generation)

    @staticmethod
    def _job_filter(after: Any, wanted: set[str] | None, generation: str) -> Any:
        def keep(job: dict[str, Any]) -> bool:
            status = str(job.get("status") or "")
            status = status.lower() if generation == "current" else status.upper()
            return updated_since(job, after) and (wanted is None or status in wanted)

        return keep

    def _current_job_params(
        self, workspace_id: str, wanted: set[str] | None, page_size: int | None, process_ids: Any
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"workspaceId": workspace_id, "sort": "created,desc"}
        if process_ids is not None:
            params["processId"] = ",".join(_strings(process_ids) or [])
        if wanted:
            params["status"] = ",".join(sorted(wanted))
        params["limit"] = self.page_size if page_size is None else int(page_size)
        return params

    @staticmethod
    def _wanted(statuses: str | Iterable[str] | None, generation: str) -> set[str] | None:
        if statuses is None:
            return None
        values = [s.strip() for s in _strings(statuses) or []]
        return {s.lower() if generation == "current" else s.upper() for s in values}

    def iter_jobs(
        self,
        *,
        sortby: str = "createdAt",
        descending: bool = True,
        test_jobs: bool = True,
        real_jobs: bool = True,
        workflow_id: str | None = None,
        updated_after: Any = None,
        statuses: str | Iterable[str] | None = None,
        page_size: int | None = None,
        process_ids: str | Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The jobs of the project (2023) or workspace (today), normalized, newest created first.

        2023 only: ``sortby``/``descending``, ``test_jobs``/``real_jobs`` (``mode``) and
        ``workflow_id`` (client-side). Today only: ``process_ids`` (server-side).
        """
        generation = self.generation
        after = parse_time(updated_after)
        keep = self._job_filter(after, self._wanted(statuses, generation), generation)
        if generation == "current":
            if workflow_id is not None:
                raise ValueError("workflow_id is a 2023 concept; today's processing jobs have process_ids")
            params = self._current_job_params(
                self.get_conn().workspace_id, self._wanted(statuses, generation), page_size, process_ids
            )
            pages = link_pages(
                lambda: self._call(V2.get_jobs, params=params),
                lambda href: self.get_conn().call_url(href, V2.get_jobs),
                "jobs",
            )
            return (j for j in (normalize_job(raw, "current") for raw in pages) if keep(j))
        if process_ids is not None:
            raise ValueError("process_ids needs today's generation; 2023 jobs belong to workflows")
        sort = _sort(sortby, descending, JOB_SORT_FIELDS)
        modes = {m for m, wanted in (("DRY_RUN", test_jobs), ("DEFAULT", real_jobs)) if wanted}

        def fetch(page: int) -> Any:
            return self._call(V1.get_jobs, params={"page": page, "sort": sort})

        return (
            job
            for job in (normalize_job(raw, "2023") for raw in list_pages(fetch))
            if job.get("mode", "DEFAULT") in modes
            and (workflow_id is None or job.get("workflowId") == workflow_id)
            and keep(job)
        )

    async def aiter_jobs(
        self,
        *,
        updated_after: Any = None,
        statuses: str | Iterable[str] | None = None,
        page_size: int | None = None,
        process_ids: str | Iterable[str] | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Async twin of :meth:`iter_jobs` (the filters both generations share)."""
        generation = await self.ageneration()
        client = await self.aget_client()
        after = parse_time(updated_after)
        wanted = self._wanted(statuses, generation)
        keep = self._job_filter(after, wanted, generation)
        if generation == "current":
            params = self._current_job_params(await client.aworkspace_id(), wanted, page_size, process_ids)

            async def first() -> Any:
                return await client.call(V2.get_jobs, params=params)

            async def follow(href: str) -> Any:
                return await client.call_url(href, V2.get_jobs)

            async for raw in alink_pages(first, follow, "jobs"):
                job = normalize_job(raw, "current")
                if keep(job):
                    yield job
            return
        if process_ids is not None:
            raise ValueError("process_ids needs today's generation; 2023 jobs belong to workflows")
        sort = _sort("createdAt", True, JOB_SORT_FIELDS)
        previous: tuple[Any, ...] | None = None
        for page in range(10_000):
            query: dict[str, Any] = {"page": page, "sort": sort}
            if page_size is not None:
                query["size"] = int(page_size)
            items = await client.call(V1.get_jobs, params=query) or []
            ids = tuple(item.get("id") for item in items)
            if not items or ids == previous:  # the end, or a server ignoring ``page``
                return
            previous = ids
            for raw in items:
                job = normalize_job(raw, "2023")
                if keep(job):
                    yield job

    def get_jobs(self, *, limit: int | None = 500, **filters: Any) -> list[dict[str, Any]]:
        """Up to ``limit`` jobs (default 500, as up42-py); see :meth:`iter_jobs`."""
        return _take(self.iter_jobs(**filters), limit)

    def job_status(self, job: dict[str, Any]) -> StatusVerdict:
        """``(status, terminal, failed, reason)`` of a job; today's reason lists ``results.errors``."""
        generation = str(job.get("generation") or self.generation)
        return job_verdict(job.get("status"), generation, failure_reason(job))

    # ------------------------------------------------------- today's processing

    def get_process(self, process_id: str) -> dict[str, Any]:
        """The process description (``additionalParameters`` holds its ``eula-id``)."""
        return self._call(V2.get_process, process_id=process_id) or {}

    def check_process(self, process_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Describe, EULA, validate, price, in the SDK's order: ``{"errors": [...], "cost": {...} | None}``.

        ``errors`` lists ``{"name", "message"}``: ``ProcessNotFound``, ``EulaNotAccepted``,
        ``InvalidSchema`` or the 422 errors. The cost is only asked for valid inputs.
        """
        try:
            process = self.get_process(process_id)
        except UP42NotFoundError:
            return {"errors": [{"name": "ProcessNotFound", "message": process_id}], "cost": None}
        parameters = (process.get("additionalParameters") or {}).get("parameters") or []
        eula_id = next(
            (p["value"][0] for p in parameters if p.get("name") == "eula-id" and p.get("value")), None
        )
        if eula_id and not (self._call(V2.get_eula, eula_id=eula_id) or {}).get("isAccepted"):
            return {"errors": [{"name": "EulaNotAccepted", "message": str(eula_id)}], "cost": None}
        body = {"inputs": dict(inputs)}
        try:
            self._call(V2.validate_process, json=body, process_id=process_id)
        except UP42ValidationError as exc:
            errors = (exc.body or {}).get("errors") if isinstance(exc.body, Mapping) else None
            return {"errors": errors or [{"name": "InvalidSchema", "message": exc.message}], "cost": None}
        return {"errors": [], "cost": self._call(V2.get_process_cost, json=body, process_id=process_id)}

    def execute_process(
        self,
        process_id: str,
        inputs: Mapping[str, Any],
        *,
        budget_id: str | None = None,
        max_credits: float | None = None,
        reuse_existing: bool = False,
    ) -> dict[str, Any]:
        """Check (EULA, validation, cost) and then run a processing job exactly once.

        Nothing is executed when the checks find errors or the cost exceeds ``max_credits``.
        ``inputs["title"]`` is the client token: after a lost answer the job is looked up by
        process and title for the settle window before the execution is sent again; with ``reuse_existing``
        a job an earlier task try started under that title is returned.
        """
        if self.generation != "current":
            raise ValueError("execute_process needs today's UP42 API; 2023 jobs run workflows (create_job)")
        title = inputs.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ValueError("inputs need a non-empty 'title' (it names the job and keeps it unique)")
        checked = self.check_process(process_id, inputs)
        if checked["errors"]:
            raise ValueError(f"process {process_id!r} refuses these inputs, nothing ran: {checked['errors']}")
        credits = (checked["cost"] or {}).get("totalCredits")
        if max_credits is not None and isinstance(credits, int | float) and credits > max_credits:
            raise ValueError(
                f"the job costs {credits} credits, more than max_credits={max_credits}; nothing ran"
            )

        def matches() -> list[dict[str, Any]]:
            return [j for j in self.iter_jobs(process_ids=[process_id]) if j.get("name") == title]

        known = matches()
        if reuse_existing and known:
            return known[0]
        known_ids = {j["id"] for j in known}

        def create() -> dict[str, Any]:
            params = {"workspaceId": self.get_conn().workspace_id, "budgetId": budget_id}
            raw = self._call(
                V2.execute_process, params=params, json={"inputs": dict(inputs)}, process_id=process_id
            )
            return normalize_job(raw or {}, "current")

        def find() -> list[dict[str, Any]]:
            return [j for j in matches() if j["id"] not in known_ids]

        return self._create_once(
            f"run process {process_id!r} titled {title!r}", create, find, fetch=self.get_job, discard=None
        )
