"""Today's credentials on the operations both generations share (schema, quicklook, catalog STAC),
order cancellation and coverage, and today's rate limits (429 with ``Retry-After``) over HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import RawClient
from tests.emulator.current.test_orders import archive_batch, tasking_batch
from tests.emulator.test_orders import HAMBURG, product_id, scene_ids
from tests.hooks.current.conftest import make_current_hook
from up42_provider.api.errors import UP42RateLimitedError, UP42ValidationError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook

SLOW = pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0}], indirect=True)


def test_schema_and_quicklook_with_todays_credentials(emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(emulator, monkeypatch)
    schema = hook.get_data_product_schema(product_id("phr"))
    assert schema["type"] == "object" and "properties" in schema
    scene = hook.search({"collections": ["phr"], "intersects": HAMBURG, "limit": 1})["features"][0]
    jpeg = hook.download_catalog_quicklook(scene["properties"]["id"], collection="phr")
    assert jpeg is not None and jpeg[:3] == b"\xff\xd8\xff"  # a JPEG, fetched with the account's token


def test_catalog_stac_search_finds_what_the_host_search_finds(emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(emulator, monkeypatch)
    query = {"collections": ["phr"], "intersects": HAMBURG}
    legacy = {f["properties"]["id"] for f in hook.search(query, limit="all")["features"]}
    found = list(hook.stac_client(catalog=True).search(**query, max_items=1000).items())
    assert legacy and {i.collection_id for i in found} == {"phr"}
    assert {i.id for i in found} == legacy


def test_estimate_order_v2_prices_without_placing(current_hook: UP42Hook, fresh_emulator: EmulatorServer):
    scene = scene_ids(RawClient(fresh_emulator), "phr", 1, HAMBURG)[0]
    body = current_hook.order_v2_body(product_id("phr"), {"id": scene}, [HAMBURG], display_name="priced")
    price = current_hook.estimate_order_v2(body)
    assert price["errors"] == [] and price["summary"]["totalCredits"] > 0
    assert [r["index"] for r in price["results"]] == [0]
    assert current_hook.get_orders() == []  # an estimate places nothing


@SLOW
def test_cancel_order_v2_while_created_then_refused(current_hook: UP42Hook, fresh_emulator: EmulatorServer):
    scene = scene_ids(RawClient(fresh_emulator), "phr", 1, HAMBURG)[0]
    (order,) = current_hook.place_order_v2(archive_batch(scene, HAMBURG, name="to cancel"))
    assert order["status"] == "CREATED"
    assert current_hook.cancel_order_v2(order["id"]) == {"orderId": order["id"], "status": "CANCELED"}
    assert current_hook.get_order(order["id"])["status"] == "CANCELED"
    with pytest.raises(UP42ValidationError) as refused:
        current_hook.cancel_order_v2(order["id"])
    assert refused.value.status == 409 and "CANCELED" in str(refused.value)


def test_tasking_order_coverage_starts_empty(current_hook: UP42Hook):
    (order,) = current_hook.place_order_v2(tasking_batch(HAMBURG, tags=["coverage"]))
    coverage = current_hook.get_order_coverage(order["id"])
    assert coverage["covered"]["percentage"] == 0 and coverage["remainder"]["percentage"] == 100
    assert coverage["covered"]["geometry"] == {"type": "FeatureCollection", "features": []}


# -- 429: today's API retries nothing on its own; the hook's one policy waits Retry-After, bounded --


def test_429_on_a_v2_list_is_waited_out(current_hook: UP42Hook, fresh_emulator: EmulatorServer):
    faults = fresh_emulator.state.faults
    faults.configure(retry_after=0.2)
    faults.add_rule("rate_limit", count=2, method="GET", path=r"^/v2/orders$")
    assert current_hook.get_orders() == []
    assert faults.fired["rate_limit"] == 2


def test_429_on_order_placement_is_retried_and_places_one_order(
    current_hook: UP42Hook, fresh_emulator: EmulatorServer
):
    # Unlike a 5xx, a 429 is answered before any work: even a creating POST may be re-sent.
    faults = fresh_emulator.state.faults
    faults.configure(retry_after=0.2)
    faults.add_rule("rate_limit", count=1, method="POST", path=r"^/v2/orders$")
    scene = scene_ids(RawClient(fresh_emulator), "phr", 1, HAMBURG)[0]
    (order,) = current_hook.place_order_v2(archive_batch(scene, HAMBURG, name="after a 429"), tag="rl")
    assert faults.fired["rate_limit"] == 1
    assert [o["id"] for o in current_hook.get_orders(tags=["rl-0"])] == [order["id"]]


def test_429_with_a_retry_after_beyond_the_budget_fails_at_once(fresh_emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(fresh_emulator, monkeypatch, max_retry_wait=5)
    assert hook.get_conn().workspace_id  # log in first: only the v2 call below is rate limited
    faults = fresh_emulator.state.faults
    faults.configure(retry_after=3600)
    faults.add_rule("rate_limit", count=5, method="GET", path=r"^/v2/budgets$")
    with pytest.raises(UP42RateLimitedError) as limited:
        list(hook.iter_budgets())
    assert limited.value.status == 429 and limited.value.retry_after == 3600
    assert faults.fired["rate_limit"] == 1  # no wait of an hour started, nothing sent again


def test_storage_stac_root_is_read_on_todays_path(current_hook: UP42Hook, fresh_emulator: EmulatorServer):
    # The 2023 path (no trailing slash) fails here, so only today's "/v2/assets/stac/" can pass.
    fresh_emulator.state.faults.add_rule("error", count=1000, path=r"^/v2/assets/stac$")
    root = current_hook.get_storage_stac_root()
    assert {link["rel"] for link in root["links"]} >= {"self", "search", "data"}
