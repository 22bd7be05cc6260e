"""Benchmark only: a trigger that measures the event-loop lag of the triggerer it runs in.

:class:`LagProbeTrigger` sleeps :data:`TICK` seconds in a loop and appends one line per tick to a
file, ``<wall-clock time> <overshoot in ms>``: how late the loop woke it, i.e. how long other
coroutines (the UP42 triggers next to it) held the loop. It never fires; the triggerer cancels it
when its task instance is no longer deferred. Used by ``benchmarks/airflow_triggerer_benchmark.py``
through the ``lag_probe`` task of ``benchmarks/dags/up42_triggerer_benchmark.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.triggers.base import BaseTrigger, TriggerEvent

TICK = 0.05


class LagProbeTrigger(BaseTrigger):
    """Record the event loop's lag every :data:`TICK` seconds into ``path`` (line-buffered)."""

    def __init__(self, path: str, tick: float = TICK) -> None:
        super().__init__()
        self.path = path
        self.tick = float(tick)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {"path": self.path, "tick": self.tick}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        with open(self.path, "a", buffering=1, encoding="ascii") as out:
            while True:
                started = time.perf_counter()
                await asyncio.sleep(self.tick)
                overshoot = time.perf_counter() - started - self.tick
                out.write(f"{time.time():.3f} {overshoot * 1e3:.2f}\n")
        yield TriggerEvent({})  # pragma: no cover - the loop above never ends


class LagProbeOperator(BaseOperator):
    """Defer to a :class:`LagProbeTrigger` writing to ``path`` (the benchmark writes its deferred
    task instance into the DB directly; nothing runs this task)."""

    def __init__(self, *, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path

    def execute(self, context: Context) -> None:
        self.defer(trigger=LagProbeTrigger(self.path), method_name="execute_complete")

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        return None
