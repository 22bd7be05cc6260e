"""Faults, the clock and the control API for today's generation, over real HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.current.conftest import TOKEN_PATH, CurrentClient, password_grant
from up42_provider.emulator.faults import CREATING_CALLS


def arm(api: CurrentClient, **rule: object) -> None:
    r = requests.post(f"{api.base}/_emulator/faults", json={"rules": [rule]}, timeout=10)
    assert r.status_code == 200


def test_server_error_on_a_v2_endpoint_is_a_problem_object_then_clears(fresh_current_api: CurrentClient):
    arm(fresh_current_api, kind="error", count=1, path="^/v2/budgets")
    r = fresh_current_api.get("/v2/budgets")
    assert r.status_code in (500, 502, 503) and r.json()["status"] == r.status_code
    assert fresh_current_api.get("/v2/budgets").status_code == 200


def test_rate_limit_on_the_stac_catalog_carries_retry_after(fresh_current_api: CurrentClient):
    fresh_current_api.server.state.faults.configure(retry_after=4)
    arm(fresh_current_api, kind="rate_limit", count=1, method="POST", path="^/v2/catalog/search")
    body = {"collections": ["phr"], "bbox": [13.35, 52.45, 13.45, 52.53], "datetime": "2022-01-01/2022-12-31"}
    r = fresh_current_api.post("/v2/catalog/search", json=body)
    assert r.status_code == 429 and r.headers["Retry-After"] == "4"
    assert r.json()["status"] == 429 and "slow down" in r.json()["detail"]  # named for today's callers
    assert fresh_current_api.post("/v2/catalog/search", json=body).status_code == 200


def test_server_error_on_the_token_endpoint_is_in_oauth_shape(fresh_current_api: CurrentClient):
    arm(fresh_current_api, kind="error", count=1, path=f"^{TOKEN_PATH}")
    r = password_grant(fresh_current_api.server)
    assert r.status_code in (500, 502, 503) and r.json()["error"] == "server_error"
    assert password_grant(fresh_current_api.server).status_code == 200


def test_token_expiry_fault_refuses_a_valid_token_of_today_once(fresh_current_api: CurrentClient):
    arm(fresh_current_api, kind="token_expiry", count=1)
    r = fresh_current_api.get("/v2/budgets")
    assert r.status_code == 401 and r.json()["status"] == 401
    assert fresh_current_api.get("/v2/budgets").status_code == 200


def test_slow_fault_delays_today_endpoints(fresh_current_api: CurrentClient):
    fresh_current_api.server.state.faults.configure(slow_seconds=3)
    arm(fresh_current_api, kind="slow", count=1, path="^/v2/collections")
    with pytest.raises(requests.ReadTimeout):
        fresh_current_api.get("/v2/collections", timeout=(5, 0.3))
    fired = requests.get(f"{fresh_current_api.base}/_emulator/faults", timeout=10).json()["fired"]
    assert fired["slow"] == 1


@pytest.mark.parametrize(
    ("path", "creating"),
    [
        ("/v2/orders", True),
        ("/v2/processing/processes/pansharpening/execution", True),
        ("/v2/orders/estimate", False),
        ("/v2/processing/processes/pansharpening/validation", False),
        ("/workspaces/w/orders", True),
    ],
)
def test_lost_response_applies_to_the_creating_calls_of_both_generations(path: str, creating: bool):
    assert bool(CREATING_CALLS.match(path)) is creating


def test_clock_control_expires_today_tokens(fresh_current_api: CurrentClient):
    api = fresh_current_api
    lifetime = api.server.config.token_lifetime
    r = requests.post(f"{api.base}/_emulator/clock", json={"advance": lifetime + 1}, timeout=10)
    assert r.status_code == 200
    assert api.get("/v2/budgets").status_code == 401
