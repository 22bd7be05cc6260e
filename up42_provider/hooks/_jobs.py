"""Jobs of both generations: 2023 workflow jobs (E47/E48) and today's processing jobs (N23/N24).

Neither API sorts jobs by update time: 2023 lists ``createdAt`` descending (E47, ``page=``),
today ``created`` descending (N24, ``next`` links). ``updated_after`` is therefore a client-side
filter over the whole list. ``statuses`` is server-side today (N24 ``status=``), client-side in
2023. Both return the one shape of :func:`~._shapes.normalize_job`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from up42_provider.api.endpoints import V1, V2
from up42_provider.hooks._base import HookBase
from up42_provider.hooks._helpers import JOB_SORT_FIELDS, _require_id, _sort, _strings, _take
from up42_provider.hooks._pagination import alink_pages, link_pages, list_pages
from up42_provider.hooks._shapes import failure_reason, normalize_job, parse_time, updated_since
from up42_provider.status import StatusVerdict, job_verdict


class JobsMixin(HookBase):
    def get_job(self, job_id: str) -> dict[str, Any]:
        """The job (2023 E48 or today's processing job N23), normalized."""
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
    ) -> AsyncIterator[dict[str, Any]]:
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
            items = await client.call(V1.get_jobs, params={"page": page, "sort": sort}) or []
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
