"""Fault injection: every kind, as rates (seeded, reproducible) and as one-shot rules."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import RawClient
from up42_provider.emulator.config import EmulatorConfig, FaultConfig
from up42_provider.emulator.server import EmulatorServer


def _project(api: RawClient) -> requests.Response:
    return api.get(f"/projects/{api.project_id}")


def test_rate_limit_rule_answers_429_with_retry_after(fresh_api: RawClient):
    fresh_api.server.state.faults.configure(retry_after=7)
    fresh_api.server.state.faults.add_rule("rate_limit", count=1, path="^/projects/")
    r = _project(fresh_api)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == 429
    assert _project(fresh_api).status_code == 200  # one-shot


def test_server_error_rule_uses_v1_envelope_or_v2_problem(fresh_api: RawClient):
    fresh_api.server.state.faults.add_rule("error", count=2)
    v1 = _project(fresh_api)
    assert v1.status_code in (500, 502, 503) and v1.json()["data"] is None
    v2 = fresh_api.get("/v2/assets")
    assert v2.status_code in (500, 502, 503) and v2.json()["status"] == v2.status_code
    assert _project(fresh_api).status_code == 200


def test_slow_rule_delays_past_a_client_timeout(fresh_api: RawClient):
    fresh_api.server.state.faults.configure(slow_seconds=3)
    fresh_api.server.state.faults.add_rule("slow", count=1)
    with pytest.raises(requests.ReadTimeout):
        fresh_api.get(f"/projects/{fresh_api.project_id}", timeout=(5, 0.3))
    assert fresh_api.server.state.faults.fired["slow"] == 1


def test_token_expiry_rule_refuses_a_valid_token_once(fresh_api: RawClient):
    fresh_api.server.state.faults.add_rule("token_expiry", count=1)
    r = _project(fresh_api)
    assert r.status_code == 401 and r.json()["error"]["message"] == "Token has expired"
    assert _project(fresh_api).status_code == 200


def test_lost_response_only_hits_creating_calls(fresh_api: RawClient):
    fresh_api.server.state.faults.add_rule("lost_response", count=1)
    assert _project(fresh_api).status_code == 200  # a GET is never affected
    assert fresh_api.server.state.faults.rules()  # rule still armed
    with pytest.raises(requests.RequestException):
        fresh_api.post(
            f"/workspaces/{fresh_api.workspace_id}/webhooks",
            json={
                "name": "lost",
                "url": "https://example.invalid/h",
                "events": ["job.status"],
                "active": False,
            },
        )
    names = [
        w["name"] for w in fresh_api.get(f"/workspaces/{fresh_api.workspace_id}/webhooks").json()["data"]
    ]
    assert names.count("lost") == 1  # the work was done, only the answer was lost


def _fault_pattern(seed: int) -> list[int]:
    config = EmulatorConfig(seed=seed, faults=FaultConfig(error_rate=0.3, rate_limit_rate=0.2))
    with EmulatorServer(config) as server:
        api = RawClient.__new__(RawClient)
        api.server, api.base, api.session = server, server.url, requests.Session()
        api.project_id, api.workspace_id = config.project_id, config.workspace_id
        # The token call itself may be hit by a fault: retry until it succeeds, then record the pattern.
        for _ in range(20):
            try:
                api.authenticate()
                break
            except requests.HTTPError:
                continue
        return [_project(api).status_code for _ in range(40)]


def test_rates_are_reproducible_for_a_seed_and_differ_across_seeds():
    first, again, other = _fault_pattern(11), _fault_pattern(11), _fault_pattern(12)
    assert first == again
    assert first != other
    assert {429, 200} <= set(first) and set(first) & {500, 502, 503}


def test_control_api_reports_fired_faults(fresh_api: RawClient):
    fresh_api.server.state.faults.add_rule("error", count=1)
    _project(fresh_api)
    info = requests.get(f"{fresh_api.base}/_emulator/info", timeout=5).json()
    assert info["faultsFired"]["error"] == 1


def _webhook(name: str) -> dict:
    return {"name": name, "url": "https://example.invalid/h", "events": ["job.status"], "active": False}


def _webhook_names(api: RawClient) -> list[str]:
    return [w["name"] for w in api.get(f"/workspaces/{api.workspace_id}/webhooks").json()["data"]]


def test_late_rule_completes_the_creation_after_the_client_gave_up(fresh_api: RawClient):
    from tests.hooks.conftest import wait_for

    fresh_api.server.state.faults.configure(late_seconds=1.0)
    fresh_api.server.state.faults.add_rule("late", count=1, method="POST", path="/webhooks")
    with pytest.raises(requests.ReadTimeout):
        fresh_api.post(
            f"/workspaces/{fresh_api.workspace_id}/webhooks", json=_webhook("late"), timeout=(5, 0.2)
        )
    wait_for(lambda: "late" in _webhook_names(fresh_api), timeout=30)
    wait_for(lambda: fresh_api.server.state.faults.late_in_flight == 0, timeout=30)
    assert _webhook_names(fresh_api).count("late") == 1
    assert fresh_api.server.state.faults.fired["late"] == 1


def test_late_504_answers_504_and_creates_behind_it(fresh_api: RawClient):
    from tests.hooks.conftest import wait_for

    fresh_api.server.state.faults.configure(late_seconds=0.5)
    fresh_api.server.state.faults.add_rule("late_504", count=1, path="/webhooks")
    r = fresh_api.post(f"/workspaces/{fresh_api.workspace_id}/webhooks", json=_webhook("gw"))
    assert r.status_code == 504 and r.json()["error"]["code"] == 504
    wait_for(lambda: "gw" in _webhook_names(fresh_api), timeout=30)
    assert _webhook_names(fresh_api).count("gw") == 1


def test_late_rate_from_the_config_and_never_on_reads(fresh_api: RawClient):
    fresh_api.server.state.faults.configure(late_504_rate=1.0, late_seconds=0.1)
    assert _project(fresh_api).status_code == 200  # a GET is never held
    r = fresh_api.post(f"/workspaces/{fresh_api.workspace_id}/webhooks", json=_webhook("rate"))
    assert r.status_code == 504
    assert fresh_api.server.state.faults.fired["late_504"] == 1


def test_cli_knobs_of_the_late_faults():
    from up42_provider.emulator.cli import build_parser, config_from_args

    args = build_parser().parse_args(
        ["--fault-late", "0.5", "--fault-late-504", "0.25", "--late-seconds", "9"]
    )
    faults = config_from_args(args).faults
    assert (faults.late_rate, faults.late_504_rate, faults.late_seconds) == (0.5, 0.25, 9.0)
    assert FaultConfig().late_rate == FaultConfig().late_504_rate == 0.0  # off by default
