"""The bearer check every API call goes through (both generations).

Tokens are issued and verified by ``account.models.Tokens``; this module only decides which
paths need one and records the token's generation on the request scope, so that errors and
generation-specific answers (``userinfo``) can depend on it.
"""

from __future__ import annotations

import contextlib

from starlette.requests import Request

from up42_provider.emulator.http import GENERATION_KEY, OIDC_PREFIX, ApiError
from up42_provider.emulator.state import EmulatorState

# Paths that need no bearer token: the token calls of both generations, today's glossary (public
# in UP42's OpenAPI), signed downloads (the signature is the credential), public coverage files
# and the emulator's own control API.
PUBLIC_PREFIXES = (
    "/oauth/token",
    f"{OIDC_PREFIX}token",
    "/v2/collections",
    "/storage/",
    "/coverage/",
    "/_emulator/",
)


def note_generation(state: EmulatorState, request: Request) -> None:
    """Record the generation of a valid bearer token early, so injected faults answer in its shape.

    An invalid token is left to :func:`check_request` (faults fire before the bearer check).
    """
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        with contextlib.suppress(ApiError):
            request.scope[GENERATION_KEY] = state.tokens.check(header[7:].strip())


def check_request(state: EmulatorState, request: Request) -> None:
    """Raise ApiError(401) unless the request carries a valid token of either generation."""
    path = request.url.path
    if path.startswith(PUBLIC_PREFIXES):
        return
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "Missing bearer token")
    request.scope[GENERATION_KEY] = state.tokens.check(header[7:].strip())
