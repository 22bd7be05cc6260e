"""Getting and caching bearer tokens.

Two separate pieces so another API generation can plug in its own login:

* an :class:`AuthStrategy` knows *how* to ask for a token (URL, form, credentials) and read the
  answer, and how to find the workspace; :class:`ClientCredentialsAuth` is generation 1
  (Basic-auth client-credentials grant on ``V1.token``, workspace from ``V1.get_project``);
  :class:`PasswordGrantAuth` is today's generation (password grant on ``V2.token``, a separate Keycloak
  host, workspace from ``V2.userinfo``'s ``sub``); the cache and the transport are shared.
* a :class:`TokenCache` holds the token of one set of credentials, refreshes it ``margin``
  seconds before ``expires_in``, and lets exactly one caller refresh at a time (a thread lock for
  sync callers, an asyncio lock per event loop for async ones). Each client gets a private cache
  unless one is passed in: give the sync and async client of a hook the same cache, or use
  :meth:`TokenCache.for_settings` to share one token per credentials across the process (e.g. the
  many triggers of one triggerer).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from up42_provider.api.endpoints import V1, V2, Endpoint
from up42_provider.api.errors import UP42AuthenticationError, UP42Error, error_from_response
from up42_provider.api.responses import error_for
from up42_provider.api.settings import ClientSettings

DEFAULT_LIFETIME = 300.0  # seconds, when the token answer has no expires_in

CREDENTIALS_HINT = (
    "check the project id (connection login) and the project API key (connection password) "
    "of the UP42 connection"
)
ACCOUNT_HINT = (
    "check the account e-mail (connection login) and the account password (connection password) "
    "of the UP42 connection"
)


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    expires_at: float  # time.monotonic() after which the token must not be used any more

    def fresh(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.expires_at


@dataclass(frozen=True)
class TokenRequest:
    """Everything the transport needs to send the token call."""

    endpoint: Endpoint
    url: str
    form: Mapping[str, str]
    headers: Mapping[str, str]
    secrets: tuple[str, ...] = field(default=(), repr=False)  # to register with the secrets masker


class AuthStrategy(Protocol):
    """How one API generation logs in and finds the caller's workspace."""

    def token_request(self, settings: ClientSettings) -> TokenRequest: ...

    def parse_token(
        self, status: int, headers: Mapping[str, str], content: bytes, margin: float, now: float
    ) -> Token: ...

    @property
    def workspace_endpoint(self) -> Endpoint: ...

    def workspace_id(self, decoded: Any) -> str: ...


def _parse_token(
    endpoint: Endpoint,
    hint: str,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    margin: float,
    now: float,
) -> Token:
    """A token answer of either generation (``access_token``, or 2023's ``data.accessToken``)."""
    method, path = endpoint.method, endpoint.path
    if status in (400, 401, 403):
        failure = error_from_response(status, content, method, path)
        raise UP42AuthenticationError(
            f"UP42 refused the credentials ({failure.message}); {hint}",
            status=status,
            method=method,
            path=path,
            body=failure.body,
        )
    if not 200 <= status < 300:
        raise error_for(status, headers, content, method, path)
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    value = None
    if isinstance(body, dict):
        value = body.get("access_token")
        if not value and isinstance(body.get("data"), dict):
            value = body["data"].get("accessToken")
    if not isinstance(value, str) or not value:
        raise UP42AuthenticationError(
            f"UP42 answered the token request without a token; {hint}",
            status=status,
            method=method,
            path=path,
        )
    lifetime = DEFAULT_LIFETIME
    raw = body.get("expires_in") if isinstance(body, dict) else None
    if isinstance(raw, int | float | str):
        with contextlib.suppress(ValueError):
            lifetime = max(0.0, float(raw))
    # Never let the margin eat more than half of a short lifetime.
    return Token(value, now + lifetime - min(margin, lifetime / 2))


