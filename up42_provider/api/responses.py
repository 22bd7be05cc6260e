"""Turning an HTTP answer into a Python value or an exception, the same for requests and httpx."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from up42_provider.api.endpoints import ResponseKind
from up42_provider.api.errors import UP42Error, error_from_response


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _json(content: bytes) -> Any:
    if not content.strip():
        return None
    return json.loads(content)


def error_for(status: int, headers: Mapping[str, str], content: bytes, method: str, path: str) -> UP42Error:
    retry_after = parse_retry_after(headers.get("retry-after")) if status in (429, 503) else None
    return error_from_response(status, content, method, path, retry_after=retry_after)


def decode(
    kind: ResponseKind, status: int, headers: Mapping[str, str], content: bytes, method: str, path: str
) -> Any:
    """The value of a 2xx answer for ``kind``; raises the mapped UP42Error for anything else.

    ``envelope`` unwraps ``data`` and raises on ``{"data": null, "error": <x>}`` even with a 2xx
    status (the 2023 SDK did the same); a body without the envelope keys is returned as is.
    """
    if not 200 <= status < 300:
        raise error_for(status, headers, content, method, path)
    if kind == "binary":
        return content
    if kind == "text":
        text = content.decode("utf-8", errors="replace")
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    try:
        body = _json(content)
    except ValueError:
        if kind == "none":
            return None
        raise UP42Error(
            "answer is not valid JSON", status=status, method=method, path=path, body=content[:500]
        ) from None
    if isinstance(body, dict) and "data" in body and "error" in body:
        error = body["error"]
        if body["data"] is None and error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            code = code if isinstance(code, int) and 400 <= code < 600 else status
            raise error_from_response(code, body, method, path)
        if kind == "envelope":
            return body["data"]
    if kind == "none":
        return None
    return body
