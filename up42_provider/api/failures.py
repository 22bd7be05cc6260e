"""Map requests/httpx transport failures onto :class:`UP42TransportError`.

The important bit is ``maybe_sent``: only a failure to *connect* proves UP42 never saw the
request. A time-out while waiting, or a connection that broke while the answer was coming, may
follow a request that UP42 executed (the "lost response" case), so a creating call must not be
re-sent blindly after it.

Messages never include the library's own text when it may contain a URL (urllib3 repeats the
path and query), only a summary and the socket-level reason.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import httpx
import requests
import urllib3.exceptions

from up42_provider.api.errors import UP42TransportError


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it wraps (args, urllib3 ``reason``, cause, context)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        todo.extend(n for n in nested if isinstance(n, BaseException))
    return seen


def _reason(exc: BaseException) -> str:
    """The innermost socket-level error (``[Errno 111] Connection refused``): safe to show."""
    for item in reversed(_chain(exc)):
        if isinstance(item, OSError) and not isinstance(item, requests.RequestException) and str(item):
            return f" ({type(item).__name__}: {item})"
    return f" ({type(exc).__name__})"


def _never_connected(exc: BaseException) -> bool:
    return any(
        isinstance(
            item,
            urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.ConnectTimeoutError
            | ConnectionRefusedError
            | socket.gaierror,
        )
        for item in _chain(exc)
    )


def _is_tls(exc: BaseException) -> bool:
    return any(isinstance(item, ssl.SSLError | requests.exceptions.SSLError) for item in _chain(exc))


def from_requests(
    exc: requests.RequestException, method: str, path: str, timeout: tuple[float, float]
) -> UP42TransportError:
    where: dict[str, Any] = {"method": method, "path": path}
    E = requests.exceptions
    if isinstance(exc, E.SSLError):
        return UP42TransportError(
            "TLS handshake failed; check the server certificate or the connection's verify_ssl setting"
            + _reason(exc),
            maybe_sent=False,
            retryable=False,
            **where,
        )
    if isinstance(exc, E.ConnectTimeout):
        return UP42TransportError(f"could not connect within {timeout[0]:g} s", maybe_sent=False, **where)
    if isinstance(exc, E.ReadTimeout):
        return UP42TransportError(
            f"no answer within {timeout[1]:g} s; the request may have reached UP42", maybe_sent=True, **where
        )
    if isinstance(exc, E.InvalidURL | E.MissingSchema | E.InvalidSchema | E.URLRequired | E.TooManyRedirects):
        return UP42TransportError(
            f"unusable URL or redirect ({type(exc).__name__})", maybe_sent=False, retryable=False, **where
        )
    if isinstance(exc, E.ConnectionError) and _never_connected(exc):
        return UP42TransportError("could not connect" + _reason(exc), maybe_sent=False, **where)
    return UP42TransportError(
        "connection broken before the answer was complete; the request may have reached UP42" + _reason(exc),
        maybe_sent=True,
        **where,
    )


def from_httpx(
    exc: httpx.HTTPError, method: str, path: str, timeout: tuple[float, float]
) -> UP42TransportError:
    where: dict[str, Any] = {"method": method, "path": path}
    if isinstance(exc, httpx.ConnectError) and _is_tls(exc):
        return UP42TransportError(
            "TLS handshake failed; check the server certificate or the connection's verify_ssl setting"
            + _reason(exc),
            maybe_sent=False,
            retryable=False,
            **where,
        )
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return UP42TransportError(f"could not connect within {timeout[0]:g} s", maybe_sent=False, **where)
    if isinstance(exc, httpx.ConnectError):
        return UP42TransportError("could not connect" + _reason(exc), maybe_sent=False, **where)
    if isinstance(exc, httpx.TimeoutException):
        return UP42TransportError(
            f"no answer within {timeout[1]:g} s; the request may have reached UP42", maybe_sent=True, **where
        )
    if isinstance(
        exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.InvalidURL | httpx.TooManyRedirects
    ):
        return UP42TransportError(
            f"unusable URL or redirect ({type(exc).__name__})", maybe_sent=False, retryable=False, **where
        )
    return UP42TransportError(
        "connection broken before the answer was complete; the request may have reached UP42" + _reason(exc),
        maybe_sent=True,
        **where,
    )