class ClientCredentialsAuth:
    """Generation 1: ``POST /oauth/token`` with Basic ``project_id:api_key`` (``V1.token``)."""

    workspace_endpoint = V1.get_project

    def token_request(self, settings: ClientSettings) -> TokenRequest:
        basic = base64.b64encode(f"{settings.project_id}:{settings.api_key}".encode()).decode()
        endpoint = V1.token
        return TokenRequest(
            endpoint=endpoint,
            url=settings.base_url + endpoint.path,
            form={"grant_type": "client_credentials"},
            headers={
                "Authorization": f"Basic {basic}",
                "Accept": "application/json",
                "User-Agent": settings.user_agent,
            },
            secrets=(settings.api_key, basic),
        )

    def parse_token(
        self, status: int, headers: Mapping[str, str], content: bytes, margin: float, now: float
    ) -> Token:
        return _parse_token(V1.token, CREDENTIALS_HINT, status, headers, content, margin, now)

    def workspace_id(self, decoded: Any) -> str:
        if isinstance(decoded, dict) and isinstance(decoded.get("workspaceId"), str):
            return decoded["workspaceId"]
        raise UP42Error("the project answer carries no workspaceId", method="GET", path=V1.get_project.path)


class PasswordGrantAuth:
    """Today's generation: Keycloak password grant on the auth host, workspace = userinfo ``sub``.

    The grant is simply re-run before expiry (as up42-py does); the refresh token is not used.
    """

    workspace_endpoint = V2.userinfo
    client_id = "up42-sdk"

    def token_request(self, settings: ClientSettings) -> TokenRequest:
        endpoint = V2.token
        return TokenRequest(
            endpoint=endpoint,
            url=settings.auth_url + endpoint.path,
            form={
                "grant_type": "password",
                "username": settings.username,
                "password": settings.password,
                "client_id": self.client_id,
                "scope": "openid",
            },
            headers={"Accept": "application/json", "User-Agent": settings.user_agent},
            secrets=(settings.password,),
        )

    def parse_token(
        self, status: int, headers: Mapping[str, str], content: bytes, margin: float, now: float
    ) -> Token:
        return _parse_token(V2.token, ACCOUNT_HINT, status, headers, content, margin, now)

    def workspace_id(self, decoded: Any) -> str:
        if isinstance(decoded, dict) and isinstance(decoded.get("sub"), str) and decoded["sub"]:
            return decoded["sub"]
        raise UP42Error(
            "the userinfo answer carries no sub (workspace id)", method="GET", path=V2.userinfo.path
        )


def auth_for(settings: ClientSettings) -> AuthStrategy:
    """The login strategy of the settings' generation."""
    return PasswordGrantAuth() if settings.generation == "current" else ClientCredentialsAuth()


class TokenCache:
    """The current token of one set of credentials, with single-flight refresh.

    ``get(fetch)`` returns a fresh token, calling ``fetch`` (which performs the token call) only
    when there is none, it is about to expire, or the caller reports it as rejected (``stale``).
    """

    _registry: dict[tuple[str, ...], TokenCache] = {}
    _registry_lock = threading.Lock()

    def __init__(self) -> None:
        self._token: Token | None = None
        self._lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.workspace_id: str | None = None
        self.fetches = 0  # token calls made through this cache (tests and metrics)

    @classmethod
    def for_settings(cls, settings: ClientSettings) -> TokenCache:
        """The process-wide cache of these credentials: every hook, client and trigger of a process
        that logs in with them shares one token (and one workspace lookup)."""
        secret = hashlib.sha256(f"{settings.api_key}\0{settings.password}".encode()).hexdigest()
        key = (
            settings.generation,
            settings.base_url,
            settings.auth_url,
            settings.project_id,
            settings.username,
            secret,
        )
        with cls._registry_lock:
            cache = cls._registry.get(key)
            if cache is None:
                cache = cls._registry[key] = cls()
            return cache

    @property
    def token(self) -> Token | None:
        return self._token

    def clear(self) -> None:
        self._token = None

    def _usable(self, stale: str | None) -> Token | None:
        token = self._token
        if token is not None and token.fresh() and token.value != stale:
            return token
        return None

    def get(self, fetch: Callable[[], Token], stale: str | None = None) -> Token:
        token = self._usable(stale)
        if token is not None:
            return token
        with self._lock:
            token = self._usable(stale)  # another thread may have refreshed meanwhile
            if token is None:
                token = fetch()
                self.fetches += 1
                self._token = token
            return token

    async def aget(self, fetch: Callable[[], Awaitable[Token]], stale: str | None = None) -> Token:
        token = self._usable(stale)
        if token is not None:
            return token
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(loop)
        if lock is None:
            lock = self._async_locks[loop] = asyncio.Lock()
        async with lock:
            token = self._usable(stale)
            if token is None:
                token = await fetch()
                self.fetches += 1
                self._token = token
            return token
