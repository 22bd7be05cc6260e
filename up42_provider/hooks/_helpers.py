"""Shared helpers of the hook mixins: argument checks, paging limits, the ambiguity rule."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final, TypeVar

from up42_provider.api.errors import UP42Error, UP42ServerError, UP42TransportError

T = TypeVar("T")

ORDER_SORT_FIELDS = ("createdAt", "updatedAt", "type", "status", "dataProvider")
JOB_SORT_FIELDS = ("createdAt", "name", "id", "mode", "status", "startedAt", "finishedAt")
ORDER_TYPES = ("ARCHIVE", "TASKING")
ASSET_SOURCES = ("ARCHIVE", "TASKING", "ANALYTICS", "USER")
QUOTATION_DECISIONS = ("NOT_DECIDED", "ACCEPTED", "REJECTED")
FEASIBILITY_DECISIONS = ("NOT_DECIDED", "ACCEPTED")
BLOCK_TYPES = ("DATA", "PROCESSING")
WEBHOOK_EVENTS = ("job.status", "order.status")
PAGE_SIZE = 50  # Spring page size of orders and assets, as up42-py
CREDITS_PAGE_SIZE = 2000  # credit history pages, the service's maximum
SEARCH_CAP = 500  # catalog features a search without a limit stops at (the 2023 SDK's maximum)
SEARCH_ALL: Final = "all"  # the explicit limit of a search that wants every match
STORAGE_STAC_LIMIT = 10_000  # storage STAC search page cap of up42-py
MAX_LOOKUP_INTERVAL = 15.0  # seconds between two lookups of a creation whose answer was lost
JOB_LOOKUP_LIMIT = 150  # newest jobs searched for a job of the same name (three V1.get_jobs pages)
SETTING_RANGES = {
    "JOB_QUERY_MAX_AOI_SIZE": (1, 1000),
    "MAX_CONCURRENT_JOBS": (1, 10),
    "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE": (1, 20),
}


def _take(items: Iterable[T], limit: int | None) -> list[T]:
    if limit is None:
        return list(items)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
    return list(itertools.islice(items, limit))


def _sort(sortby: str, descending: bool, allowed: Sequence[str]) -> str:
    if sortby not in allowed:
        raise ValueError(f"sortby {sortby!r} is not sortable here; use one of {', '.join(allowed)}")
    return f"{sortby},{'desc' if descending else 'asc'}"


def _choices(values: str | Iterable[str] | None, allowed: Sequence[str], name: str) -> list[str] | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    bad = [v for v in items if v not in allowed]
    if bad:
        raise ValueError(f"{name} {bad!r} not allowed; use {', '.join(allowed)}")
    return items


def _require_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty id string, got {value!r}")
    return value


def _strings(values: str | Iterable[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [values] if isinstance(values, str) else [str(v) for v in values]


def _is_ambiguous(exc: UP42Error) -> bool:
    """A creating call whose outcome is unknown: UP42 may or may not have created the thing."""
    if isinstance(exc, UP42TransportError):
        return bool(getattr(exc, "maybe_sent", True))
    return isinstance(exc, UP42ServerError)


def _created_at(obj: Mapping[str, Any]) -> datetime:
    text = str(obj.get("createdAt") or obj.get("created_at") or "")  # raw, or normalized (today)
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return datetime.max.replace(tzinfo=timezone.utc)  # undated ones lose
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def keep_one(matches: Iterable[Mapping[str, Any]]) -> tuple[Any, list[Any]]:
    """The one object to keep among duplicates, and the others: the oldest ``createdAt`` wins,
    then the smallest id. Every worker reaches the same answer from the same listing."""
    ordered = sorted(matches, key=lambda m: (_created_at(m), str(m.get("id") or "")))
    if not ordered:
        raise ValueError("keep_one needs at least one object")
    return ordered[0], ordered[1:]
