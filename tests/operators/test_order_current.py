"""UP42PlaceOrderOperator on today's generation: v2 archive orders priced, placed once, waited for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from tests.conftest import RawClient
from tests.emulator.test_orders import HAMBURG, product_id, scene_ids
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.triggers.order import UP42OrderStatusTrigger

from .conftest import execute, make_context


@pytest.fixture
def current(fresh_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    monkeypatch.setenv(
        "AIRFLOW_CONN_UP42_DEFAULT",
        fresh_emulator.airflow_connection("current", max_retry_wait=5, create_settle_seconds=1),
    )
    return fresh_emulator


def features(server: EmulatorServer, count: int) -> dict[str, Any]:
    ids = scene_ids(RawClient(server), "phr", count, HAMBURG)
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"id": i}, "geometry": HAMBURG} for i in ids],
    }


def archive(server: EmulatorServer, count: int = 2, **kwargs: Any) -> UP42PlaceOrderOperator:
    args: dict[str, Any] = {
        "task_id": "order",
        "data_product_id": product_id("phr"),
        "image_ids": features(server, count),
        "poll_interval": 0.1,
        "timeout": 60,
    }
    return UP42PlaceOrderOperator(**{**args, **kwargs})


def v2_orders(hook: UP42Hook) -> list[dict[str, Any]]:
    return list(hook.iter_orders())


def test_v2_archive_orders_are_placed_once_and_waited_for(current: EmulatorServer):
    ctx = make_context("v2-archive")
    order_ids = execute(archive(current), ctx)
    hook = UP42Hook()
    assert len(order_ids) == 2
    assert {hook.get_order(i)["status"] for i in order_ids} == {"FULFILLED"}
    assert all(hook.get_order(i)["generation"] == "current" for i in order_ids)
    assert execute(archive(current), ctx) == order_ids  # a retried try finds its orders
    assert len(v2_orders(hook)) == 2


def test_v2_max_credits_refuses_before_anything_is_placed(current: EmulatorServer):
    with pytest.raises(AirflowFailException, match=r"more than max_credits=1; nothing was ordered"):
        execute(archive(current, max_credits=1), make_context("v2-guard"))
    assert v2_orders(UP42Hook()) == []


def test_v2_order_without_geometry_is_refused_before_placing(current: EmulatorServer):
    ids = [f["properties"]["id"] for f in features(current, 1)["features"]]
    with pytest.raises(ValueError, match="order 0 lacks aoi"):
        execute(archive(current, image_ids=ids), make_context("v2-nogeom"))
    assert v2_orders(UP42Hook()) == []


def test_v2_failed_order_fails_the_task_with_its_status(current: EmulatorServer):
    with pytest.raises(AirflowFailException, match=r"FAILED_PERMANENTLY"):
        execute(archive(current, count=1, tags=["emulator:fail"]), make_context("v2-fail"))


def test_v2_deferred_order_wait_ends_in_the_trigger(current: EmulatorServer):
    op = archive(current, count=1, deferrable=True, poll_interval=0.2)
    with pytest.raises(TaskDeferred) as deferred:
        execute(op, make_context("v2-defer"))
    trigger = deferred.value.trigger
    assert isinstance(trigger, UP42OrderStatusTrigger)

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    event = asyncio.run(asyncio.wait_for(first_event(), 60))
    assert event["status"] == "success", event
    assert set(event["state"]["statuses"].values()) == {"FULFILLED"}


def test_data_product_by_collection_and_title_both_generations(current: EmulatorServer, monkeypatch):
    hook = UP42Hook()
    assert hook.resolve_data_product("phr/Display") == product_id("phr")
    with pytest.raises(
        ValueError, match=r"has no product 'Displai'; its products: \['Analytic', 'Display'\]"
    ):
        hook.resolve_data_product("phr/Displai")
    with pytest.raises(ValueError, match=r"no collection 'phx'; collections: \[.*'phr'"):
        hook.resolve_data_product("phx/Display")
    with pytest.raises(ValueError, match="'<collection>/<product>' such as 'phr/Display'"):
        hook.resolve_data_product("Display")
    order_ids = execute(archive(current, count=1, data_product_id="phr/Display"), make_context("by-name"))
    assert hook.get_order(order_ids[0])["data_product_id"] == product_id("phr")
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", current.airflow_connection())  # 2023 credentials
    assert UP42Hook().resolve_data_product("phr/Display") == product_id("phr")
    with pytest.raises(ValueError, match="its products"):
        execute(archive(current, count=1, data_product_id="phr/Nope"), make_context("by-name-2023"))


def test_v2_tasking_with_feasibility_and_quotation_decisions(current: EmulatorServer):
    from .test_order import TASKING_PARAMS

    op = UP42PlaceOrderOperator(
        task_id="tasking",
        data_product_id=product_id("phr-tasking"),
        tasking_name="Hamburg harbour",
        acquisition_start="2030-05-01",
        acquisition_end="2030-05-31",
        aoi=HAMBURG,
        order_params=TASKING_PARAMS,
        tags=["emulator:feasibility"],
        feasibility_option=0,
        quotation_decision="ACCEPTED",
        poll_interval=0.1,
        timeout=120,
    )
    (order_id,) = execute(op, make_context("v2-tasking"))
    hook = UP42Hook()
    order = hook.get_order(order_id)
    assert order["type"] == "TASKING" and order["status"] == "FULFILLED"
    assert order["display_name"] == "Hamburg harbour"
    (study,) = hook.get_feasibility(order_id=order_id)
    assert study["decision"] == "ACCEPTED"
    assert {q["decision"] for q in hook.get_quotations(order_id=order_id)} == {"ACCEPTED"}
