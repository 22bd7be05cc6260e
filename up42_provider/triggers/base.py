"""The common deferrable trigger of orders and jobs: poll with the shared client until done.

Every read goes through :class:`~up42_provider.hooks.up42.UP42Hook` (its async twins, on the
loop's shared client). The whole wait lives in the trigger's kwargs (ids, connection, interval,
wall-clock ``end_time``, mode), so a triggerer restart or a move to another triggerer loses
nothing: the new instance simply polls again. Decisions come from
:class:`up42_provider.waiters.Waiter`, the same state machine the sensors and operators use. By
default (``coalesce=True``) the polls are answered by the triggerer-wide
:class:`~up42_provider.triggers.poller.Poller` (one listing per round for all
triggers of a connection); every status change is one line in the task log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from up42_provider.triggers.poller import POLLERS
from up42_provider.utils.ids import parse_ids
from up42_provider.waiters import ACHECKS, MODES, Waiter, WaitResult, WaitState, arun_wait, astate_of

if TYPE_CHECKING:
    from up42_provider.hooks.up42 import UP42Hook


class UP42StatusTrigger(BaseTrigger):
    """Poll UP42 for the status of some orders or jobs until the wait is over.

    Fires exactly one event ``{"status": "success"|"failure"|"timeout"|"error", "state":
    WaitState.to_dict(), "message": str}``. ``mode="all"`` fires when every id is terminal, or at
    the first failure when ``fail_fast``; ``mode="any"`` as soon as one id is terminal.
    """

    kind: ClassVar[str]
    ids_field: ClassVar[str]

    def __init__(
        self,
        ids: str | Iterable[str],
        up42_conn_id: str = "up42_default",
        poll_interval: float = 60.0,
        end_time: float | None = None,
        mode: str = "all",
        fail_fast: bool = True,
        coalesce: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be 'all' or 'any', got {mode!r}")
        if float(poll_interval) < 0:
            raise ValueError("poll_interval must not be negative")
        self.ids = parse_ids(ids, name=self.ids_field)
        self.up42_conn_id = up42_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time) if end_time is not None else None
        self.mode = mode
        self.fail_fast = bool(fail_fast)
        self.coalesce = bool(coalesce)
        self._seen: dict[str, str] = {}  # last status logged per id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                self.ids_field: list(self.ids),
                "up42_conn_id": self.up42_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "mode": self.mode,
                "fail_fast": self.fail_fast,
                "coalesce": self.coalesce,
            },
        )

    def waiter(self) -> Waiter:
        return Waiter(
            self.kind,
            self.ids,
            mode=self.mode,
            fail_fast=self.fail_fast,
            poll_interval=self.poll_interval,
            end_time=self.end_time,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        result = await self._wait()
        # The shared client is released before the event leaves: the triggerer may never resume us.
        self.log.info("UP42 %s wait ended: %s - %s", self.kind, result.status, result.message.split("\n")[0])
        yield TriggerEvent(result.to_event())

    async def _wait(self) -> WaitResult:
        waiter = self.waiter()
        remaining = waiter.remaining()
        if remaining is not None and remaining <= 0:
            return waiter.timeout_result()
        from up42_provider.hooks.up42 import UP42Hook

        hook = UP42Hook(up42_conn_id=self.up42_conn_id)
        try:
            await hook.aget_client()  # the loop's shared client; a missing connection fails here
            if not self.coalesce:
                check = ACHECKS[self.kind]
                return await arun_wait(
                    waiter, lambda pending: check(hook, pending or self.ids), initial_delay=True
                )
            poller = POLLERS.get(self.up42_conn_id, self.kind)
            sub = poller.subscribe(self.ids, self.poll_interval)
            try:
                return await arun_wait(waiter, lambda _p: self._next_round(hook, sub), paced=False)
            finally:
                poller.unsubscribe(sub)
        except Exception as exc:  # connection missing or malformed: nothing a poll could fix
            return WaitResult("error", waiter.state, f"cannot poll UP42 ({type(exc).__name__}: {exc})", exc)
        finally:
            await asyncio.shield(hook.aclose())

    async def _next_round(self, hook: UP42Hook, sub: Any) -> WaitState:
        """The poller's next answers for our ids; each status change is one line in the task log."""
        state = await astate_of(hook, self.kind, await sub.get())
        seen = self._seen
        for item_id, status in state.statuses.items():
            before = seen.get(item_id)
            if before != status:
                if before is None:
                    self.log.info("UP42 %s %s is %s", self.kind, item_id, status)
                else:
                    self.log.info("UP42 %s %s changed: %s -> %s", self.kind, item_id, before, status)
                seen[item_id] = status
        return state
