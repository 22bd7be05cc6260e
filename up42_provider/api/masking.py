"""Register secrets (API key, tokens) with Airflow's secrets masker, when running inside Airflow.

The api package stays free of Airflow imports: the masker is looked up only once Airflow is
already loaded by the caller (every Airflow worker, triggerer and DAG processor has it). Importing
Airflow just to mask would cost a second and side effects in plain scripts, where no Airflow log
exists to leak into anyway.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

_SyncMasker = Callable[[Any], None]
_AsyncMasker = Callable[[Any], Awaitable[None]]

_resolved: tuple[_SyncMasker | None, _AsyncMasker | None] | None = None


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
        from airflow.sdk.log import mask_secret as sync_fn  # type: ignore[no-redef]

        try:
            from airflow.sdk.log import amask_secret as async_fn  # type: ignore[no-redef]
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
