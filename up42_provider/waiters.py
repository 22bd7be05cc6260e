"""One state machine for every wait on UP42 orders and jobs.

Sensors (``poke``), operators (a blocking wait) and deferrable triggers (async) all feed the same
:class:`Waiter` with what they observed, so "done", "failed", "timed out" and "give up after
errors" mean the same thing everywhere (like the waiters of the Amazon provider). Only the loop
around it differs: :func:`run_wait` sleeps, :func:`arun_wait` awaits.

* :class:`WaitState` - the classified statuses of a set of ids (JSON-safe for events and XCom).
* :class:`WaitResult` - the end of a wait: ``success``/``failure``/``timeout``/``error`` with a
  message; ``raise_for_status()`` turns it into the state or an exception.
* ``check_orders``/``check_jobs`` (sync) and their twins ``acheck_orders``/``acheck_jobs`` (async)
  read the statuses through :class:`~up42_provider.hooks.up42.UP42Hook` (``get_order`` /
  ``aget_order``...); failure messages are UP42's (orders: status and any message; jobs: the job
  error and the failed task's log tail).
* ``astate_of`` - the same state from what a coalesced poll round answered
  (:mod:`up42_provider.triggers.poller`).

Transient API trouble (5xx, 429, time-outs, broken connections) never ends a wait: it is logged
and the next poll tries again, bounded only by the deadline. Errors no retry can fix (unknown id,
refused credentials) end it after a few consecutive polls.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from up42_provider.api.errors import (
    UP42Error,
    UP42RateLimitedError,
    UP42ServerError,
    UP42TransportError,
)
from up42_provider.hooks._shapes import failure_reason
from up42_provider.status import classify_job_status, classify_order_status, classify_status
from up42_provider.utils.ids import parse_ids

if TYPE_CHECKING:
    from up42_provider.hooks.up42 import UP42Hook

log = logging.getLogger(__name__)

Kind = Literal["order", "job"]
Mode = Literal["all", "any"]
ResultStatus = Literal["success", "failure", "timeout", "error"]

KINDS: tuple[str, ...] = ("order", "job")
MODES: tuple[str, ...] = ("all", "any")
JITTER = 0.1  # +-10 % on every poll interval, so many waits do not poll in lock-step
MAX_PERMANENT_ERRORS = 3  # consecutive polls failing with an error no retry can fix
LOG_TAIL_LINES = 20
LOG_TAIL_CHARS = 3000
ASYNC_CONCURRENCY = 8  # parallel requests of one async check (one trigger with many ids)
_ORDER_MESSAGE_KEYS = (
    "statusMessage",
    "message",
    "errorMessage",
    "failureReason",
    "statusReason",
    "reason",
    "error",
)


# ------------------------------------------------------------------------------------------ errors


class UP42WaitError(Exception):
    """A wait on UP42 ended without success; ``result`` holds the last known state."""

    def __init__(self, message: str, result: WaitResult | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result

    @property
    def state(self) -> WaitState | None:
        return self.result.state if self.result else None


class UP42WaitTimeoutError(UP42WaitError):
    """The deadline passed while orders or jobs were still running."""


class UP42WaitFailedError(UP42WaitError):
    """An order or job reached a terminal failure status."""


class UP42OrderFailedError(UP42WaitFailedError):
    """An order ended FAILED, FAILED_PERMANENTLY or another failure status."""


class UP42JobFailedError(UP42WaitFailedError):
    """A job ended FAILED, ERROR, CANCELLING or CANCELLED."""


# ------------------------------------------------------------------------------------------- state


@dataclass(frozen=True)
class WaitState:
    """Statuses of a set of orders or jobs, classified with :mod:`up42_provider.status`.

    ``statuses`` keeps the ids in the order they were asked for; ``messages`` holds UP42's words
    for failed ids. :meth:`to_dict`/:meth:`from_dict` make it travel in trigger events and XCom.
    """

    kind: str
    statuses: dict[str, str]
    succeeded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    running: tuple[str, ...] = ()
    messages: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, kind: str, statuses: Mapping[str, str], messages: Mapping[str, str] | None = None):
        """Classify ``statuses`` (id -> UP42 status) into succeeded / failed / running."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        groups: dict[str, list[str]] = {"success": [], "failure": [], "running": []}
        for item_id, status in statuses.items():
            groups[classify_status(kind, status)].append(item_id)
        failed = set(groups["failure"])
        return cls(
            kind=kind,
            statuses=dict(statuses),
            succeeded=tuple(groups["success"]),
            failed=tuple(groups["failure"]),
            running=tuple(groups["running"]),
            messages={k: v for k, v in (messages or {}).items() if k in failed},
        )

    @property
    def done(self) -> bool:
        """Nothing is running any more."""
        return not self.running

    @property
    def ids(self) -> list[str]:
        return list(self.statuses)

    @property
    def terminal(self) -> tuple[str, ...]:
        return tuple(i for i in self.statuses if i not in self.running)

    def merge(self, newer: WaitState) -> WaitState:
        """This state updated with ``newer`` (which may cover only some ids)."""
        statuses = {**self.statuses, **newer.statuses}
        messages = {**self.messages, **newer.messages}
        return WaitState.build(self.kind, statuses, messages)

    def describe(self, ids: Iterable[str] | None = None) -> str:
        """``id STATUS, id STATUS`` for ``ids`` (default: all)."""
        chosen = self.statuses if ids is None else ids
        return ", ".join(f"{i} {self.statuses.get(i, '?')}" for i in chosen)

    def failure_message(self) -> str:
        if not self.failed:
            return ""
        noun = "orders" if self.kind == "order" else "jobs"
        lines = [f"UP42 {noun} failed: {self.describe(self.failed)}"]
        lines += [self.messages[i] for i in self.failed if self.messages.get(i)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "statuses": dict(self.statuses),
            "succeeded": list(self.succeeded),
            "failed": list(self.failed),
            "running": list(self.running),
            "messages": dict(self.messages),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaitState:
        return cls(
            kind=str(data["kind"]),
            statuses=dict(data.get("statuses") or {}),
            succeeded=tuple(data.get("succeeded") or ()),
            failed=tuple(data.get("failed") or ()),
            running=tuple(data.get("running") or ()),
            messages=dict(data.get("messages") or {}),
        )


@dataclass(frozen=True)
class WaitResult:
    """How a wait ended: the trigger event payload and the return value of :func:`run_wait`."""

    status: str  # ResultStatus
    state: WaitState | None
    message: str
    error: BaseException | None = field(default=None, compare=False, repr=False)

    def to_event(self) -> dict[str, Any]:
        """JSON-safe payload of the ``TriggerEvent``."""
        return {
            "status": self.status,
            "state": self.state.to_dict() if self.state else None,
            "message": self.message,
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any] | None) -> WaitResult:
        if not isinstance(event, Mapping) or "status" not in event:
            return cls("error", None, f"UP42 trigger sent an unexpected event: {event!r}")
        state = event.get("state")
        return cls(
            str(event["status"]),
            WaitState.from_dict(state) if isinstance(state, Mapping) else None,
            str(event.get("message") or ""),
        )

    def raise_for_status(self) -> WaitState:
        """The state when the wait succeeded, otherwise the matching :class:`UP42WaitError`."""
        if self.status == "success" and self.state is not None:
            return self.state
        if self.status == "timeout":
            raise UP42WaitTimeoutError(self.message, self)
        if self.status == "failure":
            kind = self.state.kind if self.state else "order"
            cls = UP42OrderFailedError if kind == "order" else UP42JobFailedError
            raise cls(self.message, self)
        if self.error is not None:
            raise self.error
        raise UP42WaitError(self.message or "UP42 wait ended with an error", self)


