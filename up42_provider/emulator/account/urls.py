"""Route table of the account domain."""

from __future__ import annotations

from up42_provider.emulator.account import responses, responses_current
from up42_provider.emulator.http import OIDC_PREFIX, route

ROUTES_2023 = [
    *route("/oauth/token", responses.token, ["POST"]),
    *route("/projects/{project_id}", responses.get_project, ["GET"]),
    *route("/projects/{project_id}/settings", responses.get_settings, ["GET"]),
    *route("/projects/{project_id}/settings", responses.post_settings, ["POST"]),
    *route("/accounts/me/credits/balance", responses.credits_balance, ["GET"]),
    *route("/accounts/me/credits/history", responses.credits_history, ["GET"]),
]

ROUTES_CURRENT = [
    *route(f"{OIDC_PREFIX}token", responses_current.token, ["POST"]),
    *route(f"{OIDC_PREFIX}userinfo", responses_current.userinfo, ["GET", "POST"]),
    *route("/users/me", responses_current.users_me, ["GET"]),
    *route("/v2/budgets/settings", responses_current.budget_settings, ["GET"]),
    *route("/v2/budgets", responses_current.list_budgets, ["GET"]),
    *route("/v2/budgets/{budget_id}", responses_current.get_budget, ["GET"]),
    *route("/v2/budgets/{budget_id}/usage", responses_current.budget_usage, ["GET"]),
]
