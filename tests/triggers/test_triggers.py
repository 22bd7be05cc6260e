"""The deferrable triggers, run the way the triggerer runs them: ``trigger.run()`` in an event loop."""

from __future__ import annotations

import asyncio
import importlib
import time

import pytest

from tests.conftest import World
from up42_provider.api.auth import TokenCache
from up42_provider.api.pool import POOL
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.triggers.job import UP42JobStatusTrigger
from up42_provider.triggers.order import UP42OrderStatusTrigger
from up42_provider.triggers.poller import POLLERS
from up42_provider.waiters import acheck_jobs, acheck_orders, end_time_after


async def first_event(trigger, timeout: float = 30.0) -> dict:
    """The first event, as the triggerer (and dag.test) consume it; then the generator is closed."""
    run = trigger.run()
    try:
        event = await asyncio.wait_for(anext(run), timeout)
    finally:
        await run.aclose()
    return event.payload


def rebuilt(trigger):
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**kwargs)


@pytest.mark.parametrize(
    ("cls", "ids_field"), [(UP42OrderStatusTrigger, "order_ids"), (UP42JobStatusTrigger, "job_ids")]
)
def test_serialize_round_trips(cls, ids_field):
    trigger = cls(
        ["a", "b"], up42_conn_id="up42_x", poll_interval=5, end_time=1234.5, mode="any", fail_fast=False
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == f"{cls.__module__}.{cls.__qualname__}"
    assert kwargs == {
        ids_field: ["a", "b"],
        "up42_conn_id": "up42_x",
        "poll_interval": 5.0,
        "end_time": 1234.5,
        "mode": "any",
        "fail_fast": False,
        "coalesce": True,
    }
    assert rebuilt(trigger).serialize() == (classpath, kwargs)
    assert cls("one").serialize()[1][ids_field] == ["one"]
    with pytest.raises(ValueError):
        cls(["a"], mode="most")
    with pytest.raises(ValueError):
        cls([])


async def test_order_trigger_success_and_failure(world: World):
    good, bad = world.order(), world.order(fail=True)
    ok = await first_event(UP42OrderStatusTrigger([good], poll_interval=0.1, end_time=end_time_after(30)))
    assert ok["status"] == "success" and ok["state"]["statuses"] == {good: "FULFILLED"}
    failed = await first_event(
        rebuilt(UP42OrderStatusTrigger(bad, poll_interval=0.1, end_time=end_time_after(30)))
    )
    assert failed["status"] == "failure" and failed["state"]["failed"] == [bad]
    assert f"order {bad} is FAILED" in failed["message"]


async def test_job_trigger_failure_carries_the_log_tail(world: World):
    good, bad = world.job(), world.job(fail=True, dry_run=False)
    event = await first_event(UP42JobStatusTrigger([good, bad], poll_interval=0.1, fail_fast=False))
    assert event["status"] == "failure"
    assert event["state"]["succeeded"] == [good] and event["state"]["failed"] == [bad]
    assert "Traceback" in event["state"]["messages"][bad] and "Traceback" in event["message"]


async def test_many_ids_in_one_trigger(world: World):
    ids = world.orders(6)
    event = await first_event(UP42OrderStatusTrigger(ids, poll_interval=0.1, end_time=end_time_after(30)))
    assert event["status"] == "success" and event["state"]["succeeded"] == ids


async def test_mode_any_fires_at_the_first_terminal_id(frozen_world: World):
    done = frozen_world.order()
    frozen_world.advance()
    frozen_world.wait_until(lambda: frozen_world.order_status(done) == "FULFILLED")
    pending = frozen_world.order()
    event = await first_event(UP42OrderStatusTrigger([pending, done], poll_interval=0.1, mode="any"))
    assert event["status"] == "success"
    assert event["state"]["succeeded"] == [done] and event["state"]["running"] == [pending]


async def test_timeout_at_end_time(frozen_world: World):
    order = frozen_world.order()
    started = time.monotonic()
    # A deadline long enough for the first poll round to have read the order even on a busy machine
    # (3 s was not, under a full CI run beside other work).
    event = await first_event(UP42OrderStatusTrigger(order, poll_interval=0.2, end_time=end_time_after(8.0)))
    assert event["status"] == "timeout" and order in event["message"]
    assert event["state"]["running"] == [order]
    assert time.monotonic() - started >= 7.9  # never before the deadline


async def test_past_end_time_fires_without_a_request(frozen_world: World):
    order = frozen_world.order()
    seen = frozen_world.server.state.requests_seen
    event = await first_event(UP42OrderStatusTrigger(order, poll_interval=0.2, end_time=time.time() - 1))
    assert event["status"] == "timeout"
    assert frozen_world.server.state.requests_seen == seen


@pytest.mark.parametrize("frozen_world", [{"max_attempts": 1}], indirect=True)
@pytest.mark.parametrize(("coalesce", "path"), [(True, "/orders"), (False, "/orders/")])
async def test_transient_errors_do_not_fail_the_wait(frozen_world: World, coalesce: bool, path: str):
    """5xx answers reach the trigger (one attempt per call): logged, polled again, wait succeeds;
    coalesced, the failing call is the shared listing (E26), otherwise the GET (E25)."""
    order = frozen_world.order()
    frozen_world.advance()
    faults = frozen_world.server.state.faults
    faults.add_rule("error", count=3, path=path)
    trigger = UP42OrderStatusTrigger(
        order, poll_interval=0.05, end_time=end_time_after(20), coalesce=coalesce
    )
    event = await first_event(trigger)
    assert event["status"] == "success", event
    assert faults.fired["error"] == 3


async def test_transient_errors_absorbed_by_client_retries(frozen_world: World):
    """With the default connection the client's own retries hide the 5xx from the trigger."""
    order = frozen_world.order()
    frozen_world.advance()
    frozen_world.server.state.faults.add_rule("error", count=3, path="/orders/")
    event = await first_event(UP42OrderStatusTrigger(order, poll_interval=0.05, end_time=end_time_after(30)))
    assert event["status"] == "success"


async def test_unknown_id_and_missing_connection_are_errors(world: World):
    event = await first_event(
        UP42JobStatusTrigger("00000000-0000-4000-8000-000000000000", poll_interval=0.01)
    )
    assert event["status"] == "error" and "not found" in event["message"].lower()
    event = await first_event(UP42JobStatusTrigger("x", up42_conn_id="up42_nowhere", poll_interval=0.01))
    assert event["status"] == "error" and "up42_nowhere" in event["message"]


async def test_triggers_share_one_client_and_one_token(frozen_world: World):
    ids = frozen_world.orders(3)
    frozen_world.advance()
    frozen_world.wait_until(lambda: all(frozen_world.order_status(i) == "FULFILLED" for i in ids))
    tokens = TokenCache.for_settings(await UP42Hook().asettings())
    tokens.clear()  # a cold start: the process-wide cache may hold this emulator's token already
    tokens.workspace_id = None
    fetches = tokens.fetches
    created, seen = POOL.created, frozen_world.server.state.requests_seen
    triggers = [
        UP42OrderStatusTrigger(ids[i % 3], poll_interval=0.2, end_time=end_time_after(30)) for i in range(60)
    ]
    runs = [asyncio.create_task(first_event(t)) for t in triggers]
    await asyncio.sleep(0.05)
    assert POOL.refs("up42_default") == 61 and POOL.size() == 1  # 60 triggers and their poller
    events = await asyncio.gather(*runs)
    assert {e["status"] for e in events} == {"success"}
    assert POOL.created == created + 1  # one client for all 60
    await POLLERS.get("up42_default", "order").wait_closed()
    assert POOL.size() == 0 and POOL.refs("up42_default") == 0  # closed after the last one
    assert tokens.fetches - fetches == 1 and tokens.workspace_id  # one login, one project lookup for all
    # One token call, one project call (workspace id), then one listing answers all 60 triggers.
    assert frozen_world.server.state.requests_seen - seen == 2 + 1


async def test_async_checks_directly(world: World):
    order = world.order(fail=True)
    job = world.job()
    hook = UP42Hook()
    orders = await acheck_orders(hook, [order])
    jobs = await acheck_jobs(hook, job)
    await hook.aclose()
    assert orders.kind == "order" and orders.ids == [order]
    assert jobs.kind == "job" and jobs.ids == [job]


@pytest.mark.parametrize("coalesce", [True, False])
async def test_many_triggers_read_the_connection_once(frozen_world: World, monkeypatch, coalesce: bool):
    """The hook of every trigger takes its settings from the loop's shared client: 50 triggers of
    one connection read it from Airflow once, not 50 times (a supervisor round trip each)."""
    ids = frozen_world.orders(2)
    frozen_world.advance()
    frozen_world.wait_until(lambda: all(frozen_world.order_status(i) == "FULFILLED" for i in ids))
    reads: list[str] = []
    original = UP42Hook.aget_connection.__func__  # type: ignore[attr-defined]

    async def counting(cls, conn_id: str):
        reads.append(conn_id)
        return await original(cls, conn_id)

    monkeypatch.setattr(UP42Hook, "aget_connection", classmethod(counting))
    triggers = [
        UP42OrderStatusTrigger(ids[i % 2], poll_interval=0.1, end_time=end_time_after(60), coalesce=coalesce)
        for i in range(50)
    ]
    events = await asyncio.gather(*(first_event(t) for t in triggers))
    assert {e["status"] for e in events} == {"success"}
    assert reads == ["up42_default"]