# ------------------------------------------------------------------------------------ state machine


def describe(exc: BaseException) -> str:
    """An error in one line for logs and messages (a time-out's own text is empty)."""
    return str(exc) or type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Whether the next poll may well succeed (outage, rate limit, time-out)."""
    if isinstance(exc, UP42TransportError):
        return exc.retryable
    if isinstance(exc, UP42ServerError | UP42RateLimitedError):
        return True
    if isinstance(exc, UP42Error):
        return exc.status is None or exc.status >= 500 or exc.status == 408
    return isinstance(exc, TimeoutError | asyncio.TimeoutError | ConnectionError)


def end_time_after(timeout: float | None) -> float | None:
    """Wall-clock deadline ``timeout`` seconds from now (what sensors put into the trigger)."""
    return time.time() + float(timeout) if timeout is not None else None


class Waiter:
    """The transitions of one wait, independent of how it sleeps.

    Feed it what a poll produced (:meth:`observe` or :meth:`observe_error`); it answers with a
    :class:`WaitResult` when the wait is over, ``None`` to keep polling. :meth:`next_delay` is the
    jittered pause before the next poll, or ``None`` once the wall-clock ``end_time`` passed.

    ``mode="all"`` ends when nothing runs any more (or, with ``fail_fast``, at the first failure);
    ``mode="any"`` ends as soon as one id is terminal.
    """

    def __init__(
        self,
        kind: str | None,
        ids: Iterable[str] | None = None,
        *,
        mode: str = "all",
        fail_fast: bool = True,
        poll_interval: float = 60.0,
        end_time: float | None = None,
        max_permanent_errors: int = MAX_PERMANENT_ERRORS,
        jitter: float = JITTER,
    ) -> None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be 'all' or 'any', got {mode!r}")
        if poll_interval < 0:
            raise ValueError("poll_interval must not be negative")
        self.kind = kind
        self.ids = parse_ids(ids, name="ids") if ids is not None else None
        self.mode = mode
        self.fail_fast = fail_fast
        self.poll_interval = float(poll_interval)
        self.end_time = end_time
        self.max_permanent_errors = max_permanent_errors
        self.jitter = jitter
        self.state: WaitState | None = None
        self.polls = 0
        self.errors_in_a_row = 0
        self.last_error: BaseException | None = None

    @property
    def noun(self) -> str:
        return {"order": "orders", "job": "jobs"}.get(self.kind or "", "orders/jobs")

    @property
    def pending(self) -> list[str] | None:
        """Ids whose status may still change (None: everything, before the first answer)."""
        if self.state is None:
            return self.ids
        return list(self.state.running)

    def remaining(self, now: float | None = None) -> float | None:
        if self.end_time is None:
            return None
        return self.end_time - (time.time() if now is None else now)

    def observe(self, state: WaitState) -> WaitResult | None:
        self.polls += 1
        self.errors_in_a_row = 0
        self.state = state if self.state is None else self.state.merge(state)
        self.kind = self.kind or state.kind
        current = self.state
        if current.failed and (self.fail_fast or current.done or self.mode == "any"):
            return WaitResult("failure", current, current.failure_message())
        if current.done or (self.mode == "any" and current.terminal):
            finished = current.terminal if self.mode == "any" else current.ids
            return WaitResult("success", current, f"UP42 {self.noun} succeeded: {current.describe(finished)}")
        return None

    def observe_error(self, exc: BaseException) -> WaitResult | None:
        self.polls += 1
        self.last_error = exc
        if is_transient(exc):
            self.errors_in_a_row = 0
            log.warning(
                "Polling UP42 %s failed (%s); trying again at the next poll", self.noun, describe(exc)
            )
            return None
        if not isinstance(exc, UP42Error):  # a bug, not an API answer: do not hide it
            return WaitResult("error", self.state, f"{type(exc).__name__}: {exc}", exc)
        self.errors_in_a_row += 1
        if self.errors_in_a_row >= self.max_permanent_errors:
            return WaitResult(
                "error",
                self.state,
                f"giving up on UP42 {self.noun} after {self.errors_in_a_row} polls: {exc}",
                exc,
            )
        log.warning(
            "Polling UP42 %s failed (%s); %d more tries",
            self.noun,
            exc,
            self.max_permanent_errors - self.errors_in_a_row,
        )
        return None

    def first_delay(self, now: float | None = None) -> float | None:
        """A random share of one interval: waits started together spread their polls."""
        return self._capped(random.uniform(0, self.poll_interval), now)

    def next_delay(self, now: float | None = None) -> float | None:
        """The jittered poll interval, cut at the deadline; ``None`` when the deadline passed."""
        spread = self.poll_interval * self.jitter
        return self._capped(self.poll_interval + random.uniform(-spread, spread), now)

    def _capped(self, delay: float, now: float | None) -> float | None:
        remaining = self.remaining(now)
        if remaining is None:
            return max(0.0, delay)
        if remaining <= 0:
            return None
        return max(0.0, min(delay, remaining))

    def timeout_result(self) -> WaitResult:
        state = self.state
        waiting = state.describe(state.running) if state else ", ".join(self.ids or [])
        message = f"UP42 {self.noun} still running at the deadline: {waiting}"
        if self.last_error is not None and self.errors_in_a_row == 0 and state is None:
            message += f" (last error: {describe(self.last_error)})"
        return WaitResult("timeout", state, message)


def run_wait(
    waiter: Waiter,
    check: Callable[[list[str] | None], WaitState],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Blocking loop around ``waiter``: check, decide, sleep (jittered), until a result."""
    while True:
        try:
            result = waiter.observe(check(waiter.pending))
        except Exception as exc:
            result = waiter.observe_error(exc)
        if result is not None:
            return result
        delay = waiter.next_delay()
        if delay is None:
            return waiter.timeout_result()
        sleep(delay)


