"""Coalesced polling on today's generation (v2 orders, processing jobs), over real HTTP.

The same promises as tests/triggers/test_coalesced_polling.py for the 2023 generation: at most
0.05 requests per trigger per poll with 300 waiting triggers, and no missed change (an order that
changes twice between two rounds, an order beyond the first listing page).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import pytest

from tests.conftest import BERLIN, World, _frozen
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.status import classify_job_status
from up42_provider.triggers.job import UP42JobStatusTrigger
from up42_provider.triggers.order import UP42OrderStatusTrigger
from up42_provider.triggers.poller import ORDER_PAGE_SIZE, POLLERS, HookSource, Poller
from up42_provider.waiters import end_time_after

from .test_triggers import first_event

PROCESS = "upsampling-ns"


class CurrentWorld(World):
    """v2 orders and processing jobs on a frozen emulator, made through the hook."""

    def __init__(self, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(server, monkeypatch, generation="current")
        assert self.hook.generation == "current"

    @cached_property
    def scene(self) -> tuple[str, str]:
        product = self.hook.resolve_data_product("phr/Display")
        found = self.hook.search({"collections": ["phr"], "intersects": BERLIN, "limit": 1})
        return product, found["features"][0]["properties"]["id"]

    def orders(self, n: int, fail: bool = False) -> list[str]:
        product, scene = self.scene
        tags = ["emulator:fail"] if fail else None
        geometries = [BERLIN] * n
        body = self.hook.order_v2_body(product, {"id": scene}, geometries, display_name="poll", tags=tags)
        return [o["id"] for o in self.hook.place_order_v2(body)]

    def order(self, fail: bool = False) -> str:
        return self.orders(1, fail)[0]

    @cached_property
    def item(self) -> str:
        """The self link of a delivered STAC item (the input of processing jobs)."""
        order = self.order()
        self.advance()
        self.wait_until(lambda: self.order_status(order) == "FULFILLED")
        (item,) = self.hook.get_order_stac_items(order)
        return next(link["href"] for link in item["links"] if link["rel"] == "self")

    def job(self, fail: bool = False, dry_run: bool = True) -> str:
        self._jobs += 1
        inputs = {"title": f"coalesced-{self._jobs}-{time.monotonic_ns()}", "item": self.item}
        return self.hook.execute_process(PROCESS, inputs)["id"]


@pytest.fixture
def current_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[CurrentWorld]:
    with EmulatorServer(_frozen()) as server:
        yield CurrentWorld(server, monkeypatch)


def statuses(answers: dict[str, Any]) -> dict[str, str]:
    return {i: a["status"] for i, a in answers.items()}


async def test_300_v2_order_triggers_cost_at_most_005_requests_per_trigger_per_poll(
    current_world: CurrentWorld,
):
    ids = current_world.orders(300)
    server = current_world.server
    triggers = [UP42OrderStatusTrigger(i, poll_interval=0.05, end_time=end_time_after(120)) for i in ids]
    seen = server.state.requests_seen
    runs = [asyncio.create_task(first_event(t, timeout=120)) for t in triggers]
    poller = POLLERS.get("up42_default", "order")
    while poller.rounds < 10:
        await asyncio.sleep(0.05)
    current_world.advance()
    events = await asyncio.gather(*runs)
    assert {e["status"] for e in events} == {"success"}
    assert {s for e in events for s in e["state"]["statuses"].values()} == {"FULFILLED"}
    polls = poller.rounds
    await poller.wait_closed()
    sent = server.state.requests_seen - seen
    assert polls >= 11
    assert sent / (len(ids) * polls) <= 0.05, (sent, polls)


async def test_300_processing_job_triggers_cost_at_most_005_requests_per_trigger_per_poll(
    current_world: CurrentWorld,
):
    ids = [current_world.job() for _ in range(300)]
    server = current_world.server
    seen = server.state.requests_seen
    triggers = [UP42JobStatusTrigger(i, poll_interval=0.05, end_time=end_time_after(120)) for i in ids]
    runs = [asyncio.create_task(first_event(t, timeout=120)) for t in triggers]
    poller = POLLERS.get("up42_default", "job")
    while poller.rounds < 10:
        await asyncio.sleep(0.05)
    current_world.advance(3600)
    events = await asyncio.gather(*runs)
    assert {e["status"] for e in events} == {"success"}
    assert {classify_job_status(s) for e in events for s in e["state"]["statuses"].values()} == {"success"}
    polls = poller.rounds
    await poller.wait_closed()
    sent = server.state.requests_seen - seen
    assert sent / (len(ids) * polls) <= 0.05, (sent, polls)


async def test_v2_order_changing_twice_between_rounds_beyond_the_first_page(current_world: CurrentWorld):
    """The waited order changes first, then more than a page of others: round two reads the
    listing past page one to see it, CREATED -> FULFILLED although it went through BEING_FULFILLED."""
    target = current_world.order()
    others = current_world.orders(ORDER_PAGE_SIZE + 5)
    poller = Poller("up42_default", "order")
    sub = poller.subscribe([target], 60, run=False)
    hook = UP42Hook()
    try:
        source = HookSource(hook)
        await poller.round(source)
        assert statuses(sub.get_nowait()) == {target: "CREATED"}
        assert poller.requests <= 3  # found on the listing, no GET per id
        current_world.advance()
        current_world.wait_until(
            lambda: {current_world.order_status(i) for i in [target, *others]} == {"FULFILLED"}
        )
        before = poller.requests
        await poller.round(source)
        assert statuses(sub.get_nowait()) == {target: "FULFILLED"}
        assert poller.requests - before == 2  # two listing pages, still no GET
    finally:
        poller.unsubscribe(sub)
        await hook.aclose()


async def test_a_failed_processing_job_fails_the_trigger_with_its_errors(current_world: CurrentWorld):
    job = current_world.hook.execute_process(
        PROCESS, {"title": "coalesced-emulator-fail", "item": current_world.item}
    )["id"]
    trigger = UP42JobStatusTrigger(job, poll_interval=0.05, end_time=end_time_after(60))
    run = asyncio.create_task(first_event(trigger, timeout=60))
    await asyncio.sleep(0.3)
    current_world.advance(3600)
    event = await run
    assert event["status"] == "failure", event
    assert classify_job_status(event["state"]["statuses"][job]) == "failure"
    assert job in event["message"]
