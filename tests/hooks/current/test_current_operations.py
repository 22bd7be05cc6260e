"""Today's-only hook operations over HTTP: glossary entry, EULA, processes, STAC storage reads and
writes (item update, collection delete, bulk deletion), job results, budget usage and settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import RawClient
from tests.emulator.test_orders import HAMBURG, product_id, scene_ids
from tests.hooks.conftest import wait_for
from tests.hooks.current.conftest import make_current_hook
from up42_provider.api.errors import UP42NotFoundError
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer
from up42_provider.emulator.storage.models import GEOTIFF, ResultFile, ResultItem
from up42_provider.hooks.up42 import UP42Hook


@dataclass
class Delivered:
    server: EmulatorServer
    orders: list[str]  # two FULFILLED orders, one delivery collection each
    job: dict  # a successful processing job on the first order's item


def _self_href(item: dict) -> str:
    return next(link["href"] for link in item["links"] if link["rel"] == "self")


@pytest.fixture(scope="module")
def delivered() -> Iterator[Delivered]:
    with EmulatorServer(EmulatorConfig(speed=100.0, seed=23)) as server, pytest.MonkeyPatch.context() as mp:
        hook = make_current_hook(server, mp)
        scenes = scene_ids(RawClient(server), "phr", 2, HAMBURG)
        orders = []
        for n, scene in enumerate(scenes):
            body = hook.order_v2_body(product_id("phr"), {"id": scene}, [HAMBURG], display_name=f"d{n}")
            orders.append(hook.place_order_v2(body, tag=f"delivered-{n}")[0]["id"])
        for order in orders:
            wait_for(lambda o=order: hook.get_order(o)["status"] == "FULFILLED", timeout=60)
        item = hook.get_order_stac_items(orders[0])[0]
        job = hook.execute_process("upsampling-ns", {"title": "results to delete", "item": _self_href(item)})
        job = wait_for(lambda: (j := hook.get_job(job["id"]))["status"] in ("successful", "captured") and j)
        hook.close()
        yield Delivered(server, orders, job)


@pytest.fixture
def hook(delivered: Delivered, monkeypatch: pytest.MonkeyPatch) -> Iterator[UP42Hook]:
    h = make_current_hook(delivered.server, monkeypatch)
    yield h
    h.close()


def test_glossary_entry_and_its_eula(hook: UP42Hook):
    phr = hook.get_collection_v2("phr")
    assert phr["name"] == "phr" and phr["dataProducts"]
    eula_id = next(p["eulaId"] for p in phr["dataProducts"] if p.get("eulaId"))
    assert hook.get_eula(eula_id)["isAccepted"] is True
    with pytest.raises(UP42NotFoundError):
        hook.get_collection_v2("no-such-collection")


def test_processes_list_holds_what_get_process_describes(hook: UP42Hook):
    ids = [p["id"] for p in hook.iter_processes()]
    assert "upsampling-ns" in ids and len(ids) == len(set(ids))
    assert hook.get_processes(limit=2) == list(hook.iter_processes())[:2]
    assert hook.get_process("upsampling-ns")["id"] == "upsampling-ns"


def test_order_delivery_collection_and_items(hook: UP42Hook, delivered: Delivered):
    items = hook.get_order_stac_items(delivered.orders[0])
    assert len(items) == 1 and items[0]["properties"]["up42-order:id"] == delivered.orders[0]
    collection = hook.get_stac_collection(items[0]["collection"])
    assert collection["type"] == "Collection" and collection["id"] == items[0]["collection"]
    assert [i["id"] for i in hook.iter_stac_items(collection["id"])] == [items[0]["id"]]
    with pytest.raises(UP42NotFoundError):
        hook.get_stac_collection("00000000-0000-4000-8000-000000000000")


def test_update_stac_item_merges_title_and_tags(hook: UP42Hook, delivered: Delivered):
    (item,) = hook.get_order_stac_items(delivered.orders[1])
    cid, iid = item["collection"], item["id"]
    titled = hook.update_stac_item(cid, iid, title="Hamburg harbour")
    props = titled["properties"]
    assert (
        props["up42-user:title"] == "Hamburg harbour"
        and props["up42-user:tags"] == item["properties"]["up42-user:tags"]
    )
    assert _self_href(titled) == _self_href(item) and titled["collection"] == cid  # a full item came back
    tagged = hook.update_stac_item(cid, iid, tags=["harbour", "2026"])["properties"]
    assert tagged["up42-user:title"] == "Hamburg harbour" and tagged["up42-user:tags"] == ["harbour", "2026"]
    cleared = hook.update_stac_item(cid, iid, title=None, tags=[])["properties"]
    assert cleared["up42-user:title"] is None and cleared["up42-user:tags"] == []
    assert hook.get_order_stac_items(delivered.orders[1])[0]["properties"]["up42-user:tags"] == []
    with pytest.raises(ValueError, match="title= and/or tags="):
        hook.update_stac_item(cid, iid)


def test_budget_usage_and_settings(hook: UP42Hook):
    budget = next(iter(hook.iter_budgets(include_usage=True)))
    usage = hook.get_budget_usage(budget["id"])
    assert usage == {"budgetId": budget["id"], "consumedCredits": budget["consumedCredits"]}
    assert isinstance(hook.get_budget_settings()["enforcementEnabled"], bool)


def test_todays_only_operations_refuse_a_2023_connection(delivered: Delivered, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", delivered.server.airflow_connection())
    old = UP42Hook()
    for call in (
        lambda: old.get_budget_settings(),
        lambda: old.delete_stac_collection(delivered.orders[0]),
        lambda: list(old.iter_processes()),
    ):
        with pytest.raises(ValueError, match="needs today's UP42 API"):
            call()


def _two_item_collection(server: EmulatorServer) -> str:
    def write(path: Path) -> None:
        path.write_bytes(b"II*\x00")

    now = datetime.now(timezone.utc)
    items = [
        ResultItem(HAMBURG, now, [ResultFile("data", f"part{n}.tif", GEOTIFF, write)], title=f"part{n}")
        for n in (1, 2)
    ]
    collection = server.state.assets.add_results(
        job_id="00000000-0000-4000-8000-000000000001",
        workspace_id=server.config.workspace_id,
        title="two parts",
        items=items,
    )
    return collection.id


def test_bulk_deletion_needs_every_item_of_a_collection(hook: UP42Hook, delivered: Delivered):
    cid = _two_item_collection(delivered.server)
    first, second = (i["id"] for i in hook.iter_stac_items(cid))
    with pytest.raises(ValueError, match=rf"also holds item.*{second}.*nothing was deleted"):
        hook.delete_stac_items([first])
    with pytest.raises(ValueError, match=r"no storage STAC item.*nothing was deleted"):
        hook.delete_stac_items([first, second, "00000000-0000-4000-8000-00000000abcd"])
    assert len(list(hook.iter_stac_items(cid))) == 2  # the refusals deleted nothing
    assert hook.delete_stac_items([first, second]) == [cid]
    with pytest.raises(UP42NotFoundError):
        hook.get_stac_collection(cid)


def test_delete_job_results_and_an_order_delivery(hook: UP42Hook, delivered: Delivered):
    results = delivered.job["results"]["collection"]
    assert hook.get_stac_collection(results)["id"] == results.rsplit("/", 1)[1]
    assert hook.delete_job_results(delivered.job["id"]) == results.rsplit("/", 1)[1]
    with pytest.raises(UP42NotFoundError):
        hook.get_stac_collection(results)
    (item,) = hook.get_order_stac_items(delivered.orders[0])
    hook.delete_stac_collection(item["collection"])
    assert hook.get_order_stac_items(delivered.orders[0]) == []
