"""The triggers' contract in both generations over HTTP: get/list orders and jobs, sync and async,
one shape, ``updated_after``/``statuses`` filters and the status verdicts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import RawClient
from tests.emulator.current.conftest import CurrentClient
from tests.emulator.current.test_orders import archive_batch, place_one
from tests.emulator.test_orders import HAMBURG, archive_body, scene_ids
from tests.emulator.test_orders import place as place_2023
from tests.hooks.conftest import make_hook
from tests.hooks.current.conftest import make_current_hook
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook

ORDER_KEYS = {
    "id", "status", "type", "data_product_id", "display_name", "tags", "sub_status", "created_at",
    "updated_at", "details", "generation",
}  # fmt: skip
JOB_KEYS = {
    "id", "status", "name", "process_id", "workflow_id", "created_at", "updated_at", "started_at",
    "finished_at", "credits", "errors", "generation",
}  # fmt: skip


@dataclass
class World:
    server: EmulatorServer
    api: CurrentClient
    fulfilled: str  # a FULFILLED v2 order
    placed: str  # a v2 order placed after the clock stopped moving
    job: str  # a processing job on the fulfilled order's item


def advance(api: CurrentClient, seconds: float) -> None:
    assert api.post("/_emulator/clock", json={"advance": seconds}).ok
    api.authenticate()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with EmulatorServer(EmulatorConfig(speed=1.0, seed=11)) as server:
        api = CurrentClient(server)
        api.authenticate()
        scenes = scene_ids(api, "phr", 2, HAMBURG)
        fulfilled = place_one(api, archive_batch(scenes[0], HAMBURG, name="first", tags=["hook-a"]))
        deadline = time.monotonic() + 60
        while api.get(f"/v2/orders/{fulfilled}").json()["status"] != "FULFILLED":
            assert time.monotonic() < deadline, "order not fulfilled"
            advance(api, 60)
        body = {
            "filter": {"op": "=", "args": [{"property": "order_id"}, fulfilled]},
            "filter-lang": "cql2-json",
        }
        item = api.post("/v2/assets/stac/search", json=body).json()["features"][0]
        href = next(link["href"] for link in item["links"] if link["rel"] == "self")
        r = api.post(
            "/v2/processing/processes/upsampling-ns/execution",
            params={"workspaceId": api.workspace_id},
            json={"inputs": {"title": "hook job", "item": href}},
        )
        assert r.status_code == 200, r.text
        job = r.json()["jobID"]
        advance(api, 5)
        placed = place_one(api, archive_batch(scenes[1], HAMBURG, name="second", tags=["hook-b"]))
        yield World(server, api, fulfilled, placed, job)


@pytest.fixture
def hook(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[UP42Hook]:
    h = make_current_hook(world.server, monkeypatch)
    yield h
    h.close()


def test_get_order_has_the_shared_shape(hook: UP42Hook, world: World):
    order = hook.get_order(world.fulfilled)
    assert set(order) >= ORDER_KEYS
    assert (order["id"], order["status"], order["generation"]) == (world.fulfilled, "FULFILLED", "current")
    assert order["display_name"] == "first" and order["tags"] == ["hook-a"] and order["type"] == "ARCHIVE"
    assert order["orderDetails"] == order["details"]  # the raw payload stays readable
    assert hook.order_status(order) == ("FULFILLED", True, False, None)
    assert asyncio.run(hook.aget_order(world.fulfilled)) == order


def test_2023_order_has_the_same_shape(fresh_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch):
    raw = RawClient(fresh_emulator)
    placed = place_2023(raw, archive_body(scene_ids(raw, "phr", 1, HAMBURG)[0], "phr", aoi=HAMBURG))
    hook = make_hook(fresh_emulator, monkeypatch)
    assert hook.generation == "2023"
    order = hook.get_order(placed["id"])
    assert set(order) >= ORDER_KEYS and order["generation"] == "2023" and order["id"] == placed["id"]
    assert "assets" in order and order["dataProductId"] == order["data_product_id"]  # raw keys stay
    assert placed["id"] in [o["id"] for o in hook.iter_orders(updated_after="2000-01-01T00:00:00Z")]
    assert asyncio.run(hook.aget_order(placed["id"]))["id"] == placed["id"]


def test_iter_orders_newest_updated_first_with_filters(hook: UP42Hook, world: World):
    everything = list(hook.iter_orders(updated_after="2000-01-01T00:00:00Z"))
    assert [o["id"] for o in everything][:2] == [world.placed, world.fulfilled]
    stamps = [o["updated_at"] for o in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert [o["id"] for o in hook.iter_orders(statuses=["FULFILLED"])] == [world.fulfilled]
    newest = datetime.fromisoformat(everything[0]["updated_at"].replace("Z", "+00:00"))
    later = list(hook.iter_orders(updated_after=newest - timedelta(microseconds=1)))
    assert [o["id"] for o in later] == [world.placed]
    assert list(hook.iter_orders(updated_after=newest + timedelta(seconds=1))) == []


def test_aiter_orders_matches_iter_orders(hook: UP42Hook, world: World):
    async def collect() -> list[dict]:
        try:
            return [o async for o in hook.aiter_orders(statuses="FULFILLED", page_size=1)]
        finally:
            await hook.aclose()

    assert asyncio.run(collect()) == list(hook.iter_orders(statuses="FULFILLED", page_size=1))


def test_get_job_and_lists_sync_and_async(hook: UP42Hook, world: World):
    job = hook.get_job(world.job)
    assert set(job) >= JOB_KEYS
    assert (job["id"], job["process_id"], job["name"], job["generation"]) == (
        world.job,
        "upsampling-ns",
        "hook job",
        "current",
    )
    status, terminal, _, _ = hook.job_status(job)
    assert status == job["status"] and terminal == (status in {"successful", "captured", "failed"})
    listed = list(hook.iter_jobs(page_size=1))
    assert [j["id"] for j in listed] == [world.job]

    async def both() -> tuple[dict, list[dict]]:
        try:
            return await hook.aget_job(world.job), [j async for j in hook.aiter_jobs(page_size=1)]
        finally:
            await hook.aclose()

    got, alisted = asyncio.run(both())
    assert got["id"] == world.job and [j["id"] for j in alisted] == [world.job]
    assert list(hook.iter_jobs(statuses=["rejected"])) == []
    future = datetime.now(timezone.utc) + timedelta(days=3650)
    assert list(hook.iter_jobs(updated_after=future)) == []


def test_job_status_verdicts_of_both_generations(hook: UP42Hook):
    failed_job = {"generation": "current", "status": "failed", "errors": [{"name": "X", "message": "boom"}]}
    assert hook.job_status(failed_job) == ("failed", True, True, "X: boom")
    assert hook.job_status({"generation": "current", "status": "running"}) == ("running", False, False, None)
    assert hook.job_status({"generation": "2023", "status": "SUCCEEDED"}) == ("SUCCEEDED", True, False, None)
    assert hook.order_status({"generation": "current", "status": "CANCELED"})[:3] == ("CANCELED", True, True)
    assert hook.order_status({"generation": "2023", "status": "PLACED"}) == ("PLACED", False, False, None)
