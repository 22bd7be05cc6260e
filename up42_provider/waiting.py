"""The tail of every UP42 task that waits: check, done? then defer or block, and resume.

The order, job and parallel-jobs operators and the deferrable sensors all end the same way
(:func:`wait_or_defer`): one check first, so a finished order never costs a trigger; then either
defer to :class:`~up42_provider.triggers.base.UP42StatusTrigger` with the wall-clock ``end_time``,
or block in :func:`~up42_provider.waiters.run_wait` - both on the one
:class:`~up42_provider.waiters.Waiter`, which returns the same :class:`WaitResult`. What the task
needs on resume travels as defer kwargs and as an XCom copy (:func:`resumed`), because
``dag.test()`` drops defer kwargs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from up42_provider.waiters import CHECKS, Waiter, WaitResult, WaitState, is_transient, run_wait

if TYPE_CHECKING:
    from airflow.sdk import Context

    from up42_provider.hooks.up42 import UP42Hook
    from up42_provider.triggers.base import UP42StatusTrigger

XCOM_RESUME = "up42_resume"  # copy of the defer kwargs


def trigger_class(kind: str) -> type[UP42StatusTrigger]:
    """The trigger that waits on ``kind`` ("order" or "job").

    Imported only when a task defers: ``airflow.triggers.base`` and its pydantic models cost a DAG
    file's import several milliseconds (tests/test_parse_cost.py).
    """
    from up42_provider.triggers.job import UP42JobStatusTrigger
    from up42_provider.triggers.order import UP42OrderStatusTrigger

    triggers: dict[str, type[UP42StatusTrigger]] = {
        "order": UP42OrderStatusTrigger,
        "job": UP42JobStatusTrigger,
    }
    return triggers[kind]


def wait_or_defer(
    task: Any,
    context: Context,
    kind: str,
    ids: Sequence[str],
    *,
    hook: UP42Hook,
    deferrable: bool,
    poll_interval: float,
    end_time: float | None,
    mode: str = "all",
    fail_fast: bool = True,
    resume: Mapping[str, Any] | None = None,
    defer_timeout: timedelta | None = None,
) -> WaitResult:
    """How the wait on ``ids`` ended, when it ended in this process; defers otherwise.

    The first check raises what no retry can fix (an unknown id, refused credentials); a transient
    failure of it just goes on to the trigger or the blocking loop. ``resume`` is handed to
    ``execute_complete`` (read it with :func:`resumed`).
    """
    ids = list(ids)
    waiter = Waiter(kind, ids, mode=mode, fail_fast=fail_fast, poll_interval=poll_interval, end_time=end_time)

    def check(pending: list[str] | None) -> WaitState:
        return CHECKS[kind](hook, pending or ids)

    try:
        result = waiter.observe(check(None))
    except Exception as exc:
        if not is_transient(exc):
            raise
        task.log.warning("Checking UP42 %ss failed (%s); waiting goes on", kind, exc)
        result = waiter.observe_error(exc)
    if result is not None:
        return result
    state = waiter.state
    task.log.info(
        "Waiting for UP42 %ss: %s", kind, state.describe(state.running) if state else ", ".join(ids)
    )
    if deferrable:
        if resume:
            ti = context["ti"]
            ti.xcom_push(key=XCOM_RESUME, value=dict(resume))
        task.defer(
            trigger=trigger_class(kind)(
                ids,
                up42_conn_id=hook.up42_conn_id,
                poll_interval=poll_interval,
                end_time=end_time,
                mode=mode,
                fail_fast=fail_fast,
            ),
            method_name="execute_complete",
            kwargs=dict(resume) if resume else None,
            timeout=defer_timeout,
        )
    delay = waiter.next_delay()
    if delay is None:
        return waiter.timeout_result()
    time.sleep(delay)
    return run_wait(waiter, check)


def resumed(context: Context, name: str, given: Any) -> Any:
    """The defer kwarg ``name`` on resume: ``given`` when Airflow passed it, else the XCom copy."""
    if given is not None:
        return given
    ti = context["ti"]
    saved = ti.xcom_pull(task_ids=ti.task_id, key=XCOM_RESUME, map_indexes=ti.map_index) or {}
    return saved.get(name) if isinstance(saved, Mapping) else None


__all__ = ["XCOM_RESUME", "resumed", "trigger_class", "wait_or_defer"]
