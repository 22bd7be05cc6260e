"""Today's sign-in (Keycloak-like password grant, userinfo) and budgets, over real HTTP."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from tests.conftest import RawClient
from tests.emulator.current.conftest import TOKEN_PATH, USERINFO_PATH, CurrentClient, password_grant
from up42_provider.emulator.config import DEFAULT_ACCOUNT_PASSWORD, DEFAULT_ACCOUNT_USERNAME


def claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_password_grant_answers_keycloak_token_response(emulator):
    r = password_grant(emulator)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300 and body["refresh_expires_in"] == 1800
    assert body["access_token"] and body["refresh_token"] and body["session_state"]
    assert r.headers["cache-control"] == "no-store"
    assert claims(body["access_token"])["sub"] == emulator.config.workspace_id


def test_default_account_credentials_are_the_documented_ones(emulator):
    assert (emulator.config.account_username, emulator.config.account_password) == (
        DEFAULT_ACCOUNT_USERNAME,
        DEFAULT_ACCOUNT_PASSWORD,
    )
    assert password_grant(emulator, username=DEFAULT_ACCOUNT_USERNAME.upper()).status_code == 200


def test_wrong_password_is_refused_as_keycloak_does(emulator):
    r = password_grant(emulator, password="not-the-password")
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_grant", "error_description": "Invalid user credentials"}
    assert "access_token" not in r.text


def test_unknown_user_is_refused(emulator):
    r = password_grant(emulator, username="somebody@else.example")
    assert r.status_code == 401 and r.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "client_credentials", "client_id": "up42-sdk"}, 400, "unsupported_grant_type"),
        ({"grant_type": "password", "client_id": "up42-sdk", "username": "a@b.c"}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "a@b.c", "password": "x"}, 401, "invalid_client"),
        ({"client_id": "up42-sdk"}, 400, "invalid_request"),
    ],
)
def test_malformed_token_requests_name_the_problem(emulator, form, status, error):
    r = requests.post(f"{emulator.url}{TOKEN_PATH}", data=form, timeout=10)
    assert r.status_code == status
    assert r.json()["error"] == error and r.json()["error_description"]


def test_refresh_grant_issues_a_new_pair_and_refuses_an_access_token(emulator):
    first = password_grant(emulator).json()
    url = f"{emulator.url}{TOKEN_PATH}"
    r = requests.post(
        url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": "up42-sdk",
        },
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["access_token"] != first["access_token"]
    r = requests.post(
        url,
        data={"grant_type": "refresh_token", "refresh_token": first["access_token"], "client_id": "up42-sdk"},
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_refresh_token_is_not_a_bearer_token(emulator):
    refresh = password_grant(emulator).json()["refresh_token"]
    r = requests.get(f"{emulator.url}/v2/budgets", headers={"Authorization": f"Bearer {refresh}"}, timeout=10)
    assert r.status_code == 401


def test_userinfo_gives_the_workspace_as_sub(current_api: CurrentClient):
    r = current_api.get(USERINFO_PATH)
    assert r.status_code == 200
    body = r.json()
    assert body["sub"] == current_api.workspace_id
    assert body["email"] == current_api.server.config.account_username


def test_users_me_of_intermediate_sdks_gives_the_workspace(current_api: CurrentClient):
    r = current_api.get("/users/me")
    assert r.status_code == 200 and r.json()["data"]["id"] == current_api.workspace_id


def test_userinfo_refuses_a_2023_project_token(api: RawClient):
    r = api.get(USERINFO_PATH)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


def test_userinfo_without_token_is_401_in_oauth_shape(emulator):
    r = requests.get(f"{emulator.url}{USERINFO_PATH}", timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_token_expires_after_its_lifetime_and_a_new_grant_works(fresh_current_api: CurrentClient):
    api = fresh_current_api
    assert api.get("/v2/budgets").status_code == 200
    api.server.state.clock.advance(api.server.config.token_lifetime + 1)
    r = api.get("/v2/budgets")
    assert r.status_code == 401
    assert r.json()["status"] == 401  # v2 problem object
    api.authenticate()
    assert api.get("/v2/budgets").status_code == 200


def test_forced_expiry_control_expires_tokens_of_today(fresh_current_api: CurrentClient):
    api = fresh_current_api
    assert requests.post(f"{api.base}/_emulator/expire-tokens", timeout=10).status_code == 200
    assert api.get(USERINFO_PATH).status_code == 401


def test_both_generations_reach_the_same_account(api: RawClient, current_api: CurrentClient):
    assert api.get("/v2/budgets").status_code == 200
    info = requests.get(f"{api.base}/_emulator/info", timeout=10).json()
    assert info["workspaceId"] == current_api.workspace_id
    assert info["accountUsername"] == current_api.server.config.account_username


# -- budgets ---------------------------------------------------------------------------------------


def test_budget_list_is_a_spring_page_with_status_filter_and_usage(current_api: CurrentClient):
    r = current_api.get("/v2/budgets", params={"sort": "updatedAt,desc", "includeUsage": "True", "page": 0})
    assert r.status_code == 200
    page = r.json()
    assert page["totalPages"] == 1 and page["totalElements"] == 2
    updated = [b["updatedAt"] for b in page["content"]]
    assert updated == sorted(updated, reverse=True)
    for budget in page["content"]:
        assert {"id", "name", "status", "createdBy", "createdAt", "updatedAt"} <= set(budget)
        assert budget["remainingCredits"] == budget["spendLimit"] - budget["consumedCredits"]
    active = current_api.get("/v2/budgets", params=[("status", "ACTIVE")]).json()["content"]
    assert [b["status"] for b in active] == ["ACTIVE"]
    assert "consumedCredits" not in active[0]


def test_budget_list_refuses_unknown_status(current_api: CurrentClient):
    r = current_api.get("/v2/budgets", params={"status": "OPEN"})
    assert r.status_code == 400 and r.json()["status"] == 400


def test_budget_get_usage_and_settings(fresh_current_api: CurrentClient):
    api = fresh_current_api
    budget = api.get("/v2/budgets", params={"status": "ACTIVE"}).json()["content"][0]
    assert api.get(f"/v2/budgets/{budget['id']}/usage").json() == {
        "budgetId": budget["id"],
        "consumedCredits": 0,
    }
    # Spending recorded against the budget shows in its usage (one credits history for both).
    api.server.state.credits.charge(120, "ORDER", "test order", {"budgetId": budget["id"]})
    assert api.get(f"/v2/budgets/{budget['id']}/usage").json()["consumedCredits"] == 120
    got = api.get(f"/v2/budgets/{budget['id']}", params={"includeUsage": "true"}).json()
    assert got["consumedCredits"] == 120 and got["remainingCredits"] == got["spendLimit"] - 120
    settings = api.get("/v2/budgets/settings").json()
    assert settings["enforcementEnabled"] is True and settings["budgetSettingId"]


def test_unknown_budget_is_404(current_api: CurrentClient):
    r = current_api.get("/v2/budgets/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json()["status"] == 404


def test_budget_require_refuses_inactive_and_exhausted_budgets(fresh_current_api: CurrentClient):
    from up42_provider.emulator.http import ApiError

    state = fresh_current_api.server.state
    budgets = {b.status: b for b in state.budgets.records.values()}
    with pytest.raises(ApiError) as inactive:
        state.budgets.require(budgets["INACTIVE"].id, 1)
    assert inactive.value.status == 400 and "INACTIVE" in inactive.value.message
    with pytest.raises(ApiError) as exhausted:
        state.budgets.require(budgets["ACTIVE"].id, budgets["ACTIVE"].spend_limit + 1)
    assert exhausted.value.status == 402
    state.budgets.require(budgets["ACTIVE"].id, 10)


def test_budget_pages_and_sort_validation(current_api: CurrentClient):
    page = current_api.get("/v2/budgets", params={"size": 1, "page": 1, "sort": "updatedAt,asc"}).json()
    assert page["totalPages"] == 2 and page["number"] == 1 and len(page["content"]) == 1
    beyond = current_api.get("/v2/budgets", params={"page": 5}).json()
    assert beyond["content"] == []
    r = current_api.get("/v2/budgets", params={"sort": "spendLimit,asc"})
    assert r.status_code == 400 and "spendLimit" in r.json()["detail"]
    r = current_api.get("/v2/budgets", params={"includeUsage": "maybe"})
    assert r.status_code == 400 and "includeUsage" in r.json()["detail"]
