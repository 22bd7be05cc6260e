"""pystac-client's I/O bound to the hook's client: the same token, timeouts and retry policy.

pystac-client sends STAC requests on its own session: no timeout by default, urllib3 retries that
skip 5xx and most 429s, a token fixed at open time (both UP42 SDKs), and a DEBUG log line that
prints every request's headers, ``Authorization`` included. :class:`HookStacIO` sends them
instead with a token read from the hook's cache per request (renewed once on a 401), the
connection's (connect, read) timeouts and TLS setting, and :func:`up42_provider.api.retry.retrying`
(429 ``Retry-After``, 5xx, connection errors, bounded). Failures still surface as pystac-client's
``APIError`` (its own code branches on ``status_code``); the mapped ``UP42Error`` is its
``__cause__``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO

from up42_provider.api import failures
from up42_provider.api.errors import UP42Error
from up42_provider.api.responses import error_for
from up42_provider.api.retry import retrying

if TYPE_CHECKING:
    from up42_provider.api.client import UP42Client

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class HookStacIO(StacApiIO):
    """A ``StacApiIO`` whose every request goes through the hook's token cache and retry policy."""

    def __init__(self, client: UP42Client) -> None:
        settings = client.settings
        super().__init__(timeout=settings.timeout, max_retries=None)
        self.session.verify = settings.verify
        self._up42 = client

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        method = (method or "GET").upper()
        try:
            for attempt in retrying(self._up42.settings):
                with attempt:
                    return self._send(href, method, headers, parameters)
        except UP42Error as exc:
            error = APIError(getattr(exc, "stac_text", None) or str(exc))
            error.status_code = exc.status
            raise error from exc
        raise AssertionError("unreachable: retrying() re-raises the last error")

    def _send(
        self, href: str, method: str, headers: dict[str, str] | None, parameters: dict[str, Any] | None
    ) -> str:
        path = urlsplit(href).path
        settings = self._up42.settings
        timeout = (settings.connect_timeout, settings.read_timeout)
        if method in _BODY_METHODS:
            request = requests.Request(method, href, headers=dict(headers or {}), json=parameters)
        else:
            request = requests.Request(
                method, href, headers=dict(headers or {}), params=dict(parameters or {})
            )
        stale: str | None = None
        while True:
            token = self._up42._token(stale).value  # from the cache; renewed when reported stale
            request.headers["Authorization"] = f"Bearer {token}"
            try:
                prepared = self.session.prepare_request(request)
                where = self.session.merge_environment_settings(
                    prepared.url, proxies={}, stream=None, verify=self.session.verify, cert=None
                )  # the environment's proxies and CA bundle, as requests.get would use
                response = self.session.send(prepared, timeout=timeout, **where)
            except requests.RequestException as exc:
                raise failures.from_requests(exc, method, path, timeout) from None
            if 200 <= response.status_code < 300:
                return response.content.decode("utf-8")
            if response.status_code == 401 and stale is None:
                stale = token  # rejected before its time (revoked, clock skew): renew once, send again
                continue
            error = error_for(response.status_code, response.headers, response.content, method, path)
            error.stac_text = response.text  # type: ignore[attr-defined]
            raise error

    def __repr__(self) -> str:  # never the session's headers
        return f"HookStacIO({json.dumps(self._up42.settings.base_url)})"
