"""Project authentication (E01) and the bearer check every other API call goes through."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from up42_provider.emulator.http import ApiError, route
from up42_provider.emulator.state import EmulatorState

# Paths that need no bearer token: the token call itself, signed downloads (the signature is the
# credential), public coverage files and the emulator's own control API.
PUBLIC_PREFIXES = ("/oauth/token", "/storage/", "/coverage/", "/_emulator/")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tokens:
    """Issues JWT-shaped HS256 tokens and remembers their expiry."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._key = hashlib.sha256(f"tokens:{state.config.seed}:{secrets.token_hex(8)}".encode()).digest()
        self._revoked: set[str] = set()

    def issue(self) -> tuple[str, int]:
        lifetime = self._state.config.token_lifetime
        now = int(self._state.clock.now().timestamp())
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {
            "iss": "up42-emulator",
            "sub": self._state.config.project_id,
            "client_id": self._state.config.project_id,
            "project_id": self._state.config.project_id,
            "workspace_id": self._state.config.workspace_id,
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_hex(8),
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = _b64(hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest())
        return f"{signing_input}.{signature}", lifetime

    def check(self, token: str) -> None:
        """Raise 401 for a token that is malformed, forged, revoked or expired."""
        parts = token.split(".")
        if len(parts) != 3:
            raise ApiError(401, "Invalid token")
        signing_input = f"{parts[0]}.{parts[1]}"
        expected = _b64(hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]) or token in self._revoked:
            raise ApiError(401, "Invalid token")
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, binascii.Error):
            raise ApiError(401, "Invalid token") from None
        if claims.get("exp", 0) <= self._state.clock.now().timestamp():
            raise ApiError(401, "Token has expired")

    def revoke_all_before(self, when: float | None = None) -> None:
        """Expire every token issued so far (the 'forced token expiry' control)."""
        self._key = hashlib.sha256(self._key + str(when or time.time()).encode()).digest()


def _unauthorized(message: str) -> Response:
    # No "error" key at all: OAuth client libraries treat any "error" key as an OAuth error (API.md §3.3).
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
    return (form.get("client_id") or [None])[0], (form.get("client_secret") or [None])[0]


def install(state: EmulatorState) -> list[BaseRoute]:
    tokens = Tokens(state)
    state.tokens = tokens

    async def token(request: Request) -> Response:
        raw = (await request.body()).decode(errors="replace")
        form = parse_qs(raw)
        if (form.get("grant_type") or [None])[0] != "client_credentials":
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
        access_token, lifetime = tokens.issue()
        return JSONResponse(
            {
                "data": {"accessToken": access_token},
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": lifetime,
            }
        )

    return route("/oauth/token", token, ["POST"])


def check_request(state: EmulatorState, request: Request) -> None:
    """The bearer check (API.md §12.1.2); raises ApiError(401)."""
    path = request.url.path
    if path.startswith(PUBLIC_PREFIXES):
        return
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "Missing bearer token")
    state.tokens.check(header[7:].strip())
