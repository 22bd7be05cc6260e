"""Today's processing jobs through the hook over HTTP: checks before anything runs, exactly once."""

from __future__ import annotations

import pytest

from tests.hooks.conftest import wait_for
from tests.hooks.current.conftest import make_current_hook
from tests.hooks.current.test_orders_jobs import World, world  # noqa: F401  (module fixture)
from up42_provider.hooks.up42 import UP42Hook

LATE = 2.0


def item_href(hook: UP42Hook, world: World) -> str:  # noqa: F811
    return hook.get_job(world.job)["definition"]["inputs"]["item"]


def test_check_process_reports_errors_and_cost(world: World, monkeypatch):  # noqa: F811
    hook = make_current_hook(world.server, monkeypatch)
    href = item_href(hook, world)
    ok = hook.check_process("upsampling-ns", {"title": "t", "item": href})
    assert ok["errors"] == [] and ok["cost"]["totalCredits"] >= 0
    missing = hook.check_process("no-such-process", {"title": "t", "item": href})
    assert missing["errors"][0]["name"] == "ProcessNotFound"
    bad = hook.check_process("upsampling-ns", {"title": "t"})
    assert bad["errors"] and bad["cost"] is None


def test_execute_process_refuses_before_running(world: World, monkeypatch):  # noqa: F811
    hook = make_current_hook(world.server, monkeypatch)
    before = len(list(hook.iter_jobs()))
    with pytest.raises(ValueError, match="nothing ran"):
        hook.execute_process("upsampling-ns", {"title": "never"})
    with pytest.raises(ValueError, match="max_credits"):
        hook.execute_process(
            "upsampling-ns", {"title": "never", "item": item_href(hook, world)}, max_credits=0
        )
    assert len(list(hook.iter_jobs())) == before


def test_execute_process_once_after_a_lost_answer(world: World, monkeypatch):  # noqa: F811
    hook = make_current_hook(world.server, monkeypatch, max_retry_wait=5, create_settle_seconds=LATE + 4)
    faults = world.server.state.faults
    faults.configure(late_seconds=LATE)
    faults.add_rule("late_504", count=1, method="POST", path=r"/execution$")
    inputs = {"title": "once via hook", "item": item_href(hook, world)}
    job = hook.execute_process("upsampling-ns", inputs)
    assert faults.fired["late_504"] == 1
    wait_for(lambda: faults.late_in_flight == 0, timeout=60)
    faults.clear()
    same = [j["id"] for j in hook.iter_jobs() if j["name"] == "once via hook"]
    assert same == [job["id"]] and job["generation"] == "current"
    assert hook.execute_process("upsampling-ns", inputs, reuse_existing=True)["id"] == job["id"]


def test_download_url_of_a_stac_asset_href_is_masked(world: World, monkeypatch):  # noqa: F811
    import requests
    from airflow.sdk._shared.secrets_masker import redact

    hook = make_current_hook(world.server, monkeypatch)
    body = {
        "filter": {"op": "=", "args": [{"property": "order_id"}, world.fulfilled]},
        "filter-lang": "cql2-json",
    }
    item = hook.search_storage_stac(body)["features"][0]
    href = next(a["href"] for a in item["assets"].values() if "/v2/assets/" in a["href"])
    url = hook.get_asset_href_download_url(href)
    assert requests.get(url, timeout=30).status_code == 200
    query = url.split("?", 1)[1]
    assert query and query not in redact(url)
    with pytest.raises(ValueError, match="not a UP42 storage asset href"):
        hook.get_asset_href_download_url("https://example.com/file.tif")
