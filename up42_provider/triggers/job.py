"""Deferrable wait on UP42 jobs (:func:`up42_provider.waiters.acheck_jobs`: ``V1.get_job`` or
``V2.get_job``; ``V1.get_job_tasks`` and ``V1.get_job_task_logs`` for the log of a failed 2023 task)."""

from __future__ import annotations

from collections.abc import Iterable

from up42_provider.triggers.base import UP42StatusTrigger


class UP42JobStatusTrigger(UP42StatusTrigger):
    """Fires when the jobs SUCCEEDED (``success``), one failed, errored or was cancelled
    (``failure``, with the failed task's log tail), the wall-clock ``end_time`` passed
    (``timeout``) or polling cannot go on (``error``).

    :param job_ids: one job id or a list of them.
    :param up42_conn_id: Airflow connection of type ``up42``.
    :param poll_interval: seconds between polls (jittered +-10 %).
    :param end_time: epoch seconds after which the trigger fires ``timeout``; None waits forever.
    :param mode: ``"all"`` (every job terminal) or ``"any"`` (the first terminal job: the
        parallel-jobs operator refills its slots with it).
    :param coalesce: share one listing per poll round with every trigger of this triggerer
        (:mod:`up42_provider.triggers.poller`); ``False`` polls each id directly.
    :param fail_fast: in mode ``"all"``, fire at the first failed job instead of waiting for all.
    """

    kind = "job"
    ids_field = "job_ids"

    def __init__(
        self,
        job_ids: str | Iterable[str],
        up42_conn_id: str = "up42_default",
        poll_interval: float = 60.0,
        end_time: float | None = None,
        mode: str = "all",
        fail_fast: bool = True,
        coalesce: bool = True,
    ) -> None:
        super().__init__(job_ids, up42_conn_id, poll_interval, end_time, mode, fail_fast, coalesce)

    @property
    def job_ids(self) -> list[str]:
        return self.ids