async def _within(coro: Awaitable[WaitState], seconds: float) -> WaitState:
    """``coro`` with a time limit. ``asyncio.timeout`` where there is one (3.11+) runs it in the
    waiting task: ``wait_for`` of 3.10 and 3.11 wraps it in a task of its own each time, about 1 KiB
    per waiting trigger (benchmarks/airflow_triggerer_benchmark.py, RSS per trigger)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)


async def arun_wait(
    waiter: Waiter,
    check: Callable[[list[str] | None], Awaitable[WaitState]],
    *,
    initial_delay: bool = False,
    paced: bool = True,
) -> WaitResult:
    """Async twin of :func:`run_wait`; a check never runs past the deadline. ``paced=False``: the
    check itself waits for the next round (a coalesced poller), so no sleep between checks."""
    if initial_delay:
        delay = waiter.first_delay()
        if delay is None:
            return waiter.timeout_result()
        await asyncio.sleep(delay)
    while True:
        remaining = waiter.remaining()
        try:
            coro = check(waiter.pending)
            state = await (_within(coro, max(remaining, 1.0)) if remaining is not None else coro)
            result = waiter.observe(state)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = waiter.observe_error(exc)
        if result is not None:
            return result
        delay = waiter.next_delay()
        if delay is None:
            return waiter.timeout_result()
        if paced:
            await asyncio.sleep(delay)


def wait(
    check: Callable[[], WaitState],
    *,
    poll_interval: float = 60.0,
    timeout: float | None = None,
    mode: str = "all",
    fail_fast: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitState:
    """Poll ``check`` until its state is final; the operators' blocking wait.

    Returns the state when everything (``mode="any"``: something) succeeded; raises
    :class:`UP42WaitTimeoutError` after ``timeout`` wall-clock seconds,
    :class:`UP42OrderFailedError`/:class:`UP42JobFailedError` on a failure, and the API error
    itself when polls keep failing with an error no retry fixes.
    """
    end_time = time.time() + timeout if timeout is not None else None
    waiter = Waiter(None, mode=mode, fail_fast=fail_fast, poll_interval=poll_interval, end_time=end_time)
    return run_wait(waiter, lambda _pending: check(), sleep=sleep).raise_for_status()


def wait_for_orders(
    hook: UP42Hook,
    order_ids: str | Iterable[str],
    *,
    poll_interval: float = 60.0,
    timeout: float | None = None,
    mode: str = "all",
    fail_fast: bool = True,
) -> WaitState:
    """:func:`wait` on orders, polling only the ones still running."""
    return _wait_for("order", hook, order_ids, poll_interval, timeout, mode, fail_fast)


def wait_for_jobs(
    hook: UP42Hook,
    job_ids: str | Iterable[str],
    *,
    poll_interval: float = 60.0,
    timeout: float | None = None,
    mode: str = "all",
    fail_fast: bool = True,
) -> WaitState:
    """:func:`wait` on jobs, polling only the ones still running."""
    return _wait_for("job", hook, job_ids, poll_interval, timeout, mode, fail_fast)


def _wait_for(
    kind: str,
    hook: UP42Hook,
    ids: str | Iterable[str],
    poll_interval: float,
    timeout: float | None,
    mode: str,
    fail_fast: bool,
) -> WaitState:
    wanted = parse_ids(ids, name="ids")
    end_time = time.time() + timeout if timeout is not None else None
    waiter = Waiter(
        kind, wanted, mode=mode, fail_fast=fail_fast, poll_interval=poll_interval, end_time=end_time
    )
    checker = check_orders if kind == "order" else check_jobs
    return run_wait(waiter, lambda pending: checker(hook, pending or wanted)).raise_for_status()


# ------------------------------------------------------------------------------------------ checks


def _order_message(order: Mapping[str, Any]) -> str:
    """UP42's words about a failed order: its status, sub-status and any message it carries."""
    text = f"order {order.get('id')} is {order.get('status')}"
    details = order.get("orderDetails")
    sub = (
        order.get("subStatus")
        or order.get("sub_status")
        or (details.get("subStatus") if isinstance(details, Mapping) else None)
    )
    if sub:
        text += f" ({sub})"
    for key in _ORDER_MESSAGE_KEYS:
        value = order.get(key)
        if isinstance(value, Mapping):
            value = value.get("message") or value.get("code")
        if isinstance(value, str) and value.strip():
            return f"{text}: {value.strip()}"
    return text


