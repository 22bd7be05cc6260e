"""Project, settings, blocks, credits and webhooks (generation 1, ``V1``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from up42_provider.api.endpoints import V1, V2
from up42_provider.api.errors import UP42Error
from up42_provider.api.masking import mask_secret
from up42_provider.hooks._base import HookBase
from up42_provider.hooks._helpers import (
    BLOCK_TYPES,
    SETTING_RANGES,
    WEBHOOK_EVENTS,
    _require_id,
    _take,
    keep_one,
)
from up42_provider.hooks._pagination import spring_pages
from up42_provider.utils import parameters as P


class AccountMixin(HookBase):
    """Methods of :class:`~up42_provider.hooks.up42.UP42Hook` (relies on its ``_call``/``get_conn``)."""

    # ------------------------------------------------------------------------------- project

    def get_project(self) -> dict[str, Any]:
        """``V1.get_project``: the project (id, name, description, createdAt, workspaceId)."""
        return self._call(V1.get_project)

    def get_workspace_id(self) -> str:
        return self.get_conn().workspace_id

    def get_project_settings(self) -> list[dict[str, str]]:
        """``V1.get_project_settings``: ``[{"name", "value"}]`` (values are strings)."""
        return self._call(V1.get_project_settings)

    def get_max_concurrent_jobs(self) -> int:
        """``V1.get_project_settings``: the project's ``MAX_CONCURRENT_JOBS``."""
        values = {s["name"]: s["value"] for s in self.get_project_settings()}
        return int(values["MAX_CONCURRENT_JOBS"])

    def update_project_settings(
        self,
        max_aoi_size: int | None = None,
        max_concurrent_jobs: int | None = None,
        number_of_images: int | None = None,
    ) -> dict[str, str]:
        """``V1.get_project_settings`` then ``V1.update_project_settings`` with all three settings
        (unchanged ones copied). Returns what was sent."""
        wanted = {
            "JOB_QUERY_MAX_AOI_SIZE": max_aoi_size,
            "MAX_CONCURRENT_JOBS": max_concurrent_jobs,
            "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE": number_of_images,
        }
        for name, value in wanted.items():
            if value is None:
                continue
            low, high = SETTING_RANGES[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        current = {s["name"]: str(s["value"]) for s in self.get_project_settings()}
        settings: dict[str, Any] = {
            name: str(value) if value is not None else current.get(name) for name, value in wanted.items()
        }
        missing = [name for name, value in settings.items() if value is None]
        if missing:
            raise UP42Error(
                f"project settings lack {', '.join(missing)}", method="GET", path=V1.get_project_settings.path
            )
        self._call(V1.update_project_settings, json={"settings": settings})
        return settings

    # -------------------------------------------------------------------------- blocks, credits

    def get_blocks(self, block_type: str | None = None) -> list[dict[str, Any]]:
        """``V1.get_blocks``: public marketplace blocks, optionally only ``DATA`` or ``PROCESSING`` ones."""
        if block_type is not None and block_type.upper() not in BLOCK_TYPES:
            raise ValueError(f"block_type {block_type!r} is unknown; use DATA or PROCESSING")
        blocks = self._call(V1.get_blocks) or []
        if block_type is not None:
            blocks = [b for b in blocks if str(b.get("type", "")).upper() == block_type.upper()]
        return blocks

    def get_block(self, block_id: str) -> dict[str, Any]:
        """``V1.get_block``: block details."""
        return self._call(V1.get_block, block_id=_require_id(block_id, "block_id"))

    def get_block_coverage(self, block_id: str) -> dict[str, Any]:
        """``V1.get_block_coverage``, then the block's coverage GeoJSON from the public URL it names."""
        data = self._call(V1.get_block_coverage, block_id=_require_id(block_id, "block_id")) or {}
        url = data.get("url")
        if not url:
            raise UP42Error("coverage answer carries no url", method="GET", path=V1.get_block_coverage.path)
        return self._get_public_json(url)

    def _get_public_json(self, url: str) -> Any:
        """A plain GET without UP42 credentials (coverage files live outside the API)."""
        with self.get_conn().stream_url(url) as response:
            content = response.read()
        try:
            return json.loads(content)
        except ValueError:
            raise UP42Error(
                "coverage file is not JSON", status=200, method="GET", path=str(response.url)
            ) from None

    def validate_manifest(self, manifest: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
        """``V1.validate_manifest``: validate a block manifest (dict, or path to a JSON file)."""
        if isinstance(manifest, Mapping):
            body = dict(manifest)
        else:
            path = Path(manifest)
            if not path.is_file():
                raise ValueError(f"manifest {str(path)!r} is neither a dict nor an existing JSON file")
            body = json.loads(path.read_text(encoding="utf-8"))
        return self._call(V1.validate_manifest, json=body)

    def get_credits_balance(self) -> dict[str, Any]:
        """``V1.get_credits_balance``: ``{"balance": n}``."""
        return self._call(V1.get_credits_balance)

    def iter_credits_history(
        self, start_date: P.TimeInput | None = None, end_date: P.TimeInput | None = None
    ) -> Iterator[dict[str, Any]]:
        """``V1.get_credits_history`` (Spring pages): credit transactions; defaults from 2000-01-01 to
        tomorrow (end of day)."""
        start = P.format_timestamp(start_date or date(2000, 1, 1), field="start_date")
        end = P.format_timestamp(
            end_date or (datetime.now(timezone.utc) + timedelta(days=1)).date(),
            end_of_day=True,
            field="end_date",
        )
        if start > end:
            raise ValueError(f"start_date {start} is after end_date {end}: swap them")

        def fetch(page: int | None) -> Any:
            params = {"from": start, "to": end, "size": self.credits_page_size, "page": page}
            return self._call(V1.get_credits_history, params=params)

        return spring_pages(fetch, first_page_param=True)

    def get_credits_history(
        self,
        start_date: P.TimeInput | None = None,
        end_date: P.TimeInput | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        return _take(self.iter_credits_history(start_date, end_date), limit)

    # ---------------------------------------------------------------------------------- webhooks

    def get_webhook_events(self) -> list[str]:
        """``V1.get_webhook_events``: the event names webhooks can subscribe to (e.g. ``job.status``)."""
        events = self._call(V1.get_webhook_events) or []
        return [e["name"] if isinstance(e, Mapping) else str(e) for e in events]

    def get_webhooks(self) -> list[dict[str, Any]]:
        """``V1.get_webhooks``: the workspace's webhooks."""
        return self._call(V1.get_webhooks) or []

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        """``V1.get_webhook``."""
        return self._call(V1.get_webhook, webhook_id=_require_id(webhook_id, "webhook_id"))

    @staticmethod
    def _webhook_events(events: Iterable[Any]) -> list[str]:
        items = [events] if isinstance(events, (str, Mapping)) else list(events or [])
        names = [e.get("name", "") if isinstance(e, Mapping) else str(e) for e in items]
        if not names:
            raise ValueError(f"a webhook needs at least one event: {', '.join(WEBHOOK_EVENTS)}")
        bad = [n for n in names if n not in WEBHOOK_EVENTS]
        if bad:
            raise ValueError(f"unknown webhook event(s) {bad}; use {', '.join(WEBHOOK_EVENTS)}")
        return names

    def create_webhook(
        self,
        name: str,
        url: str,
        events: Iterable[str],
        active: bool = False,
        secret: str | None = None,
        *,
        reuse_existing: bool = False,
    ) -> dict[str, Any]:
        """``V1.create_webhook``, idempotent by name: after a lost answer the webhook is looked up by name
        and url.

        ``reuse_existing`` returns an existing webhook with the same name and url without creating.
        """
        if not name or not isinstance(name, str):
            raise ValueError("a webhook needs a name")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValueError(f"webhook url must be an http(s) URL, got {url!r}")
        mask_secret(secret)
        body = {
            "name": name,
            "url": url,
            "events": self._webhook_events(events),
            "secret": secret,
            "active": active,
        }

        def matches() -> list[dict[str, Any]]:
            return [w for w in self.get_webhooks() if w.get("name") == name and w.get("url") == url]

        known = matches()
        if reuse_existing and known:
            return keep_one(known)[0]
        known_ids = {w.get("id") for w in known}

        def find() -> list[dict[str, Any]]:
            return [w for w in matches() if w.get("id") not in known_ids]

        return self._create_once(
            f"create webhook {name!r}",
            lambda: self._call(V1.create_webhook, json=body),
            find,
            fetch=self.get_webhook,
            discard=self.delete_webhook,
        )

    def update_webhook(
        self,
        webhook_id: str,
        name: str | None = None,
        url: str | None = None,
        events: Iterable[str] | None = None,
        active: bool | None = None,
        secret: str | None = None,
    ) -> dict[str, Any]:
        """``V1.get_webhook`` then ``V1.update_webhook`` with the full definition (arguments not given are
        copied)."""
        new_events = self._webhook_events(events) if events is not None else None
        mask_secret(secret)
        current = self.get_webhook(webhook_id)
        body = {
            "name": name if name is not None else current.get("name"),
            "url": url if url is not None else current.get("url"),
            "events": new_events if new_events is not None else current.get("events"),
            "secret": secret if secret is not None else current.get("secret"),
            "active": active if active is not None else current.get("active"),
        }
        return self._call(V1.update_webhook, json=body, webhook_id=webhook_id)

    def delete_webhook(self, webhook_id: str) -> None:
        """``V1.delete_webhook``."""
        self._call(V1.delete_webhook, webhook_id=_require_id(webhook_id, "webhook_id"))

    def trigger_webhook_test_events(self, webhook_id: str) -> dict[str, Any]:
        """``V1.trigger_webhook_tests``: send one test message per subscribed event."""
        return self._call(V1.trigger_webhook_tests, json={}, webhook_id=_require_id(webhook_id, "webhook_id"))

    # ------------------------------------------------------------------ budgets (today's API)

    def iter_budgets(
        self, *, statuses: str | Iterable[str] | None = None, include_usage: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The account's budgets (Spring pages, ``page=0,1,...``), most recently updated first."""
        if self.generation != "current":
            raise ValueError("budgets belong to today's UP42 API (account e-mail and password)")
        params: dict[str, Any] = {"sort": "updatedAt,desc", "includeUsage": include_usage}
        if statuses is not None:
            params["status"] = [statuses] if isinstance(statuses, str) else list(statuses)

        def fetch(page: int | None) -> Any:
            return self._call(V2.get_budgets, params={**params, "page": page or 0})

        return spring_pages(fetch, first_page_param=True)

    def get_budget(self, budget_id: str, *, include_usage: bool = True) -> dict[str, Any]:
        """One budget, with ``consumedCredits``/``remainingCredits`` when ``include_usage``."""
        if self.generation != "current":
            raise ValueError("budgets belong to today's UP42 API (account e-mail and password)")
        return self._call(V2.get_budget, params={"includeUsage": include_usage}, budget_id=budget_id)
