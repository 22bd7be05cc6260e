"""``UP42Hook``: one method per UP42 API operation (API.md §14), on top of ``up42_provider.api``.

The transport (auth, retries, decoding, error mapping) lives in ``up42_provider.api``; this hook
adds what is Airflow- or workflow-specific: reading the Airflow connection (sync and async),
pagination as generators, client-side filters of up42-py, input validation before any request,
and idempotent creation (orders, jobs, workflows, webhooks are looked up before being re-sent
when UP42 may have received a request whose answer was lost).

Heavy geospatial libraries are only imported inside the methods that need them.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseHook

from up42_provider.api.client import AsyncUP42Client, UP42Client
from up42_provider.api.endpoints import V1
from up42_provider.api.errors import (
    UP42AuthenticationError,
    UP42Error,
    UP42NotFoundError,
    UP42ServerError,
    UP42TransportError,
)
from up42_provider.api.settings import ClientSettings
from up42_provider.hooks._connection import UP42ConnectionConfigError, settings_from_connection
from up42_provider.hooks._pagination import list_pages, next_link, spring_pages
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import to_polygon_geojson

if TYPE_CHECKING:
    from airflow.sdk import Connection

T = TypeVar("T")

ORDER_SORT_FIELDS = ("createdAt", "updatedAt", "type", "status", "dataProvider")
JOB_SORT_FIELDS = ("createdAt", "name", "id", "mode", "status", "startedAt", "finishedAt")
ORDER_TYPES = ("ARCHIVE", "TASKING")
ASSET_SOURCES = ("ARCHIVE", "TASKING", "ANALYTICS", "USER")
QUOTATION_DECISIONS = ("NOT_DECIDED", "ACCEPTED", "REJECTED")
FEASIBILITY_DECISIONS = ("NOT_DECIDED", "ACCEPTED")
BLOCK_TYPES = ("DATA", "PROCESSING")
WEBHOOK_EVENTS = ("job.status", "order.status")
PAGE_SIZE = 50  # P3 page size, as up42-py
CREDITS_PAGE_SIZE = 2000  # P1, the documented maximum
STORAGE_STAC_LIMIT = 10_000  # P6 cap of up42-py
JOB_LOOKUP_PAGES = 3  # how far back (newest first) a lost job creation is looked for
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


class UP42Hook(BaseHook):
    """Talk to UP42 (or its emulator) through an Airflow connection of type ``up42``.

    Connection: host = API base URL (default https://api.up42.com; scheme optional, https
    assumed), login = project id, password = project API key; optional extras ``timeout``
    (seconds, or [connect, read]), ``max_attempts``, ``max_retry_wait`` (seconds), ``verify_ssl``.

    :param up42_conn_id: the Airflow connection id.
    """

    conn_name_attr = "up42_conn_id"
    default_conn_name = "up42_default"
    conn_type = "up42"
    hook_name = "UP42"

    def __init__(self, up42_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.up42_conn_id = up42_conn_id
        self._settings: ClientSettings | None = None
        self._client: UP42Client | None = None
        self._async_clients: dict[int, tuple[asyncio.AbstractEventLoop, AsyncUP42Client]] = {}
        self._hosts: dict[str, str] | None = None

    # ------------------------------------------------------------------------------- UI (fallback)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 3.2+ reads ``ui-field-behaviour`` from provider info; kept for older UIs."""
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "API base URL", "login": "Project ID", "password": "Project API key"},
            "placeholders": {
                "host": "https://api.up42.com",
                "login": "your UP42 project id (UUID)",
                "password": "your UP42 project API key",
                "extra": '{"timeout": 60, "max_attempts": 5, "max_retry_wait": 120, "verify_ssl": true}',
            },
        }

    # ------------------------------------------------------------------------------- connection

    @staticmethod
    def settings_from(conn: Connection, extra: Mapping[str, Any] | None) -> ClientSettings:
        """Client settings from an Airflow connection and its already-decoded extras."""
        return settings_from_connection(
            conn.conn_id,
            host=conn.host,
            login=conn.login,
            password=conn.password,
            port=conn.port,
            extra=extra,
        )

    @property
    def settings(self) -> ClientSettings:
        """Settings of the sync path (reads the connection once per hook)."""
        if self._settings is None:
            conn = self.get_connection(self.up42_conn_id)
            self._settings = self.settings_from(conn, conn.extra_dejson)
        return self._settings

    async def asettings(self) -> ClientSettings:
        """Settings of the async path: async connection lookup and extras, never sync calls."""
        if self._settings is None:
            conn = await self.aget_connection(self.up42_conn_id)
            self._settings = self.settings_from(conn, await conn.aextra_dejson())
        return self._settings

    def get_conn(self) -> UP42Client:
        """The hook's (cached) sync UP42 client."""
        if self._client is None:
            self._client = UP42Client(self.settings)
        return self._client

    @property
    def client(self) -> UP42Client:
        return self.get_conn()

    async def aget_client(self) -> AsyncUP42Client:
        """The async UP42 client of the running event loop (clients are bound to their loop)."""
        loop = asyncio.get_running_loop()
        cached = self._async_clients.get(id(loop))
        if cached is not None and cached[0] is loop:
            return cached[1]
        client = AsyncUP42Client(await self.asettings())
        self._async_clients[id(loop)] = (loop, client)
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        cached = self._async_clients.pop(id(loop), None)
        if cached is not None:
            await cached[1].aclose()

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate and read the project: the Airflow UI's "Test" button."""
        try:
            settings = self.settings
        except UP42ConnectionConfigError as exc:
            return False, str(exc)
        except Exception as exc:  # connection not found, ...
            return False, f"Cannot read UP42 connection {self.up42_conn_id!r}: {exc}"
        client = UP42Client(settings)
        try:
            project = client.call(V1.get_project) or {}
        except UP42AuthenticationError as exc:
            return False, (
                f"UP42 rejected the credentials of connection {self.up42_conn_id!r} ({exc.message}); "
                "check the project id (login) and the project API key (password)"
            )
        except UP42TransportError as exc:
            return False, f"Cannot reach UP42 at {settings.base_url}: {exc.message}; check the host field"
        except UP42Error as exc:
            return False, str(exc)
        finally:
            client.close()
        name = project.get("name") or "?"
        return True, f"Connected to UP42 project {name} ({project.get('id') or settings.project_id})"

    # --------------------------------------------------------------------------- internals

    def _call(self, endpoint: Any, **kwargs: Any) -> Any:
        return self.get_conn().call(endpoint, **kwargs)

    def _create_once(
        self,
        what: str,
        create: Callable[[], T],
        find: Callable[[], T | None],
    ) -> T:
        """Create; if the outcome is unknown, return what UP42 did create, else send once more."""
        try:
            return create()
        except UP42Error as exc:
            if not _is_ambiguous(exc):
                raise
            self.log.warning("%s: outcome unknown (%s); looking up whether UP42 created it", what, exc)
            try:
                found = find()
            except UP42Error as lookup_error:
                self.log.warning("%s: lookup failed too (%s)", what, lookup_error)
                raise exc from lookup_error
            if found is not None:
                self.log.info("%s: UP42 had created it; using the existing one", what)
                return found
            self.log.warning("%s: UP42 did not create it; sending the request once more", what)
            return create()

    # ------------------------------------------------------------------------------- project

    def get_project(self) -> dict[str, Any]:
        """E02: the project (id, name, description, createdAt, workspaceId)."""
        return self._call(V1.get_project)

    def get_workspace_id(self) -> str:
        return self.get_conn().workspace_id

    def get_project_settings(self) -> list[dict[str, str]]:
        """E03: ``[{"name", "value"}]`` (values are strings)."""
        return self._call(V1.get_project_settings)

    def get_max_concurrent_jobs(self) -> int:
        """E03: the project's ``MAX_CONCURRENT_JOBS``."""
        values = {s["name"]: s["value"] for s in self.get_project_settings()}
        return int(values["MAX_CONCURRENT_JOBS"])

    def update_project_settings(
        self,
        max_aoi_size: int | None = None,
        max_concurrent_jobs: int | None = None,
        number_of_images: int | None = None,
    ) -> dict[str, str]:
        """E03 then E04 with all three settings (unchanged ones copied). Returns what was sent."""
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
        settings = {
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
        """E05: public marketplace blocks, optionally only ``DATA`` or ``PROCESSING`` ones."""
        if block_type is not None and block_type.upper() not in BLOCK_TYPES:
            raise ValueError(f"block_type {block_type!r} is unknown; use DATA or PROCESSING")
        blocks = self._call(V1.get_blocks) or []
        if block_type is not None:
            blocks = [b for b in blocks if str(b.get("type", "")).upper() == block_type.upper()]
        return blocks

    def get_block(self, block_id: str) -> dict[str, Any]:
        """E06: block details."""
        return self._call(V1.get_block, block_id=_require_id(block_id, "block_id"))

    def get_block_coverage(self, block_id: str) -> dict[str, Any]:
        """E07 then X2: the block's coverage GeoJSON (fetched from the public URL E07 names)."""
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
        """E08: validate a block manifest (dict, or path to a JSON file)."""
        if not isinstance(manifest, Mapping):
            path = Path(manifest)
            if not path.is_file():
                raise ValueError(f"manifest {str(path)!r} is neither a dict nor an existing JSON file")
            manifest = json.loads(path.read_text(encoding="utf-8"))
        return self._call(V1.validate_manifest, json=dict(manifest))

    def get_credits_balance(self) -> dict[str, Any]:
        """E09: ``{"balance": n}``."""
        return self._call(V1.get_credits_balance)

    def iter_credits_history(
        self, start_date: P.TimeInput | None = None, end_date: P.TimeInput | None = None
    ) -> Iterator[dict[str, Any]]:
        """E10 (P1): credit transactions; defaults from 2000-01-01 to tomorrow (end of day)."""
        start = P.format_timestamp(start_date or date(2000, 1, 1), field="start_date")
        end = P.format_timestamp(
            end_date or (datetime.now(timezone.utc) + timedelta(days=1)).date(),
            end_of_day=True,
            field="end_date",
        )
        if start > end:
            raise ValueError(f"start_date {start} is after end_date {end}: swap them")

        def fetch(page: int | None) -> Any:
            params = {"from": start, "to": end, "size": CREDITS_PAGE_SIZE, "page": page}
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
        """E11: the event names webhooks can subscribe to (e.g. ``job.status``)."""
        events = self._call(V1.get_webhook_events) or []
        return [e["name"] if isinstance(e, Mapping) else str(e) for e in events]

    def get_webhooks(self) -> list[dict[str, Any]]:
        """E12: the workspace's webhooks."""
        return self._call(V1.get_webhooks) or []

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        """E14."""
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
        """E13, idempotent by name: after a lost answer the webhook is looked up by name and url.

        ``reuse_existing`` returns an existing webhook with the same name and url without creating.
        """
        if not name or not isinstance(name, str):
            raise ValueError("a webhook needs a name")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValueError(f"webhook url must be an http(s) URL, got {url!r}")
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
            return known[0]
        known_ids = {w.get("id") for w in known}

        def find() -> dict[str, Any] | None:
            return next((w for w in matches() if w.get("id") not in known_ids), None)

        return self._create_once(
            f"create webhook {name!r}", lambda: self._call(V1.create_webhook, json=body), find
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
        """E14 then E15 with the full definition (arguments not given are copied)."""
        current = self.get_webhook(webhook_id)
        body = {
            "name": name if name is not None else current.get("name"),
            "url": url if url is not None else current.get("url"),
            "events": self._webhook_events(events) if events is not None else current.get("events"),
            "secret": secret if secret is not None else current.get("secret"),
            "active": active if active is not None else current.get("active"),
        }
        return self._call(V1.update_webhook, json=body, webhook_id=webhook_id)

    def delete_webhook(self, webhook_id: str) -> None:
        """E16."""
        self._call(V1.delete_webhook, webhook_id=_require_id(webhook_id, "webhook_id"))

    def trigger_webhook_test_events(self, webhook_id: str) -> dict[str, Any]:
        """E17: send one test message per subscribed event."""
        return self._call(V1.trigger_webhook_tests, json={}, webhook_id=_require_id(webhook_id, "webhook_id"))

    # ----------------------------------------------------------------------------------- catalog

    def get_collections(self, collection_type: str | None = None) -> list[dict[str, Any]]:
        """E18: collections, optionally only ``ARCHIVE`` (catalog) or ``TASKING`` ones."""
        _choices(collection_type, ORDER_TYPES, "collection_type")
        items = self._call(V1.get_collections) or []
        if collection_type is not None:
            items = [c for c in items if c.get("type") == collection_type]
        return items

    def get_data_products(self, collection_type: str | None = None, basic: bool = False) -> Any:
        """E19: integrated data products; ``basic`` gives up42-py's
        ``{title: {"collection", "host", "data_products": {configuration title: id}}}``.
        """
        _choices(collection_type, ORDER_TYPES, "collection_type")
        products = [
            p
            for p in self._call(V1.get_data_products) or []
            if (p.get("collection") or {}).get("isIntegrated", True)
            and (p.get("productConfiguration") or {}).get("isIntegrated", True)
            and (collection_type is None or (p.get("collection") or {}).get("type") == collection_type)
        ]
        if not basic:
            return products
        result: dict[str, Any] = {}
        for p in products:
            collection = p.get("collection") or {}
            entry = result.setdefault(
                collection.get("title"),
                {
                    "collection": p.get("collectionName"),
                    "host": (collection.get("host") or {}).get("name"),
                    "data_products": {},
                },
            )
            entry["data_products"][(p.get("productConfiguration") or {}).get("title")] = p.get("id")
        return result

    def get_data_product_schema(self, data_product_id: str) -> dict[str, Any]:
        """E20: JSON Schema of the order ``params`` for a data product."""
        return self._call(
            V1.get_data_product_schema, data_product_id=_require_id(data_product_id, "data_product_id")
        )

    def get_catalog_host(self, collections: str | Iterable[str]) -> str:
        """The provider host serving ``collections`` (all must share one), from E18 (E19 fallback)."""
        names = _strings(collections) or []
        if not names:
            raise ValueError("name at least one collection, e.g. ['phr']")
        if self._hosts is None:
            hosts = {c.get("name"): c.get("hostName") for c in self._call(V1.get_collections) or []}
            for p in self._call(V1.get_data_products) or []:
                collection = p.get("collection") or {}
                host = (collection.get("host") or {}).get("name") or collection.get("hostName")
                if p.get("collectionName") and host and not hosts.get(p["collectionName"]):
                    hosts[p["collectionName"]] = host
            self._hosts = {k: v for k, v in hosts.items() if k and v}
        unknown = [n for n in names if n not in self._hosts]
        if unknown:
            raise ValueError(f"unknown collection(s) {unknown}; see get_collections() for valid names")
        found = {self._hosts[n] for n in names}
        if len(found) > 1:
            raise ValueError(
                f"collections {names} are served by different hosts ({', '.join(sorted(found))}); "
                "search them separately"
            )
        return found.pop()

    def iter_search(
        self,
        search_parameters: Mapping[str, Any],
        *,
        host: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """E21 (P5): catalog features; the same body is POSTed to each absolute ``next`` link.

        ``limit`` defaults to the body's ``limit`` (up42-py semantics; unbounded without one).
        Pages hold ``page_size`` features (default: the limit, at most 500 as the service caps).
        """
        body = self._search_body(search_parameters)
        wanted = limit if limit is not None else body.get("limit")
        if wanted is not None and (isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1):
            raise ValueError(f"limit must be a positive integer, got {wanted!r}")
        if page_size is not None and (
            isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1
        ):
            raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
        body["limit"] = min(page_size or wanted or P.MAX_SEARCH_PAGE, P.MAX_SEARCH_PAGE)
        host = host or self.get_catalog_host(body.get("collections") or [])
        items = self._search_pages(body, host)
        return itertools.islice(items, wanted) if wanted is not None else items

    @staticmethod
    def _search_body(search_parameters: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(search_parameters, Mapping):
            raise ValueError("search_parameters must be a dict (see utils.parameters.search_parameters)")
        body = copy.deepcopy(dict(search_parameters))
        if body.get("intersects") is not None:
            body["intersects"] = to_polygon_geojson(body["intersects"])
        if not body.get("collections"):
            raise ValueError("search_parameters need 'collections', e.g. ['phr']")
        return body

    def _search_pages(self, body: dict[str, Any], host: str) -> Iterator[dict[str, Any]]:
        client = self.get_conn()
        page = client.call(V1.search_catalog, json=body, host=host) or {}
        seen: set[str] = set()
        while True:
            yield from page.get("features") or []
            link = next_link(page.get("links"), positional=True)
            if link is None or not page.get("features") or link["href"] in seen:
                return
            seen.add(link["href"])
            page = client.call_url(link["href"], V1.search_catalog, json=body) or {}

    def search(
        self,
        search_parameters: Mapping[str, Any],
        *,
        host: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> dict[str, Any]:
        """E21: a FeatureCollection of up to ``limit`` (default: the body's ``limit``) features."""
        features = list(self.iter_search(search_parameters, host=host, limit=limit, page_size=page_size))
        return {"type": "FeatureCollection", "features": features}

    def download_catalog_quicklook(
        self, image_id: str, *, collection: str | None = None, host: str | None = None
    ) -> bytes | None:
        """E22: the JPEG quicklook of a catalog image, or None when UP42 has none (404)."""
        if host is None:
            if collection is None:
                raise ValueError("pass the image's collection (e.g. 'phr') or its host")
            host = self.get_catalog_host(collection)
        try:
            return self._call(V1.get_catalog_quicklook, host=host, image_id=_require_id(image_id, "image_id"))
        except UP42NotFoundError:
            self.log.warning("UP42 has no quicklook for image %s", image_id)
            return None

    # ------------------------------------------------------------------------------------- orders

    def construct_catalog_order_parameters(
        self, data_product_id: str, image_id: str, aoi: Any = None, tags: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """E20 + :func:`~up42_provider.utils.parameters.catalog_order_parameters`."""
        schema = self.get_data_product_schema(data_product_id)
        return P.catalog_order_parameters(schema, data_product_id, image_id, aoi=aoi, tags=tags)

    def construct_tasking_order_parameters(
        self,
        data_product_id: str,
        name: str,
        acquisition_start: P.TimeInput,
        acquisition_end: P.TimeInput,
        geometry: Any,
        tags: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """E20 + :func:`~up42_provider.utils.parameters.tasking_order_parameters`."""
        schema = self.get_data_product_schema(data_product_id)
        return P.tasking_order_parameters(
            schema, data_product_id, name, acquisition_start, acquisition_end, geometry, tags=tags
        )

    @staticmethod
    def _order_body(order_parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the order body locally (geometry, required keys) before any request."""
        if not isinstance(order_parameters, Mapping):
            raise ValueError("order_parameters must be a dict with 'dataProduct' and 'params'")
        body = copy.deepcopy(dict(order_parameters))
        if not body.get("dataProduct"):
            raise ValueError("order_parameters lack 'dataProduct' (the data product id)")
        params = body.get("params")
        if not isinstance(params, Mapping):
            raise ValueError("order_parameters lack 'params' (see construct_*_order_parameters)")
        params = dict(params)
        if params.get("aoi") is not None:
            params["aoi"] = to_polygon_geojson(params["aoi"])
        if params.get("geometry") is not None:
            params["geometry"] = to_polygon_geojson(params["geometry"], allow_point=True)
        body["params"] = params
        return body

    def estimate_order(self, order_parameters: Mapping[str, Any]) -> int:
        """E24: the order's price in credits."""
        data = self._call(V1.estimate_order, json=self._order_body(order_parameters)) or {}
        return int(data["credits"])

    def place_order(
        self,
        order_parameters: Mapping[str, Any],
        *,
        tag: str | None = None,
        reuse_existing: bool = False,
    ) -> dict[str, Any]:
        """E23 then E25: place an order, idempotently.

        ``tag`` (generated when not given) is added to the order's ``tags`` as client token: when
        the answer is lost (time-out, broken connection, 5xx) the order is looked up by that tag
        (E26) and returned if UP42 created it, else the request is sent once more. Pass a tag
        that is stable across Airflow task retries together with ``reuse_existing=True`` to get
        the order a previous try placed instead of a second one.
        """
        body = self._order_body(order_parameters)
        if tag is not None and (not isinstance(tag, str) or not tag.strip()):
            raise ValueError("tag must be a non-empty string")
        known_ids: set[str] = set()
        if tag is None:
            tag = f"airflow-{uuid.uuid4()}"
        else:
            known = self.get_orders(tags=[tag], limit=PAGE_SIZE)
            if reuse_existing and known:
                self.log.info("Order with tag %r exists already: %s", tag, known[0].get("id"))
                return known[0]
            known_ids = {o.get("id") for o in known}
        body = P.with_tag(body, tag)

        def create() -> dict[str, Any]:
            data = self._call(V1.create_order, json=body) or {}
            if not data.get("id"):
                raise UP42Error(f"Order was not placed: {data}", method="POST", path=V1.create_order.path)
            return self.get_order(data["id"])

        def find() -> dict[str, Any] | None:
            return next(
                (o for o in self.get_orders(tags=[tag], limit=PAGE_SIZE) if o.get("id") not in known_ids),
                None,
            )

        return self._create_once(f"place order tagged {tag!r}", create, find)

    def get_order(self, order_id: str) -> dict[str, Any]:
        """E25: the order (``status``, ``assets``, ...)."""
        return self._call(V1.get_order, order_id=_require_id(order_id, "order_id"))

    async def aget_order(self, order_id: str) -> dict[str, Any]:
        """E25, async (for triggers)."""
        client = await self.aget_client()
        return await client.call(V1.get_order, order_id=_require_id(order_id, "order_id"))

    def iter_orders(
        self,
        *,
        order_type: str | None = None,
        tags: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """E26 (P3): the workspace's orders, newest first by default."""
        params: dict[str, Any] = {"format": "paginated", "sort": _sort(sortby, descending, ORDER_SORT_FIELDS)}
        if order_type is not None:
            params["type"] = _choices(order_type, ORDER_TYPES, "order_type")[0]  # type: ignore[index]
        if tags is not None:
            params["tags"] = _strings(tags)
        params["size"] = PAGE_SIZE

        def fetch(page: int | None) -> Any:
            return self._call(V1.get_orders, params=params if page is None else {**params, "page": page})

        return spring_pages(fetch, first_page_param=False)

    def get_orders(
        self,
        *,
        order_type: str | None = None,
        tags: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        return _take(
            self.iter_orders(order_type=order_type, tags=tags, sortby=sortby, descending=descending), limit
        )

    def get_order_assets(self, order_id: str) -> list[dict[str, Any]]:
        """E25 then E32 per asset; raises if the order is not fulfilled yet."""
        order = self.get_order(order_id)
        if order.get("status") != "FULFILLED":
            raise ValueError(f"Order {order_id} is {order.get('status')}, not FULFILLED: wait for it first")
        return [self.get_asset(asset_id) for asset_id in order.get("assets") or []]

    # ------------------------------------------------------------------------------------ tasking

    def _iter_tasking(
        self,
        endpoint: Any,
        allowed_decisions: Sequence[str],
        *,
        item_id: str | None,
        workspace_id: str | None,
        order_id: str | None,
        decision: str | Iterable[str] | None,
        sortby: str,
        descending: bool,
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"sort": f"{sortby},{'desc' if descending else 'asc'}"}
        if item_id is not None:
            params["id"] = item_id
        if workspace_id is not None:
            params["workspaceId"] = workspace_id
        if order_id is not None:
            params["orderId"] = order_id
        decisions = _choices(decision, allowed_decisions, "decision")
        if decisions:
            params["decision"] = decisions

        def fetch(page: int | None) -> Any:
            return self._call(endpoint, params={"page": page, **params})

        return spring_pages(fetch, first_page_param=True)

    def iter_quotations(
        self,
        quotation_id: str | None = None,
        workspace_id: str | None = None,
        order_id: str | None = None,
        decision: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """E27 (P4): tasking quotations."""
        return self._iter_tasking(
            V1.get_quotations,
            QUOTATION_DECISIONS,
            item_id=quotation_id,
            workspace_id=workspace_id,
            order_id=order_id,
            decision=decision,
            sortby=sortby,
            descending=descending,
        )

    def get_quotations(self, *args: Any, limit: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        return _take(self.iter_quotations(*args, **kwargs), limit)

    def decide_quotation(self, quotation_id: str, decision: str) -> dict[str, Any]:
        """E28: accept or reject a quotation (only undecided ones)."""
        if decision not in ("ACCEPTED", "REJECTED"):
            raise ValueError(f"decision must be ACCEPTED or REJECTED, got {decision!r}")
        return self._call(
            V1.decide_quotation,
            json={"decision": decision},
            quotation_id=_require_id(quotation_id, "quotation_id"),
        )

    def iter_feasibility(
        self,
        feasibility_id: str | None = None,
        workspace_id: str | None = None,
        order_id: str | None = None,
        decision: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """E29 (P4): feasibility studies."""
        return self._iter_tasking(
            V1.get_feasibility,
            FEASIBILITY_DECISIONS,
            item_id=feasibility_id,
            workspace_id=workspace_id,
            order_id=order_id,
            decision=decision,
            sortby=sortby,
            descending=descending,
        )

    def get_feasibility(self, *args: Any, limit: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        return _take(self.iter_feasibility(*args, **kwargs), limit)

    def choose_feasibility(self, feasibility_id: str, accepted_option_id: str) -> dict[str, Any]:
        """E30: accept one option of an undecided feasibility study."""
        return self._call(
            V1.choose_feasibility,
            json={"acceptedOptionId": _require_id(accepted_option_id, "accepted_option_id")},
            feasibility_id=_require_id(feasibility_id, "feasibility_id"),
        )

    # ------------------------------------------------------------------------------------ storage

    def iter_assets(
        self,
        *,
        created_after: P.TimeInput | None = None,
        created_before: P.TimeInput | None = None,
        acquired_after: P.TimeInput | None = None,
        acquired_before: P.TimeInput | None = None,
        geometry: Any = None,
        workspace_id: str | None = None,
        collection_names: str | Iterable[str] | None = None,
        producer_names: str | Iterable[str] | None = None,
        tags: str | Iterable[str] | None = None,
        sources: str | Iterable[str] | None = None,
        search: str | None = None,
        custom_filter: Mapping[str, Any] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """E31 (P3), filtered by E35 storage STAC search when acquisition, geometry or a CQL2
        ``custom_filter`` is given (as up42-py's ``Storage.get_assets``)."""
        params: dict[str, Any] = {"sort": f"{sortby},{'desc' if descending else 'asc'}"}
        if created_before is not None:
            params["createdBefore"] = P.format_timestamp(created_before, field="created_before")
        if created_after is not None:
            params["createdAfter"] = P.format_timestamp(created_after, field="created_after")
        if workspace_id is not None:
            params["workspaceId"] = workspace_id
        if collection_names is not None:
            params["collectionNames"] = ",".join(_strings(collection_names) or [])
        if producer_names is not None:
            params["producerNames"] = ",".join(_strings(producer_names) or [])
        if tags is not None:
            params["tags"] = _strings(tags)
        if sources is not None:
            params["sources"] = ",".join(_choices(sources, ASSET_SOURCES, "sources") or [])
        if search is not None:
            params["search"] = search
        params["size"] = PAGE_SIZE
        stac_ids: set[str] | None = None
        if any(v is not None for v in (acquired_after, acquired_before, geometry, custom_filter)):
            body = self.storage_stac_search_parameters(
                acquired_after=acquired_after,
                acquired_before=acquired_before,
                geometry=geometry,
                custom_filter=custom_filter,
            )
            stac_ids = {
                f.get("properties", {}).get("up42-system:asset_id") for f in self.iter_storage_stac(body)
            }

        def fetch(page: int | None) -> Any:
            return self._call(V1.get_assets, params=params if page is None else {**params, "page": page})

        items = spring_pages(fetch, first_page_param=False)
        if stac_ids is None:
            return items
        return (a for a in items if a.get("id") in stac_ids)

    def get_assets(self, *, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """E31 (+E35): see :meth:`iter_assets` for the filters."""
        return _take(self.iter_assets(**filters), limit)

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        """E32: asset metadata."""
        return self._call(V1.get_asset, asset_id=_require_id(asset_id, "asset_id"))

    def update_asset_metadata(
        self, asset_id: str, title: str | None = None, tags: Sequence[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """E33: both ``title`` and ``tags`` are always sent (``None`` when not given), as up42-py does."""
        body = {"title": title, "tags": _strings(tags), **kwargs}
        return self._call(V1.update_asset_metadata, json=body, asset_id=_require_id(asset_id, "asset_id"))

    def get_asset_download_url(self, asset_id: str) -> str:
        """E34: a short-lived signed URL of the asset archive."""
        data = (
            self._call(V1.get_asset_download_url, json={}, asset_id=_require_id(asset_id, "asset_id")) or {}
        )
        return data["url"]

    @staticmethod
    def storage_stac_search_parameters(
        *,
        acquired_after: P.TimeInput | None = None,
        acquired_before: P.TimeInput | None = None,
        geometry: Any = None,
        custom_filter: Mapping[str, Any] | None = None,
        limit: int = STORAGE_STAC_LIMIT,
    ) -> dict[str, Any]:
        """The E35 body of up42-py's ``Storage.get_assets``."""
        after = (
            P.format_timestamp(acquired_after, field="acquired_after") if acquired_after is not None else None
        )
        before = (
            P.format_timestamp(acquired_before, field="acquired_before")
            if acquired_before is not None
            else None
        )
        if after and before and after > before:
            raise ValueError(f"acquired_after {after} is after acquired_before {before}: swap them")
        body: dict[str, Any] = {"max_items": 100, "limit": limit}
        if geometry is not None:
            body["intersects"] = to_polygon_geojson(geometry)
        if custom_filter is not None:
            if not isinstance(custom_filter, Mapping):
                raise ValueError("custom_filter must be a CQL2-JSON dict, e.g. {'op': '=', 'args': [...]}")
            body["filter"] = dict(custom_filter)
        body["datetime"] = f"{after or '..'}/{before or '..'}" if (after or before) else None
        return body

    def iter_storage_stac(
        self, search_parameters: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """E35 (P6): storage STAC items; follows the ``next`` link's ``body.token``."""
        body = copy.deepcopy(dict(search_parameters or {}))
        if body.get("intersects") is not None:
            body["intersects"] = to_polygon_geojson(body["intersects"])
        return self._stac_pages(body)

    def _stac_pages(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        tokens: set[Any] = set()
        while True:
            page = self._call(V1.search_storage_stac, json=body) or {}
            features = page.get("features") or []
            yield from features
            link = next_link(page.get("links"))
            token = ((link or {}).get("body") or {}).get("token")
            if not features or token is None or token in tokens:
                return
            tokens.add(token)
            body = {**body, "token": token}

    def search_storage_stac(
        self, search_parameters: Mapping[str, Any] | None = None, *, limit: int | None = STORAGE_STAC_LIMIT
    ) -> dict[str, Any]:
        """E35: a FeatureCollection of the storage STAC items matching the search."""
        return {
            "type": "FeatureCollection",
            "features": _take(self.iter_storage_stac(search_parameters), limit),
        }

    def get_asset_stac_info(self, asset_id: str) -> dict[str, Any]:
        """E35 filtered on one asset (up42-py's ``Asset.stac_info``; one page, without links)."""
        body = {
            "max_items": 50,
            "limit": 50,
            "filter": {"op": "=", "args": [{"property": "asset_id"}, _require_id(asset_id, "asset_id")]},
        }
        page = dict(self._call(V1.search_storage_stac, json=body) or {})
        page.pop("links", None)
        return page

    def get_storage_stac_root(self) -> dict[str, Any]:
        """E36: the storage STAC API landing page."""
        return self._call(V1.get_storage_stac_root)

    def stac_client(self) -> Any:
        """A ``pystac_client.Client`` on the storage STAC API (E36), authorised with the hook's token."""
        import pystac_client

        client = self.get_conn()
        bearer = getattr(client, "bearer_token", None)
        token = bearer() if callable(bearer) else client._token().value
        url = f"{client.settings.base_url}{V1.get_storage_stac_root.path}"
        return pystac_client.Client.open(url, headers={"Authorization": f"Bearer {token}"})

    # ---------------------------------------------------------------------------------- workflows

    def get_workflows(self) -> list[dict[str, Any]]:
        """E37: the project's workflows."""
        return self._call(V1.get_workflows) or []

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        """E39."""
        return self._call(V1.get_workflow, workflow_id=_require_id(workflow_id, "workflow_id"))

    def create_workflow(self, name: str, description: str = "", use_existing: bool = True) -> dict[str, Any]:
        """E37 (lookup by name and description), E38, E39; idempotent after a lost answer."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a workflow needs a name")
        description = description or ""

        def matches() -> list[dict[str, Any]]:
            return [
                w
                for w in self.get_workflows()
                if w.get("name") == name and (w.get("description") or "") == description
            ]

        known = matches()
        if use_existing and known:
            self.log.info("Using existing workflow %s (%s)", name, known[0].get("id"))
            return self.get_workflow(known[0]["id"])
        known_ids = {w.get("id") for w in known}

        def create() -> dict[str, Any]:
            data = self._call(V1.create_workflow, json={"name": name, "description": description}) or {}
            return self.get_workflow(data["id"])

        def find() -> dict[str, Any] | None:
            match = next((w for w in matches() if w.get("id") not in known_ids), None)
            return self.get_workflow(match["id"]) if match else None

        return self._create_once(f"create workflow {name!r}", create, find)

    def update_workflow(
        self, workflow_id: str, name: str | None = None, description: str | None = None
    ) -> None:
        """E40: both keys are always sent (``None`` when not given), as up42-py does."""
        self._call(
            V1.update_workflow,
            json={"name": name, "description": description},
            workflow_id=_require_id(workflow_id, "workflow_id"),
        )

    def delete_workflow(self, workflow_id: str) -> None:
        """E41."""
        self._call(V1.delete_workflow, workflow_id=_require_id(workflow_id, "workflow_id"))

    def get_workflow_tasks(self, workflow_id: str) -> list[dict[str, Any]]:
        """E42: the ordered task list (the first task is the data block)."""
        return self._call(V1.get_workflow_tasks, workflow_id=_require_id(workflow_id, "workflow_id")) or []

    def add_workflow_tasks(
        self, workflow_id: str, input_tasks: Sequence[str | Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """E43 (after E05 for block names): replace the workflow's tasks with a linear chain.

        ``input_tasks`` are block names, ids or display names (resolved via E05, public blocks
        only), or full task definitions ``{"name", "parentName", "blockId"}``. Returns what was sent.
        """
        _require_id(workflow_id, "workflow_id")
        if not input_tasks:
            raise ValueError("input_tasks is empty: give at least the data block")
        if all(isinstance(t, Mapping) for t in input_tasks):
            tasks = [dict(t) for t in input_tasks]  # type: ignore[arg-type]
        elif all(isinstance(t, str) for t in input_tasks):
            blocks = self.get_blocks()
            lookup: dict[str, dict[str, Any]] = {}
            for block in blocks:
                for key in (block.get("id"), block.get("name"), block.get("displayName")):
                    if key:
                        lookup.setdefault(key, block)
            tasks = []
            counts: dict[str, int] = {}
            parent: str | None = None
            for ref in input_tasks:
                block = lookup.get(ref)  # type: ignore[arg-type]
                if block is None:
                    raise ValueError(f"block {ref!r} is not a public UP42 block name, id or display name")
                counts[block["name"]] = counts.get(block["name"], 0) + 1
                task_name = f"{block['name']}:{counts[block['name']]}"
                tasks.append({"name": task_name, "parentName": parent, "blockId": block["id"]})
                parent = task_name
        else:
            raise ValueError("input_tasks must be all block names/ids or all task definition dicts")
        self._call(V1.set_workflow_tasks, json=tasks, workflow_id=workflow_id)
        return tasks

    def get_compatible_blocks(self, workflow_id: str) -> dict[str, str]:
        """E42 then E44 (or E05 data blocks for an empty workflow): ``{block name: block id}``."""
        tasks = self.get_workflow_tasks(workflow_id)
        if not tasks:
            return {b["name"]: b["id"] for b in self.get_blocks(block_type="DATA")}
        data = (
            self._call(
                V1.get_compatible_blocks,
                params={"parentTaskName": tasks[-1]["name"]},
                workflow_id=workflow_id,
            )
            or {}
        )
        return {b["name"]: b["blockId"] for b in data.get("blocks") or []}

    def get_parameters_info(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """E42: ``{task name: block parameter specs}``."""
        return {
            t["name"]: (t.get("block") or {}).get("parameters") or {}
            for t in self.get_workflow_tasks(workflow_id)
        }

    def construct_job_parameters(self, workflow_id: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
        """E42 + :func:`~up42_provider.utils.parameters.job_parameters` (same keyword arguments)."""
        return P.job_parameters(self.get_workflow_tasks(workflow_id), **kwargs)

    def construct_job_parameters_parallel(
        self, workflow_id: str, **kwargs: Any
    ) -> list[dict[str, dict[str, Any]]]:
        """E42 + :func:`~up42_provider.utils.parameters.job_parameters_parallel`."""
        return P.job_parameters_parallel(self.get_workflow_tasks(workflow_id), **kwargs)

    def estimate_job(self, workflow_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """E42 (+E05 when a task lacks its block id), then E45: per-task credit/duration estimates."""
        tasks = self.get_workflow_tasks(workflow_id)
        if not tasks:
            raise ValueError(f"workflow {workflow_id} has no tasks to estimate")
        blocks: dict[str, str] | None = None
        body_tasks = []
        parent: str | None = None
        for task in tasks:
            block = task.get("block") or {}
            block_id = block.get("id")
            if not block_id:
                if blocks is None:
                    blocks = {b["name"]: b["id"] for b in self.get_blocks()}
                block_id = blocks.get(task.get("blockName") or task["name"].split(":")[0])
            body_tasks.append(
                {
                    "name": task["name"],
                    "parentName": parent,
                    "blockId": block_id,
                    "blockVersionTag": task.get("blockVersionTag") or block.get("version"),
                }
            )
            parent = task["name"]
        body = {"tasks": body_tasks, "inputs": self._job_inputs(inputs, dry_run=False)}
        return self._call(V1.estimate_job, json=body)

    # --------------------------------------------------------------------------------------- jobs

    @staticmethod
    def _job_inputs(inputs: Mapping[str, Any] | str | os.PathLike[str], *, dry_run: bool) -> dict[str, Any]:
        if isinstance(inputs, (str, os.PathLike)):
            path = Path(inputs)
            if not path.is_file():
                raise ValueError(f"job inputs {str(path)!r} are neither a dict nor an existing JSON file")
            inputs = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(inputs, Mapping) or not inputs:
            raise ValueError("job inputs must be a non-empty dict keyed by workflow task name")
        result = P.with_job_mode(inputs, dry_run=dry_run)
        for task, values in result.items():
            if task == "config" or not isinstance(values, dict):
                continue
            for key in ("intersects", "contains"):
                if isinstance(values.get(key), Mapping):
                    values[key] = to_polygon_geojson(values[key])
        return result

    def run_job(
        self,
        workflow_id: str,
        inputs: Mapping[str, Any] | str | os.PathLike[str],
        *,
        name: str,
        dry_run: bool = False,
        reuse_existing: bool = False,
    ) -> dict[str, Any]:
        """E46 then E48: create and start a job, idempotently by its ``name``.

        The job list (E47, newest first, a few pages) is read before creating; after a lost answer
        a job of this workflow with this name that was not there before is returned instead of
        creating a second one. Make ``name`` unique per logical job (e.g. include the run id);
        ``reuse_existing=True`` returns the newest existing job of that name without creating.
        ``dry_run`` creates a free test job (``"config": {"mode": "DRY_RUN"}``).
        """
        _require_id(workflow_id, "workflow_id")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("run_job needs a job name (its idempotency key)")
        body = self._job_inputs(inputs, dry_run=dry_run)

        def matches() -> list[dict[str, Any]]:
            pages = itertools.islice(self.iter_jobs(), JOB_LOOKUP_PAGES * 100)
            return [j for j in pages if j.get("name") == name and j.get("workflowId") == workflow_id]

        known = matches()
        if reuse_existing and known:
            self.log.info("Job %r exists already: %s", name, known[0].get("id"))
            return self.get_job(known[0]["id"])
        known_ids = {j.get("id") for j in known}

        def create() -> dict[str, Any]:
            data = self._call(V1.create_job, params={"name": name}, json=body, workflow_id=workflow_id) or {}
            if not data.get("id"):
                raise UP42Error(f"Job was not created: {data}", method="POST", path=V1.create_job.path)
            return self.get_job(data["id"])

        def find() -> dict[str, Any] | None:
            match = next((j for j in matches() if j.get("id") not in known_ids), None)
            return self.get_job(match["id"]) if match else None

        return self._create_once(f"create job {name!r}", create, find)

    def get_job(self, job_id: str) -> dict[str, Any]:
        """E48: the job (``status``, ``mode``, ...)."""
        return self._call(V1.get_job, job_id=_require_id(job_id, "job_id"))

    async def aget_job(self, job_id: str) -> dict[str, Any]:
        """E48, async (for triggers)."""
        client = await self.aget_client()
        return await client.call(V1.get_job, job_id=_require_id(job_id, "job_id"))

    def iter_jobs(
        self,
        *,
        sortby: str = "createdAt",
        descending: bool = True,
        test_jobs: bool = True,
        real_jobs: bool = True,
        workflow_id: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """E47 (P2): the project's jobs, newest first by default; ``test_jobs``/``real_jobs`` filter
        on ``mode`` (DRY_RUN / DEFAULT) and ``workflow_id`` on the job's workflow, client-side."""
        sort = _sort(sortby, descending, JOB_SORT_FIELDS)
        modes = {m for m, wanted in (("DRY_RUN", test_jobs), ("DEFAULT", real_jobs)) if wanted}

        def fetch(page: int) -> Any:
            return self._call(V1.get_jobs, params={"page": page, "sort": sort})

        return (
            j
            for j in list_pages(fetch)
            if j.get("mode", "DEFAULT") in modes
            and (workflow_id is None or j.get("workflowId") == workflow_id)
        )

    def get_jobs(self, *, limit: int | None = 500, **filters: Any) -> list[dict[str, Any]]:
        """E47: up to ``limit`` jobs (default 500, as up42-py); see :meth:`iter_jobs`."""
        return _take(self.iter_jobs(**filters), limit)

    def cancel_job(self, job_id: str) -> None:
        """E49: cancel a pending or running job (it goes CANCELLING, then CANCELLED)."""
        self._call(V1.cancel_job, json={}, job_id=_require_id(job_id, "job_id"))

    def get_job_tasks(self, job_id: str) -> list[dict[str, Any]]:
        """E53: the job's tasks, in workflow order."""
        return self._call(V1.get_job_tasks, job_id=_require_id(job_id, "job_id")) or []

    async def aget_job_tasks(self, job_id: str) -> list[dict[str, Any]]:
        """E53, async."""
        client = await self.aget_client()
        return await client.call(V1.get_job_tasks, job_id=_require_id(job_id, "job_id")) or []

    def get_job_task(self, job_id: str, job_task_id: str) -> dict[str, Any]:
        """E53, picking one task by id."""
        for task in self.get_job_tasks(job_id):
            if task.get("id") == job_task_id:
                return task
        raise UP42NotFoundError(
            f"job {job_id} has no task {job_task_id}", status=404, method="GET", path=V1.get_job_tasks.path
        )

    def get_job_task_logs(self, job_id: str, job_task_id: str) -> str:
        """E54: the task's plain-text log."""
        return self._call(
            V1.get_job_task_logs,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
        )

    async def aget_job_task_logs(self, job_id: str, job_task_id: str) -> str:
        """E54, async."""
        client = await self.aget_client()
        return await client.call(
            V1.get_job_task_logs,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
        )

    def get_job_logs(self, job_id: str) -> dict[str, str]:
        """E53 then E54 per task: ``{job task id: log}``."""
        return {t["id"]: self.get_job_task_logs(job_id, t["id"]) for t in self.get_job_tasks(job_id)}

    def get_job_results_json(self, job_id: str) -> dict[str, Any]:
        """E50: the job's final ``data.json`` FeatureCollection."""
        return self._call(V1.get_job_results_json, job_id=_require_id(job_id, "job_id"))

    def get_job_task_results_json(self, job_id: str, job_task_id: str) -> dict[str, Any]:
        """E55: one task's ``data.json``."""
        return self._call(
            V1.get_job_task_results_json,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
        )

    def get_job_tasks_results_json(self, job_id: str) -> dict[str, dict[str, Any]]:
        """E53 then E55 per task: ``{job task id: data.json}``."""
        return {t["id"]: self.get_job_task_results_json(job_id, t["id"]) for t in self.get_job_tasks(job_id)}

    def get_job_results_url(self, job_id: str) -> str:
        """E51: signed URL of the job's result archive (.tgz)."""
        return (self._call(V1.get_job_results_url, job_id=_require_id(job_id, "job_id")) or {})["url"]

    def get_job_task_results_url(self, job_id: str, job_task_id: str) -> str:
        """E56: signed URL of one task's result archive."""
        data = self._call(
            V1.get_job_task_results_url,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
        )
        return (data or {})["url"]

    def get_job_task_quicklooks(self, job_id: str, job_task_id: str) -> list[str]:
        """E57: the task's quicklook ids (file names with extension)."""
        return (
            self._call(
                V1.get_job_task_quicklooks,
                job_id=_require_id(job_id, "job_id"),
                jobtask_id=_require_id(job_task_id, "job_task_id"),
            )
            or []
        )

    def download_job_task_quicklook(self, job_id: str, job_task_id: str, quicklook_id: str) -> bytes:
        """E58: one quicklook image (PNG/JPEG bytes)."""
        return self._call(
            V1.get_job_task_quicklook,
            job_id=_require_id(job_id, "job_id"),
            jobtask_id=_require_id(job_task_id, "job_task_id"),
            quicklook_id=_require_id(quicklook_id, "quicklook_id"),
        )

    def get_job_credits(self, job_id: str) -> dict[str, Any]:
        """E52: ``{"creditsUsed": n, ...}``."""
        return self._call(V1.get_job_credits, job_id=_require_id(job_id, "job_id"))
