"""Deferrable wait on UP42 orders (:func:`up42_provider.waiters.acheck_orders`: ``V1.get_order`` or
``V2.get_order``)."""

from __future__ import annotations

from collections.abc import Iterable

from up42_provider.triggers.base import UP42StatusTrigger


class UP42OrderStatusTrigger(UP42StatusTrigger):
    """Fires when the orders are FULFILLED (``success``), one failed (``failure``), the wall-clock
    ``end_time`` passed (``timeout``) or polling cannot go on (``error``).

    :param order_ids: one order id or a list of them.
    :param up42_conn_id: Airflow connection of type ``up42``.
    :param poll_interval: seconds between polls (jittered +-10 %).
    :param end_time: epoch seconds after which the trigger fires ``timeout``; None waits forever.
    :param mode: ``"all"`` (every order terminal) or ``"any"`` (the first terminal order).
    :param coalesce: share one listing per poll round with every trigger of this triggerer
        (:mod:`up42_provider.triggers.poller`); ``False`` polls each id directly.
    :param fail_fast: in mode ``"all"``, fire at the first failed order instead of waiting for all.
    """

    kind = "order"
    ids_field = "order_ids"

    def __init__(
        self,
        order_ids: str | Iterable[str],
        up42_conn_id: str = "up42_default",
        poll_interval: float = 60.0,
        end_time: float | None = None,
        mode: str = "all",
        fail_fast: bool = True,
        coalesce: bool = True,
    ) -> None:
        super().__init__(order_ids, up42_conn_id, poll_interval, end_time, mode, fail_fast, coalesce)

    @property
    def order_ids(self) -> list[str]:
        return self.ids
