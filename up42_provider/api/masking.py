"""Register secrets (API key, tokens) with Airflow's secrets masker, when running inside Airflow.

The api package stays free of Airflow imports: the masker is looked up only once Airflow is
already loaded by the caller (every Airflow worker, triggerer and DAG processor has it). Importing
Airflow just to mask would cost a second and side effects in plain scripts, where no Airflow log
exists to leak into anyway.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_plus, urlsplit

log = logging.getLogger(__name__)

_SyncMasker = Callable[[Any], None]
_AsyncMasker = Callable[[Any], Awaitable[None]]

_resolved: tuple[_SyncMasker | None, _AsyncMasker | None] | None = None
# Query parameters that authorise a signed URL (GCS X-Goog-*, S3 X-Amz-*, Azure sig, tokens).
_SIGNED_PARAM = re.compile(r"signature|credential|token|key|policy|^sig$|security", re.IGNORECASE)


def _resolve() -> tuple[_SyncMasker | None, _AsyncMasker | None]:
    """Airflow 3 (``airflow.sdk.log``) first, then the shared masker, then Airflow 2."""
    global _resolved
    if _resolved is not None:
        return _resolved
    if "airflow" not in sys.modules:
        return None, None  # not resolved yet: Airflow may be imported later
    sync_fn: _SyncMasker | None = None
    async_fn: _AsyncMasker | None = None
    try:
        from airflow.sdk.log import mask_secret as sync_fn

        try:
            from airflow.sdk.log import amask_secret as async_fn
        except ImportError:
            async_fn = None
    except Exception:
        for module in ("airflow.sdk._shared.secrets_masker", "airflow.utils.log.secrets_masker"):
            try:
                sync_fn = __import__(module, fromlist=["mask_secret"]).mask_secret
                break
            except Exception:
                continue
    _resolved = (sync_fn, async_fn)
    return _resolved


def mask_secret(value: str | None) -> None:
    """Hide ``value`` in every Airflow log line from now on; no-op outside Airflow."""
    if not value:
        return
    sync_fn, _ = _resolve()
    if sync_fn is None:
        return
    try:
        sync_fn(value)
    except Exception:  # masking must never break a call
        log.debug("could not register a secret with the Airflow secrets masker", exc_info=True)


async def amask_secret(value: str | None) -> None:
    """Async twin: uses Airflow's ``amask_secret`` so a triggerer's supervisor channel never blocks."""
    if not value:
        return
    sync_fn, async_fn = _resolve()
    try:
        if async_fn is not None:
            await async_fn(value)
        elif sync_fn is not None:
            sync_fn(value)
    except Exception:
        log.debug("could not register a secret with the Airflow secrets masker", exc_info=True)


def signed_url_secrets(url: str) -> list[str]:
    """What must never appear in a log: the query of ``url`` (as sent and decoded) and every
    signature, credential or token in it (raw and decoded), longest first."""
    try:
        query = urlsplit(url).query
    except ValueError:
        query = url.partition("?")[2].partition("#")[0]
    if not query:
        return []
    found = {query, unquote_plus(query)}
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if value and _SIGNED_PARAM.search(unquote_plus(name)):
            found.update((value, unquote_plus(value)))
    return sorted((s for s in found if len(s) >= 8), key=len, reverse=True)


def mask_signed_url(url: str) -> str:
    """Register ``url``'s query and signature with Airflow's masker before anything requests or
    logs it (urllib3 logs the request line, query included, at DEBUG); returns ``url``.

    Called where signed URLs enter the provider (:meth:`UP42Client.call` of endpoints declared
    ``signed_url``, ``stream_url``) and again by the download engine as a safety net for URLs
    that come from elsewhere; registering twice is harmless.
    """
    for secret in signed_url_secrets(url):
        mask_secret(secret)
    return url


async def amask_signed_url(url: str) -> str:
    """Async twin of :func:`mask_signed_url`."""
    for secret in signed_url_secrets(url):
        await amask_secret(secret)
    return url
