"""Orders through the hook: estimate, place (idempotent), list (P3), read, async twin, assets."""

from __future__ import annotations

import pytest

from up42_provider import status
from up42_provider.api.errors import UP42NotFoundError, UP42ValidationError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import example_aoi

from .conftest import api_calls, wait_for

BERLIN = example_aoi("Berlin")


def order_parameters(hook: UP42Hook, tags=None) -> dict:
    products = hook.get_data_products(basic=True)
    product_id = next(v for v in products.values() if v["collection"] == "phr")["data_products"]["Display"]
    body = P.search_parameters(BERLIN, ["phr"], "2022-01-01", "2022-12-31", limit=1)
    image_id = hook.search(body)["features"][0]["properties"]["id"]
    return hook.construct_catalog_order_parameters(product_id, image_id, aoi=BERLIN, tags=tags)


def orders_tagged(server: EmulatorServer, tag: str) -> list[dict]:
    """What the emulator holds, read without the hook."""
    records = server.state.orders.records.values()
    return [r.order for r in records if tag in r.order["tags"]]


def test_estimate_place_track_and_assets(hook: UP42Hook, emulator: EmulatorServer):
    params = order_parameters(hook, tags=["hook-test"])
    assert P.missing_order_parameters(params, hook.get_data_product_schema(params["dataProduct"])) == {}
    credits = hook.estimate_order(params)
    assert isinstance(credits, int) and credits > 0
    order = hook.place_order(params, tag="hook-test-place")
    assert order["status"] in status.ORDER_IN_PROGRESS
    assert {"hook-test", "hook-test-place"} <= set(order["tags"])
    assert params.get("tags") == ["hook-test"]  # the caller's dict is left alone
    done = wait_for(
        lambda: (
            status.is_order_terminal(hook.get_order(order["id"])["status"]) and hook.get_order(order["id"])
        )
    )
    assert status.classify_order_status(done["status"]) == "success"
    assets = hook.get_order_assets(order["id"])
    assert [a["id"] for a in assets] == done["assets"]


@pytest.mark.parametrize("fresh_emulator", [{"speed": 0.5}], indirect=True)
def test_assets_of_unfinished_order_raise(fresh_hook: UP42Hook):
    order = fresh_hook.place_order(order_parameters(fresh_hook))
    with pytest.raises(ValueError, match="not FULFILLED: wait for it first"):
        fresh_hook.get_order_assets(order["id"])


def test_failing_order_is_classified_as_failure(hook: UP42Hook):
    order = hook.place_order(order_parameters(hook, tags=["emulator:fail"]))
    done = wait_for(
        lambda: (
            status.is_order_terminal(hook.get_order(order["id"])["status"]) and hook.get_order(order["id"])
        )
    )
    assert done["status"] == "FAILED" and status.classify_order_status(done["status"]) == "failure"


def test_order_validation_happens_before_any_request(hook: UP42Hook, emulator: EmulatorServer):
    params = order_parameters(hook)
    before = api_calls(emulator, hook)
    bad = {**params, "params": {**params["params"], "aoi": [13.4, 52.4, 13.3, 52.5]}}
    with pytest.raises(ValueError, match="empty or inverted"):
        hook.place_order(bad)
    with pytest.raises(ValueError, match="lack 'dataProduct'"):
        hook.estimate_order({"params": {}})
    with pytest.raises(ValueError, match="lack 'params'"):
        hook.place_order({"dataProduct": "x"})
    with pytest.raises(ValueError, match="tag must be a non-empty string"):
        hook.place_order(params, tag="  ")
    assert api_calls(emulator, hook) == before


def test_order_refused_by_up42(hook: UP42Hook):
    params = order_parameters(hook)
    params["params"]["id"] = "no-such-image"
    with pytest.raises(UP42ValidationError):
        hook.place_order(params)


def test_unknown_order(hook: UP42Hook):
    with pytest.raises(UP42NotFoundError):
        hook.get_order("00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValueError, match="order_id must be a non-empty id"):
        hook.get_order("")


async def test_aget_order(hook: UP42Hook):
    order = hook.place_order(order_parameters(hook))
    fetched = await hook.aget_order(order["id"])
    assert fetched["id"] == order["id"] and "status" in fetched
    with pytest.raises(UP42NotFoundError):
        await hook.aget_order("00000000-0000-0000-0000-000000000000")
    await hook.aclose()


# ------------------------------------------------------------------------------------- listing (P3)


def test_order_list_pages(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer, monkeypatch):
    params = order_parameters(fresh_hook)
    placed = [fresh_hook.place_order(params, tag=f"page-{i}")["id"] for i in range(12)]
    fresh_hook.page_size = 5
    listed = fresh_hook.get_orders()
    assert [o["id"] for o in listed] == placed[::-1]  # newest first
    ascending = fresh_hook.get_orders(sortby="createdAt", descending=False)
    assert [o["id"] for o in ascending] == placed
    before = api_calls(fresh_emulator, fresh_hook)
    assert len(fresh_hook.get_orders(limit=7)) == 7
    assert api_calls(fresh_emulator, fresh_hook) - before == 2  # pages of 5: no third page fetched
    lazy = fresh_hook.iter_orders(order_type="ARCHIVE")
    assert next(lazy)["id"] == placed[-1]
    assert [o["id"] for o in fresh_hook.get_orders(tags=["page-3", "page-4"])] == [placed[4], placed[3]]
    assert len(fresh_hook.get_orders(order_type="ARCHIVE")) == 12
    assert fresh_hook.get_orders(order_type="TASKING") == []
    with pytest.raises(ValueError, match="sortby 'price' is not sortable"):
        fresh_hook.get_orders(sortby="price")
    with pytest.raises(ValueError, match="order_type"):
        fresh_hook.get_orders(order_type="BULK")


# ------------------------------------------------------------------------------------- idempotency


def test_lost_response_returns_the_created_order(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    params = order_parameters(fresh_hook)
    fresh_emulator.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/orders$")
    order = fresh_hook.place_order(params, tag="lost-1")
    assert fresh_emulator.state.faults.fired["lost_response"] == 1
    created = orders_tagged(fresh_emulator, "lost-1")
    assert [o["id"] for o in created] == [order["id"]]


def test_lost_response_with_generated_tag(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    params = order_parameters(fresh_hook)
    fresh_emulator.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/orders$")
    order = fresh_hook.place_order(params)
    assert len(fresh_emulator.state.orders.records) == 1
    assert any(t.startswith("airflow-") for t in order["tags"])


def test_server_error_on_create_is_sent_once_more(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    params = order_parameters(fresh_hook)
    fresh_emulator.state.faults.add_rule("error", count=1, method="POST", path=r"/orders$")
    order = fresh_hook.place_order(params, tag="err-1")
    assert fresh_emulator.state.faults.fired["error"] == 1
    assert [o["id"] for o in orders_tagged(fresh_emulator, "err-1")] == [order["id"]]


def test_reuse_existing_order_by_tag(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    params = order_parameters(fresh_hook)
    first = fresh_hook.place_order(params, tag="retry-safe", reuse_existing=True)
    second = fresh_hook.place_order(params, tag="retry-safe", reuse_existing=True)
    assert first["id"] == second["id"]
    assert len(orders_tagged(fresh_emulator, "retry-safe")) == 1
    third = fresh_hook.place_order(params, tag="retry-safe")  # without reuse: a new order
    assert third["id"] != first["id"]
