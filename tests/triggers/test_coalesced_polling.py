"""Coalesced polling (up42_provider/triggers/poller.py) against the emulator over real HTTP.

Rounds are driven by hand (``Poller.round``) where the test must control what happens between two
rounds; the emulator's clock moves only when the test moves it (``frozen_world``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import World
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.triggers.job import UP42JobStatusTrigger
from up42_provider.triggers.order import UP42OrderStatusTrigger
from up42_provider.triggers.poller import (
    ORDER_PAGE_SIZE,
    POLLERS,
    REMEMBERED,
    HookSource,
    Poller,
    Subscription,
)
from up42_provider.waiters import astate_of, end_time_after

from .test_triggers import first_event


def statuses(answers: dict[str, Any]) -> dict[str, str]:
    return {i: a["status"] for i, a in answers.items()}


@contextlib.asynccontextmanager
async def hook_source(cls: type[HookSource] = HookSource) -> AsyncIterator[HookSource]:
    """What a poller reads through: the hook of ``up42_default`` (its shared client released after)."""
    hook = UP42Hook()
    try:
        yield cls(hook)
    finally:
        await hook.aclose()


async def test_300_order_triggers_cost_at_most_005_requests_per_trigger_per_poll(frozen_world: World):
    ids = frozen_world.orders(300)
    server = frozen_world.server
    triggers = [UP42OrderStatusTrigger(i, poll_interval=0.05, end_time=end_time_after(120)) for i in ids]
    seen = server.state.requests_seen
    runs = [asyncio.create_task(first_event(t, timeout=120)) for t in triggers]
    poller = POLLERS.get("up42_default", "order")
    while poller.rounds < 10:  # ten polls while every order is still PLACED
        await asyncio.sleep(0.05)
    frozen_world.advance()  # now every order is fulfilled: the last round must see all 300 change
    events = await asyncio.gather(*runs)
    assert {e["status"] for e in events} == {"success"}
    polls = poller.rounds
    await poller.wait_closed()
    sent = server.state.requests_seen - seen
    assert polls >= 11
    assert sent / (len(ids) * polls) <= 0.05, (sent, polls)


async def test_300_job_triggers_cost_at_most_005_requests_per_trigger_per_poll(frozen_world: World):
    ids = [frozen_world.job() for _ in range(300)]
    server = frozen_world.server
    seen = server.state.requests_seen
    triggers = [UP42JobStatusTrigger(i, poll_interval=0.05, end_time=end_time_after(120)) for i in ids]
    runs = [asyncio.create_task(first_event(t, timeout=120)) for t in triggers]
    poller = POLLERS.get("up42_default", "job")
    while poller.rounds < 10:
        await asyncio.sleep(0.05)
    frozen_world.advance(3600)
    events = await asyncio.gather(*runs)
    assert {e["status"] for e in events} == {"success"}
    polls = poller.rounds
    await poller.wait_closed()
    sent = server.state.requests_seen - seen
    assert sent / (len(ids) * polls) <= 0.05, (sent, polls)


async def test_two_changes_between_rounds_and_an_order_not_on_the_first_page(frozen_world: World):
    """The waited order changes first, then more than a page of others: round two has to read the
    listing back past page one to see it, and sees PLACED -> FULFILLED although it went through
    BEING_FULFILLED in between."""
    target = frozen_world.order()
    others = frozen_world.orders(ORDER_PAGE_SIZE + 5)
    poller = Poller("up42_default", "order")
    sub = poller.subscribe([target], 60, run=False)
    async with hook_source() as source:
        await poller.round(source)
        assert statuses(sub.get_nowait()) == {target: "PLACED"}
        assert poller.requests <= 3  # a new id is found on the listing, no GET per id
        frozen_world.advance()
        frozen_world.wait_until(
            lambda: {frozen_world.order_status(i) for i in [target, *others]} == {"FULFILLED"}
        )
        before = poller.requests
        await poller.round(source)
        assert statuses(sub.get_nowait()) == {target: "FULFILLED"}
        assert poller.requests - before == 2  # two listing pages, still no GET
        await poller.round(source)  # nothing changed since: one page back to the watermark
        assert statuses(sub.get_nowait()) == {target: "FULFILLED"}
    poller.unsubscribe(sub)


async def test_a_waiter_joining_mid_round_gets_its_own_fresh_answer(frozen_world: World):
    first, second = frozen_world.order(), frozen_world.order()
    poller = Poller("up42_default", "order")
    sub_a = poller.subscribe([first], 60, run=False)
    joined: list[Any] = []

    class JoinDuringListing(HookSource):
        async def listing(self, kind: str, page_size: int):
            async for page in super().listing(kind, page_size):
                if not joined:  # the second trigger arrives while the round's listing is in flight
                    joined.append(poller.subscribe([second], 60, run=False))
                    frozen_world.advance()  # ...and both orders change right then
                yield page

    async with hook_source(JoinDuringListing) as source:
        await poller.round(source)
        assert statuses(sub_a.get_nowait()) == {first: "PLACED"}
        assert joined[0].empty()  # not part of a round that started before it joined
        # Both, not only the second: each order's deliveries are built on their own (this once
        # read the first while still BEING_FULFILLED).
        frozen_world.wait_until(
            lambda: {frozen_world.order_status(first), frozen_world.order_status(second)} == {"FULFILLED"}
        )
        await poller.round(source)
        assert statuses(sub_a.get_nowait()) == {first: "FULFILLED"}
        assert statuses(joined[0].get_nowait()) == {second: "FULFILLED"}


async def test_a_restarted_poller_starts_from_scratch(frozen_world: World):
    """No correctness rests on memory: a new poller (a moved or restarted trigger) reads anew."""
    order = frozen_world.order()
    async with hook_source() as source:
        old = Poller("up42_default", "order")
        sub = old.subscribe([order], 60, run=False)
        await old.round(source)
        assert statuses(sub.get_nowait()) == {order: "PLACED"}
        frozen_world.advance()
        frozen_world.wait_until(lambda: frozen_world.order_status(order) == "FULFILLED")
        new = Poller("up42_default", "order")
        sub = new.subscribe([order], 60, run=False)
        await new.round(source)
        assert statuses(sub.get_nowait()) == {order: "FULFILLED"}


async def test_unknown_id_gets_a_direct_get_and_its_error(frozen_world: World):
    order = frozen_world.order()
    missing = "00000000-0000-4000-8000-000000000000"
    async with hook_source() as source:
        poller = Poller("up42_default", "order")
        sub = poller.subscribe([order, missing], 60, run=False)
        await poller.round(source)
        answers = sub.get_nowait()
    assert answers[order]["status"] == "PLACED"
    assert "not found" in str(answers[missing]).lower()


async def test_each_status_change_is_one_log_line(frozen_world: World, capsys: pytest.CaptureFixture):
    """Five rounds of PLACED log one line; then one line per change until FULFILLED."""
    order = frozen_world.order()
    trigger = UP42OrderStatusTrigger(order, poll_interval=0.05, end_time=end_time_after(30))
    poller = POLLERS.get("up42_default", "order")
    run = asyncio.create_task(first_event(trigger))
    while poller.rounds < 5:
        await asyncio.sleep(0.05)
    frozen_world.advance()
    event = await run
    assert event["status"] == "success"
    lines = [line for line in capsys.readouterr().out.splitlines() if f"UP42 order {order} " in line]
    assert f"UP42 order {order} is PLACED" in lines[0]
    changes = [line.split("changed: ")[1].split(" [")[0] for line in lines[1:]]
    chain = ["PLACED"] + [c.split(" -> ")[1] for c in changes]
    assert changes == [f"{a} -> {b}" for a, b in itertools.pairwise(chain)]  # every line is a change
    assert chain[-1] == "FULFILLED" and len(set(chain)) == len(chain)


async def test_a_poller_that_cannot_start_answers_with_its_error(frozen_world: World):
    """No subscriber waits forever: a missing connection reaches every subscriber as an error."""
    poller = Poller("up42_nowhere", "order")
    sub = poller.subscribe(["x"], 60)
    answers = await asyncio.wait_for(sub.get(), 30)
    assert "up42_nowhere" in str(answers["x"])
    poller.unsubscribe(sub)


async def test_a_round_keeps_what_runs_slim_and_what_ended_whole(frozen_world: World):
    """Between rounds only the status keys of a running order are kept (its payload is kilobytes,
    times 1,000 triggers); an ended one is kept whole, so its failure message is UP42's."""
    bad, good = frozen_world.order(fail=True), frozen_world.order()
    async with hook_source() as source:
        poller = Poller("up42_default", "order")
        sub = poller.subscribe([bad, good], 60, run=False)
        await poller.round(source)
        running = sub.get_nowait()
        assert statuses(running) == {bad: "PLACED", good: "PLACED"}
        assert set(running[good]) == set(REMEMBERED)
        frozen_world.advance()
        frozen_world.wait_until(lambda: frozen_world.order_status(bad) == "FAILED")
        await poller.round(source)
        ended = sub.get_nowait()
        assert ended[bad] == await source.hook.aget_order(bad)
        assert "is FAILED" in (await astate_of(source.hook, "order", ended)).messages[bad]
        poller.unsubscribe(sub)


async def test_a_subscription_hands_out_every_round_oldest_first():
    sub = Subscription(("a",), 1.0)
    assert sub.empty()
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()
    waiting = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    sub.put_nowait({"a": {"status": "PLACED"}})
    sub.put_nowait({"a": {"status": "BEING_FULFILLED"}})
    assert statuses(await asyncio.wait_for(waiting, 5)) == {"a": "PLACED"}
    assert statuses(await asyncio.wait_for(sub.get(), 5)) == {"a": "BEING_FULFILLED"}
    assert sub.empty()
    cancelled = asyncio.ensure_future(sub.get())  # a cancelled wait leaves nothing behind
    await asyncio.sleep(0)
    cancelled.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await cancelled
    sub.put_nowait({"a": {"status": "FULFILLED"}})
    assert statuses(await asyncio.wait_for(sub.get(), 5)) == {"a": "FULFILLED"}
