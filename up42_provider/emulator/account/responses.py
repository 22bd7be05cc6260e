"""2023 generation of the account: the client-credentials token, project, settings and credits."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from up42_provider.emulator.account.models import check_project, settings_list, validate_settings
from up42_provider.emulator.clock import parse_iso
from up42_provider.emulator.http import (
    emulator_state,
    envelope,
    json_body,
    query_int,
    query_time,
    spring_page,
)

HISTORY_MAX_PAGE_SIZE = 2000
HISTORY_DEFAULT_PAGE_SIZE = 20


def _unauthorized(message: str) -> Response:
    # No "error" key: OAuth clients (the 2023 SDK's too) take any "error" key for an OAuth error.
    return JSONResponse({"data": None, "message": message}, status_code=401)


def _client_credentials(request: Request, form: dict[str, list[str]]) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None, None
        user, _, password = decoded.partition(":")
        return user, password
    # Some OAuth clients send the credentials in the form body instead of Basic auth.
    return _form_value(form, "client_id"), _form_value(form, "client_secret")


def _form_value(form: dict[str, list[str]], name: str) -> str | None:
    """The first value of the form field ``name``, or None."""
    values = form.get(name)
    return values[0] if values else None


async def token(request: Request) -> Response:
    """``POST /oauth/token``: the project's client-credentials grant."""
    state = emulator_state(request)
    form = parse_qs((await request.body()).decode(errors="replace"))
    if _form_value(form, "grant_type") != "client_credentials":
        return _unauthorized("Unsupported grant_type: use grant_type=client_credentials")
    user, password = _client_credentials(request, form)
    config = state.config
    if not (
        user is not None
        and password is not None
        and hmac.compare_digest(user, config.project_id)
        and hmac.compare_digest(password, config.project_api_key)
    ):
        return _unauthorized("Invalid project credentials")
    access_token, lifetime = state.tokens.issue()
    return JSONResponse(
        {
            "data": {"accessToken": access_token},
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": lifetime,
        }
    )


async def get_project(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    with state.lock:
        return envelope(dict(state.project))


async def get_settings(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    return envelope(settings_list(state))


async def post_settings(request: Request) -> Response:
    state = emulator_state(request)
    check_project(state, request.path_params["project_id"])
    changes = validate_settings(await json_body(request))
    with state.lock:
        state.settings.update(changes)
    return envelope(settings_list(state), status=201)


async def credits_balance(request: Request) -> Response:
    state = emulator_state(request)
    with state.lock:
        return envelope({"balance": state.credits.balance})


async def credits_history(request: Request) -> Response:
    state = emulator_state(request)
    start, end = query_time(request, "from"), query_time(request, "to")
    page = query_int(request, "page", 0, minimum=0)
    size = min(query_int(request, "size", HISTORY_DEFAULT_PAGE_SIZE, minimum=1), HISTORY_MAX_PAGE_SIZE)
    with state.lock:
        records = list(state.credits.history)
    keyed = [(parse_iso(r["createdAt"]), r) for r in records]
    selected = [
        r
        for ts, r in sorted(keyed, key=lambda item: item[0], reverse=True)
        if (start is None or ts >= start) and (end is None or ts <= end)
    ]
    return envelope(spring_page(selected, page, size, sort_field="createdAt"))
