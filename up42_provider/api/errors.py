"""Exceptions of the UP42 client and the mapping of UP42 error bodies onto them.

One hierarchy for every API generation: callers branch on the class (not-found, rate limit, ...)
and log ``str(exc)``, which always names the HTTP status, the call (METHOD + path, never a query
string) and UP42's own message, and never a credential.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from up42_provider.api.redact import redact_text

# UP42 reports an empty wallet with different statuses depending on the service; the words are stable.
_CREDITS_HINTS = re.compile(r"insufficient|not enough|exceed|too few|no credits|balance", re.IGNORECASE)
_MAX_MESSAGE = 500


class UP42Error(Exception):
    """Any failed UP42 call. ``status`` is the HTTP status (None when no answer arrived)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        title: str | None = None,
        detail: Any = None,
        code: Any = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.title = title
        self.detail = detail
        self.code = code
        self.body = body
        self.retry_after = retry_after
        self.attempts = 1

    def __str__(self) -> str:
        head = f"UP42 {self.status}" if self.status is not None else "UP42 error"
        where = f" on {self.method} {self.path}" if self.method and self.path else ""
        tail = f" (gave up after {self.attempts} attempts)" if self.attempts > 1 else ""
        return f"{head}{where}: {self.message}{tail}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default exception pickling.
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[UP42Error], message: str, state: dict[str, Any]) -> UP42Error:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class UP42AuthenticationError(UP42Error):
    """401/403: wrong credentials, an expired token that could not be renewed, or no access."""


class UP42NotFoundError(UP42Error):
    """404: the resource does not exist (or is not visible to this project)."""


class UP42RateLimitedError(UP42Error):
    """429: still rate limited after the retries; ``retry_after`` is UP42's hint in seconds."""


class UP42InsufficientCreditsError(UP42Error):
    """402, or any error whose message says the account lacks credits."""


class UP42ValidationError(UP42Error):
    """400/405/409/422: UP42 refused the request as sent (parameters, state conflict)."""


class UP42ServerError(UP42Error):
    """5xx after the retries (or at once for creating calls, which are never blindly re-sent)."""


class UP42TransportError(UP42Error):
    """No usable answer: connection refused or broken, or a time-out.

    ``maybe_sent`` is True when the request may have reached UP42 (so a creating call may have
    created something: look it up before sending it again). ``retryable`` is False for errors a
    retry cannot fix (TLS verification, malformed URL).
    """

    def __init__(self, message: str, *, maybe_sent: bool, retryable: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.maybe_sent = maybe_sent
        self.retryable = retryable

    def __str__(self) -> str:
        text = super().__str__()
        return text.replace("UP42 error", "UP42 transport error", 1)


def _class_for(status: int | None, message: str) -> type[UP42Error]:
    about_credits = "credit" in message.lower() and bool(_CREDITS_HINTS.search(message))
    if status == 402 or (status is not None and 400 <= status < 500 and about_credits):
        return UP42InsufficientCreditsError
    if status in (401, 403):
        return UP42AuthenticationError
    if status == 404:
        return UP42NotFoundError
    if status == 429:
        return UP42RateLimitedError
    if status in (400, 405, 409, 422):
        return UP42ValidationError
    if status is not None and status >= 500:
        return UP42ServerError
    return UP42Error


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, sort_keys=True, default=str)


def _parse_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            return json.loads(body) if body.strip() else None
        except ValueError:
            return body
    return body


def _short(body: Any) -> Any:
    return body[:2000] if isinstance(body, str) else body


def describe_error_body(body: Any) -> tuple[str | None, dict[str, Any]]:
    """UP42's message in any of its error shapes, plus the structured fields found.

    Shapes: v1 envelope ``{"data", "error": {"code", "message"} | "text"}``; v2 problem
    ``{"status", "title", "detail"}``; token failures ``{"data": null, "message"}``; OAuth
    ``{"error", "error_description"}``; anything else (plain text, HTML) as text.
    """
    body = _parse_body(body)
    fields: dict[str, Any] = {}
    if body is None or body == "":
        return None, fields
    if not isinstance(body, dict):
        return _text(body), fields
    error = body.get("error")
    if isinstance(error, dict) and error:
        fields["code"] = error.get("code")
        message = error.get("message") or error.get("title") or _text(error)
        if error.get("details"):
            fields["detail"] = error["details"]
        return _text(message), fields
    if "title" in body or ("status" in body and "detail" in body):
        fields["title"] = body.get("title")
        fields["detail"] = body.get("detail")
        message = _text(body.get("title") or "")
        detail = body.get("detail")
        if isinstance(detail, str) and detail.strip():
            message = f"{message}: {detail.strip()}" if message else detail.strip()
        elif isinstance(detail, dict | list) and detail:
            message = f"{message} {_text(detail)}".strip()
        return message or None, fields
    if isinstance(error, str) and error.strip() and error != "None":
        description = body.get("error_description")
        return (f"{error}: {description}" if description else error), fields
    for key in ("message", "detail", "error_description"):
        if isinstance(body.get(key), str) and body[key].strip():
            return body[key].strip(), fields
    return _text(body), fields


def error_from_response(
    status: int | None,
    body: Any,
    method: str | None,
    path: str | None,
    *,
    retry_after: float | None = None,
) -> UP42Error:
    """The exception for an error answer (non-2xx, or a 2xx envelope carrying only an error)."""
    message, fields = describe_error_body(body)
    if not message:
        try:
            message = HTTPStatus(status).phrase if status else "no details given"
        except ValueError:
            message = "no details given"
    message = redact_text(message)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    cls = _class_for(status, message)
    return cls(
        message,
        status=status,
        method=method,
        path=path,
        title=fields.get("title"),
        detail=fields.get("detail"),
        code=fields.get("code"),
        body=_short(_parse_body(body)),
        retry_after=retry_after,
    )


__all__ = [
    "UP42AuthenticationError",
    "UP42Error",
    "UP42InsufficientCreditsError",
    "UP42NotFoundError",
    "UP42RateLimitedError",
    "UP42ServerError",
    "UP42TransportError",
    "UP42ValidationError",
    "describe_error_body",
    "error_from_response",
]
