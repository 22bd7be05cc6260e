"""Today's generation of the account: Keycloak-like sign-in, OIDC userinfo and budgets.

The token endpoint answers as Keycloak does: a wrong password is ``401 invalid_grant``
("Invalid user credentials"), a missing parameter ``400 invalid_request``, a missing client id
``401 invalid_client``, an unknown grant ``400 unsupported_grant_type``; a refresh token that is
expired or forged is ``400 invalid_grant``. Any client id is accepted (``up42-sdk``,
``up42-api``, ...). Usernames compare case-insensitively, as Keycloak stores e-mails lower-case.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from up42_provider.emulator.account.models import BUDGET_STATUSES, GENERATION_CURRENT
from up42_provider.emulator.http import (
    ApiError,
    bad_request,
    bare,
    emulator_state,
    envelope,
    query_int,
    query_list,
    query_sort,
    request_generation,
    spring_page,
)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _param(form: dict[str, list[str]], name: str) -> str:
    value = (form.get(name) or [""])[0]
    if not value:
        raise ApiError(400, f"Missing parameter: {name}", code="invalid_request")
    return value


async def token(request: Request) -> Response:
    """``POST /realms/public/protocol/openid-connect/token``: password and refresh-token grants."""
    state = emulator_state(request)
    form = parse_qs((await request.body()).decode(errors="replace"))
    grant = (form.get("grant_type") or [""])[0]
    if not grant:
        raise ApiError(400, "Missing form parameter: grant_type", code="invalid_request")
    client_id = (form.get("client_id") or [""])[0]
    if not client_id:
        raise ApiError(401, "Invalid client or Invalid client credentials", code="invalid_client")
    cfg = state.config
    if grant == "password":
        username, password = _param(form, "username"), _param(form, "password")
        if not (
            hmac.compare_digest(username.strip().lower().encode(), cfg.account_username.lower().encode())
            and hmac.compare_digest(password.encode(), cfg.account_password.encode())
        ):
            raise ApiError(401, "Invalid user credentials", code="invalid_grant")
    elif grant == "refresh_token":
        refresh = _param(form, "refresh_token")
        try:
            claims = state.tokens.claims(refresh)
        except ApiError:
            raise ApiError(400, "Token is not active", code="invalid_grant") from None
        if claims.get("typ") != "Refresh":
            raise ApiError(400, "Invalid refresh token", code="invalid_grant")
        if claims.get("azp") != client_id:
            raise ApiError(
                400,
                "Invalid refresh token. Token client and authorized client don't match",
                code="invalid_grant",
            )
    else:
        raise ApiError(400, "Unsupported grant_type", code="unsupported_grant_type")
    return JSONResponse(state.tokens.issue_current(client_id), headers=_NO_STORE)


async def userinfo(request: Request) -> Response:
    """``GET|POST .../userinfo``: ``sub`` is the workspace id (what the 4.x SDK reads)."""
    state = emulator_state(request)
    if request_generation(request) != GENERATION_CURRENT:
        raise ApiError(
            401,
            "Token verification failed",
            code="invalid_token",
            headers={"WWW-Authenticate": 'Bearer realm="public", error="invalid_token"'},
        )
    cfg = state.config
    local = cfg.account_username.split("@", 1)[0]
    return JSONResponse(
        {
            "sub": cfg.workspace_id,
            "email_verified": True,
            "name": f"{local} emulator",
            "preferred_username": cfg.account_username.lower(),
            "given_name": local,
            "family_name": "emulator",
            "email": cfg.account_username.lower(),
        }
    )


async def users_me(request: Request) -> Response:
    """``GET /users/me`` (v1 envelope): how SDK 1.0.0-2.1.0 found the workspace id (``data.id``)."""
    cfg = emulator_state(request).config
    return envelope({"id": cfg.workspace_id, "email": cfg.account_username.lower()})


def _include_usage(request: Request) -> bool:
    raw = request.query_params.get("includeUsage")
    if raw is None or raw == "":
        return False
    if raw.lower() not in ("true", "false"):
        raise bad_request(f"Query parameter 'includeUsage' must be true or false, got '{raw}'")
    return raw.lower() == "true"


async def list_budgets(request: Request) -> Response:
    """``GET /v2/budgets``: Spring page; ``status`` repeated, ``sort=updatedAt,asc|desc``."""
    state = emulator_state(request)
    statuses = query_list(request, "status")
    for status in statuses:
        if status not in BUDGET_STATUSES:
            raise bad_request(f"Invalid budget status '{status}' (allowed: {', '.join(BUDGET_STATUSES)})")
    field, descending = query_sort(request, ("updatedAt", "createdAt", "name"), default="updatedAt")
    usage = _include_usage(request)
    page = query_int(request, "page", 0, minimum=0)
    size = query_int(request, "size", 20, minimum=1, maximum=100)
    key = {"updatedAt": "updated_at", "createdAt": "created_at", "name": "name"}[field]
    with state.lock:
        budgets = [b for b in state.budgets.records.values() if not statuses or b.status in statuses]
        budgets.sort(key=lambda b: getattr(b, key), reverse=descending)
        items = [b.as_json(state.credits.consumed(b.id) if usage else None) for b in budgets]
    return bare(spring_page(items, page, size, sort_field=field))


async def get_budget(request: Request) -> Response:
    state = emulator_state(request)
    usage = _include_usage(request)
    with state.lock:
        budget = state.budgets.get(request.path_params["budget_id"])
        return bare(budget.as_json(state.credits.consumed(budget.id) if usage else None))


async def budget_usage(request: Request) -> Response:
    state = emulator_state(request)
    with state.lock:
        budget = state.budgets.get(request.path_params["budget_id"])
        return bare({"budgetId": budget.id, "consumedCredits": state.credits.consumed(budget.id)})


async def budget_settings(request: Request) -> Response:
    state = emulator_state(request)
    budgets = state.budgets
    return bare({"enforcementEnabled": budgets.enforcement_enabled, "budgetSettingId": budgets.setting_id})
