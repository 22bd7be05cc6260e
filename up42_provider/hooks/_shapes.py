"""One dict shape for orders and jobs of both API generations.

The hook's ``get_order``/``get_job`` (and their list and async twins) return the raw UP42 payload
with these snake_case keys laid over it, so code written for one generation reads the other:

* order: ``id, status, type, data_product_id, display_name, tags, sub_status, created_at,
  updated_at, details, generation``
* job: ``id, status, name, process_id, workflow_id, created_at, updated_at, started_at,
  finished_at, credits, errors, generation``

The raw keys stay (e.g. 2023's ``assets`` or today's ``orderDetails``) for callers that need them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any


def normalize_order(raw: Mapping[str, Any], generation: str) -> dict[str, Any]:
    details = raw.get("orderDetails") or {}
    if not isinstance(details, Mapping):
        details = {}
    return {
        **raw,
        "id": raw.get("id"),
        "status": raw.get("status"),
        "type": raw.get("type") or raw.get("orderType"),
        "data_product_id": raw.get("dataProductId"),
        "display_name": raw.get("displayName") or raw.get("name"),
        "tags": list(raw.get("tags") or []),
        "sub_status": details.get("subStatus"),
        "created_at": raw.get("createdAt"),
        "updated_at": raw.get("updatedAt") or raw.get("createdAt"),
        "details": dict(details),
        "generation": generation,
    }


def _job_errors(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    results = raw.get("results")
    errors = results.get("errors") if isinstance(results, Mapping) else None
    return [dict(e) for e in errors or [] if isinstance(e, Mapping)]


def normalize_job(raw: Mapping[str, Any], generation: str) -> dict[str, Any]:
    if generation == "current":
        definition = raw.get("definition") or {}
        inputs = definition.get("inputs") if isinstance(definition, Mapping) else None
        credits = raw.get("creditConsumption")
        return {
            **raw,
            "id": raw.get("jobID"),
            "status": raw.get("status"),
            "name": inputs.get("title") if isinstance(inputs, Mapping) else None,
            "process_id": raw.get("processID"),
            "workflow_id": None,
            "created_at": raw.get("created"),
            "updated_at": raw.get("updated") or raw.get("created"),
            "started_at": raw.get("started"),
            "finished_at": raw.get("finished"),
            "credits": credits.get("credits") if isinstance(credits, Mapping) else None,
            "errors": _job_errors(raw),
            "generation": generation,
        }
    return {
        **raw,
        "id": raw.get("id"),
        "status": raw.get("status"),
        "name": raw.get("name"),
        "process_id": None,
        "workflow_id": raw.get("workflowId"),
        "created_at": raw.get("createdAt"),
        "updated_at": raw.get("updatedAt")
        or raw.get("finishedAt")
        or raw.get("startedAt")
        or raw.get("createdAt"),
        "started_at": raw.get("startedAt"),
        "finished_at": raw.get("finishedAt"),
        "credits": raw.get("credits"),
        "errors": [],
        "generation": generation,
    }


def failure_reason(obj: Mapping[str, Any]) -> str | None:
    """A short reason from a normalized job's ``errors`` (today's ``results.errors``), if any."""
    errors = obj.get("errors") or []
    texts = [f"{e.get('name')}: {e.get('message')}" for e in errors if isinstance(e, Mapping)]
    return "; ".join(texts) or None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` or offset; naive means UTC) or datetime as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def updated_since(obj: Mapping[str, Any], after: datetime | None) -> bool:
    """Whether a normalized order/job was updated after ``after`` (always true without a bound)."""
    if after is None:
        return True
    moment = parse_time(obj.get("updated_at"))
    return moment is None or moment > after
