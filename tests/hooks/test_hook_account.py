"""Project, project settings and credits (P1) through the hook; transport faults seen from the hook."""

from __future__ import annotations

import pytest

from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook

from .conftest import api_calls


def test_project(hook: UP42Hook, emulator: EmulatorServer):
    project = hook.get_project()
    assert project["id"] == emulator.config.project_id
    assert project["workspaceId"] == emulator.config.workspace_id == hook.get_workspace_id()


def test_project_settings_update(fresh_hook: UP42Hook):
    names = {s["name"] for s in fresh_hook.get_project_settings()}
    assert names == {"JOB_QUERY_MAX_AOI_SIZE", "MAX_CONCURRENT_JOBS", "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE"}
    before = {s["name"]: s["value"] for s in fresh_hook.get_project_settings()}
    sent = fresh_hook.update_project_settings(max_concurrent_jobs=5)
    assert sent["MAX_CONCURRENT_JOBS"] == "5"
    assert sent["JOB_QUERY_MAX_AOI_SIZE"] == before["JOB_QUERY_MAX_AOI_SIZE"]  # copied unchanged
    assert fresh_hook.get_max_concurrent_jobs() == 5
    fresh_hook.update_project_settings(max_aoi_size=20, number_of_images=7)
    after = {s["name"]: s["value"] for s in fresh_hook.get_project_settings()}
    assert after == {
        "JOB_QUERY_MAX_AOI_SIZE": "20",
        "MAX_CONCURRENT_JOBS": "5",
        "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE": "7",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_concurrent_jobs": 11}, "MAX_CONCURRENT_JOBS must be a whole number from 1 to 10"),
        ({"max_aoi_size": 0}, "JOB_QUERY_MAX_AOI_SIZE must be a whole number from 1 to 1000"),
        ({"number_of_images": "5"}, "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE must be a whole number"),
    ],
)
def test_project_settings_validation(hook: UP42Hook, kwargs, message):
    with pytest.raises(ValueError, match=message):
        hook.update_project_settings(**kwargs)


def test_credits_history_pages(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer, monkeypatch):
    everything = fresh_hook.get_credits_history()
    assert len(everything) > 12
    assert sum(r["delta"] for r in everything) == fresh_hook.get_credits_balance()["balance"]
    fresh_hook.credits_page_size = 5
    before = api_calls(fresh_emulator, fresh_hook)
    paged = fresh_hook.get_credits_history()
    pages = -(-len(everything) // 5)
    assert api_calls(fresh_emulator, fresh_hook) - before == pages
    assert paged == everything
    before = api_calls(fresh_emulator, fresh_hook)
    assert len(fresh_hook.get_credits_history(limit=7)) == 7
    assert api_calls(fresh_emulator, fresh_hook) - before == 2
    assert next(fresh_hook.iter_credits_history()) == everything[0]


def test_credits_history_period(hook: UP42Hook):
    assert hook.get_credits_history(start_date="1990-01-01", end_date="1990-12-31") == []
    recent = hook.get_credits_history(start_date="2000-01-01")
    assert recent == hook.get_credits_history()
    with pytest.raises(ValueError, match="is after end_date"):
        hook.get_credits_history(start_date="2024-02-01", end_date="2024-01-01")


def test_reads_survive_rate_limits_and_server_errors(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    fresh_hook.get_project()
    fresh_emulator.state.faults.configure(retry_after=0.05)
    fresh_emulator.state.faults.add_rule("rate_limit", count=2, method="GET", path=r"/jobs$")
    fresh_emulator.state.faults.add_rule("error", count=1, method="GET", path=r"/jobs$")
    fresh_emulator.state.faults.add_rule("token_expiry", count=1, method="GET", path=r"/jobs$")
    assert fresh_hook.get_jobs() == []
    fired = fresh_emulator.state.faults.fired
    assert (fired["rate_limit"], fired["error"], fired["token_expiry"]) == (2, 1, 1)