def _tail(text: str, lines: int = LOG_TAIL_LINES, chars: int = LOG_TAIL_CHARS) -> str:
    tail = "\n".join(str(text or "").rstrip().splitlines()[-lines:])
    return tail[-chars:]


def _failed_tasks(tasks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Tasks that failed; a cancelled job has none worth a log."""
    return [t for t in tasks if str(t.get("status", "")).upper() in ("FAILED", "ERROR")]


def _job_message(job: Mapping[str, Any], logs: Mapping[str, tuple[Mapping[str, Any], str]]) -> str:
    """The job's error and the log tail of each failed task (``logs``: task id -> (task, log))."""
    name = job.get("name")
    text = f"job {job.get('id')}{f' ({name})' if name else ''} is {job.get('status')}"
    error = job.get("error") or failure_reason(job)
    if isinstance(error, Mapping) and error.get("message"):
        text += f": {error['message']}"
    elif isinstance(error, str) and error.strip():
        text += f": {error.strip()}"
    for task, log_text in logs.values():
        tail = _tail(log_text)
        if tail:
            text += f"\n--- last log lines of task {task.get('name')} ({task.get('id')}) ---\n{tail}"
    return text


def check_orders(hook: UP42Hook, order_ids: str | Iterable[str]) -> WaitState:
    """``V1.get_order`` or ``V2.get_order`` per order (sync)."""
    statuses: dict[str, str] = {}
    messages: dict[str, str] = {}
    for order_id in parse_ids(order_ids, name="order_ids"):
        order = hook.get_order(order_id)
        statuses[order_id] = str(order.get("status"))
        if classify_order_status(order.get("status")) == "failure":
            messages[order_id] = _order_message(order)
    return WaitState.build("order", statuses, messages)


def check_jobs(hook: UP42Hook, job_ids: str | Iterable[str]) -> WaitState:
    """``V1.get_job`` or ``V2.get_job`` per job (sync); for a failed 2023 job also ``V1.get_job_tasks``
    and ``V1.get_job_task_logs`` of its failed tasks."""
    statuses: dict[str, str] = {}
    messages: dict[str, str] = {}
    for job_id in parse_ids(job_ids, name="job_ids"):
        job = hook.get_job(job_id)
        statuses[job_id] = str(job.get("status"))
        if classify_job_status(job.get("status")) == "failure":
            logs: dict[str, tuple[Mapping[str, Any], str]] = {}
            if job.get("generation") == "current":  # today's jobs carry their errors; no task logs
                messages[job_id] = _job_message(job, logs)
                continue
            try:
                for task in _failed_tasks(hook.get_job_tasks(job_id)):
                    logs[task["id"]] = (task, hook.get_job_task_logs(job_id, task["id"]))
            except UP42Error as exc:
                log.warning("Could not read the logs of failed job %s: %s", job_id, exc)
            messages[job_id] = _job_message(job, logs)
    return WaitState.build("job", statuses, messages)


async def _gather_limited(
    calls: Sequence[Callable[[], Awaitable[Any]]], limit: int = ASYNC_CONCURRENCY
) -> list[Any]:
    if len(calls) == 1:
        return [await calls[0]()]
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def acheck_orders(hook: UP42Hook, order_ids: str | Iterable[str]) -> WaitState:
    """Async twin of :func:`check_orders` (a few orders in parallel)."""
    ids = parse_ids(order_ids, name="order_ids")
    orders = await _gather_limited([partial(hook.aget_order, i) for i in ids])
    statuses = {i: str(o.get("status")) for i, o in zip(ids, orders, strict=True)}
    messages = {
        i: _order_message(o)
        for i, o in zip(ids, orders, strict=True)
        if classify_order_status(o.get("status")) == "failure"
    }
    return WaitState.build("order", statuses, messages)


async def _ajob_logs(hook: UP42Hook, job: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], str]]:
    logs: dict[str, tuple[Mapping[str, Any], str]] = {}
    if job.get("generation") == "current":  # today's jobs carry their errors; there are no task logs
        return logs
    job_id = str(job.get("id"))
    try:
        for task in _failed_tasks(await hook.aget_job_tasks(job_id)):
            logs[task["id"]] = (task, await hook.aget_job_task_logs(job_id, task["id"]) or "")
    except UP42Error as exc:
        log.warning("Could not read the logs of failed job %s: %s", job_id, exc)
    return logs


