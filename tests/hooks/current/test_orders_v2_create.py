"""Today's order placement over HTTP: priced first, one order per feature, exactly once."""

from __future__ import annotations

import pytest

from tests.conftest import RawClient
from tests.emulator.test_orders import HAMBURG, product_id, scene_ids
from tests.hooks.conftest import wait_for
from tests.hooks.current.conftest import make_current_hook
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook

LATE = 2.0


def body(hook: UP42Hook, server: EmulatorServer, *geometries: dict, tags: list[str] | None = None) -> dict:
    scene = scene_ids(RawClient(server), "phr", 1, HAMBURG)[0]
    return hook.order_v2_body(
        product_id("phr"), {"id": scene}, list(geometries or [HAMBURG]), display_name="hook v2", tags=tags
    )


def test_place_order_v2_prices_then_places_one_order_per_feature(current_hook: UP42Hook, fresh_emulator):
    orders = current_hook.place_order_v2(body(current_hook, fresh_emulator, HAMBURG, tags=["keep"]), tag="t1")
    assert len(orders) == 1
    (order,) = orders
    assert order["generation"] == "current" and order["display_name"] == "hook v2"
    assert set(order["tags"]) == {"keep", "t1-0"}
    assert current_hook.get_order(order["id"])["id"] == order["id"]
    again = current_hook.place_order_v2(
        body(current_hook, fresh_emulator, HAMBURG), tag="t1", reuse_existing=True
    )
    assert [o["id"] for o in again] == [order["id"]]


def test_place_order_v2_refuses_before_spending(current_hook: UP42Hook, fresh_emulator):
    seen = len(current_hook.get_orders())
    with pytest.raises(ValueError, match=r"max_credits=0\.5; nothing was placed"):
        current_hook.place_order_v2(body(current_hook, fresh_emulator), max_credits=0.5)
    assert len(current_hook.get_orders()) == seen


def test_place_order_v2_needs_todays_connection(hook: UP42Hook):
    with pytest.raises(ValueError, match="needs today's UP42 API"):
        hook.place_order_v2({"featureCollection": {"features": [{}]}})


def test_lost_answer_is_looked_up_not_sent_twice(fresh_emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(fresh_emulator, monkeypatch, max_retry_wait=5, create_settle_seconds=LATE + 4)
    payload = body(hook, fresh_emulator)
    faults = fresh_emulator.state.faults
    faults.configure(late_seconds=LATE)
    faults.add_rule("late_504", count=1, method="POST", path=r"/v2/orders$")
    (order,) = hook.place_order_v2(payload, tag="once")
    assert faults.fired["late_504"] == 1
    wait_for(lambda: faults.late_in_flight == 0, timeout=60)
    assert [o["id"] for o in hook.get_orders(tags=["once-0"])] == [order["id"]]
    hook.close()
