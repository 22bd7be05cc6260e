"""Sensor: wait until UP42 jobs SUCCEEDED."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from up42_provider.links import UP42JobLink
from up42_provider.operators._common import require
from up42_provider.sensors.base import UP42StatusSensor


class UP42JobSucceededSensor(UP42StatusSensor):
    """Wait until every job ``SUCCEEDED``; fail at once when one fails, errors or is cancelled,
    with the job's error and the last log lines of its failed task.

    Returns (XCom) ``WaitState.to_dict()``.

    :param job_ids: one job id or a list (templated; a rendered list text or "a,b" works too).
    :param up42_conn_id: Airflow connection of type ``up42``.
    :param deferrable: wait in the triggerer; default ``[operators] default_deferrable``.
    :param poll_interval: seconds between checks (also the poke interval when not deferrable).
    :param timeout: wall-clock seconds before the sensor fails with a time-out (``soft_fail``
        skips instead); deferred, it travels into the trigger as ``end_time``.
    """

    kind = "job"
    ids_field = "job_ids"
    operator_extra_links = (UP42JobLink(),)
    template_fields: Sequence[str] = ("job_ids",)

    def __init__(self, *, job_ids: str | list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        require(self, job_ids=job_ids)
        self.job_ids = job_ids