async def acheck_jobs(hook: UP42Hook, job_ids: str | Iterable[str]) -> WaitState:
    """Async twin of :func:`check_jobs`."""
    ids = parse_ids(job_ids, name="job_ids")
    jobs = await _gather_limited([partial(hook.aget_job, i) for i in ids])
    statuses = {i: str(j.get("status")) for i, j in zip(ids, jobs, strict=True)}
    messages: dict[str, str] = {}
    for job_id, job in zip(ids, jobs, strict=True):
        if classify_job_status(job.get("status")) == "failure":
            messages[job_id] = _job_message(job, await _ajob_logs(hook, job))
    return WaitState.build("job", statuses, messages)


async def astate_of(
    hook: UP42Hook, kind: str, payloads: Mapping[str, Mapping[str, Any] | BaseException]
) -> WaitState:
    """The state of what a coalesced poll round answered (id -> payload in the hook's shape, or
    the error of that id); raises the first error so the :class:`Waiter` classifies it like any
    failed poll."""
    answers: dict[str, Mapping[str, Any]] = {}
    for item_id, answer in payloads.items():
        if isinstance(answer, BaseException):
            raise answer
        answers[item_id] = answer
    statuses = {i: str(p.get("status")) for i, p in answers.items()}
    messages: dict[str, str] = {}
    for item_id, payload in answers.items():
        if classify_status(kind, statuses[item_id]) == "failure":
            if kind == "order":
                messages[item_id] = _order_message(payload)
            else:
                messages[item_id] = _job_message(payload, await _ajob_logs(hook, {"id": item_id, **payload}))
    return WaitState.build(kind, statuses, messages)


CHECKS: dict[str, Callable[[UP42Hook, Iterable[str]], WaitState]] = {"order": check_orders, "job": check_jobs}
ACHECKS: dict[str, Callable[[UP42Hook, Iterable[str]], Awaitable[WaitState]]] = {
    "order": acheck_orders,
    "job": acheck_jobs,
}

__all__ = [
    "ACHECKS",
    "CHECKS",
    "UP42JobFailedError",
    "UP42OrderFailedError",
    "UP42WaitError",
    "UP42WaitFailedError",
    "UP42WaitTimeoutError",
    "WaitResult",
    "WaitState",
    "Waiter",
    "acheck_jobs",
    "acheck_orders",
    "arun_wait",
    "astate_of",
    "check_jobs",
    "check_orders",
    "end_time_after",
    "is_transient",
    "run_wait",
    "wait",
    "wait_for_jobs",
    "wait_for_orders",
]
