"""Sensor: wait until UP42 orders are FULFILLED."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from up42_provider.links import UP42OrderLink
from up42_provider.operators._common import require
from up42_provider.sensors.base import UP42StatusSensor


class UP42OrderFulfilledSensor(UP42StatusSensor):
    """Wait until every order is ``FULFILLED``; fail at once when one fails.

    Returns (XCom) ``WaitState.to_dict()``: ``{"kind", "statuses", "succeeded", "failed",
    "running", "messages"}``.

    :param order_ids: one order id or a list (templated; a rendered list text or "a,b" works too).
    :param up42_conn_id: Airflow connection of type ``up42``.
    :param deferrable: wait in the triggerer; default ``[operators] default_deferrable``.
    :param poll_interval: seconds between checks (also the poke interval when not deferrable).
    :param timeout: wall-clock seconds before the sensor fails with a time-out (``soft_fail``
        skips instead); deferred, it travels into the trigger as ``end_time``.
    """

    kind = "order"
    ids_field = "order_ids"
    operator_extra_links = (UP42OrderLink(),)
    template_fields: Sequence[str] = ("order_ids",)

    def __init__(self, *, order_ids: str | list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        require(self, order_ids=order_ids)
        self.order_ids = order_ids
