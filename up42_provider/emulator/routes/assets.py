"""Storage: assets (E31-E34) and the storage STAC API (E35, E36 and the generic STAC API below it).

An asset is the delivery of a fulfilled order: one ZIP archive (a blob registered as ``asset:<id>``)
plus one STAC item in a per-order STAC collection. Orders create assets through
:meth:`AssetStore.create`; an asset stays invisible until the order publishes it on fulfilment, and
the order waits for the archive to be built so that ``size`` is exact from the first listing on.

Behaviour where API.md is silent (our assumptions):

* E31 ``tags`` (repeated) matches assets carrying **any** of the given tags; ``search`` is a
  case-insensitive substring match on name, title and order id; ``collectionNames``,
  ``producerNames`` and ``sources`` match any listed value; unknown ``sources`` values are a 400.
  ``size`` defaults to 50 and is silently capped at 2000; timestamps bounds are exclusive.
  New assets inherit the tags of their order (so a client tag finds the order's assets too).
* E33: ``null`` (or a missing key) **keeps** the current value (the SDK always sends both keys,
  so clearing on ``null`` would wipe the title whenever only tags are updated). ``"tags": []``
  clears the tags. Keys other than ``title``/``tags`` are kept in a ``metadata`` object that
  appears on the asset once such keys were sent (``null`` keeps those too).
* The archive is built when the order starts delivering (not lazily at the first download), in a
  worker thread; that is the price of an exact ``size`` (also with ``asset_size_mb`` padding).
* ``GET /v2/assets/{asset_id}`` (the STAC items' ``assets.data.href``) answers 307 to a fresh
  signed URL of the archive.
* E35 and the STAC API: page size is ``limit`` (default 10) capped at 100; the default order is
  the one the real next link advertises (``bbox`` descending, then item id). The ``next`` token is
  self-contained (it carries the whole search), so following the next link with only its body
  (what pystac-client does) or the original body plus the token (what the SDK does) both work.
  CQL2-JSON supports ``=, <>, <, <=, >, >=`` (also spelled ``eq, neq, lt, lte, gt, gte``),
  ``and, or, not, like, in, between, isNull, s_intersects``; property ``asset_id`` (and
  ``workspace_id``) mean ``up42-system:asset_id`` (``up42-system:workspace_id``). A malformed
  filter, datetime, geometry or token is a 400 problem titled ``Bad request``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from up42_provider.emulator.clock import iso, parse_iso
from up42_provider.emulator.http import (
    ApiError,
    bare,
    base_url,
    json_body,
    query_int,
    query_list,
    query_sort,
    query_time,
    route,
    spring_page,
)
from up42_provider.emulator.state import EmulatorState

log = logging.getLogger("up42_provider.emulator.assets")

NOT_FOUND = "Resource does not exist."
BAD_REQUEST = "Bad request"
SOURCES = ("ARCHIVE", "TASKING", "ANALYTICS", "USER")
SORT_FIELDS = (
    "createdAt",
    "updatedAt",
    "size",
    "name",
    "title",
    "source",
    "collectionName",
    "producerName",
    "id",
)
LIST_DEFAULT_SIZE = 50
LIST_MAX_SIZE = 2000
STAC_DEFAULT_LIMIT = 10
STAC_MAX_PAGE = 100
STAC_MAX_LIMIT = 10_000
DEFAULT_SORTBY = [{"field": "bbox", "direction": "desc"}]
STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
    "https://api.up42.com/stac-extensions/up42-product/v1.0.0/schema.json",
]
CONFORMS_TO = [
    "https://api.stacspec.org/v1.0.0-rc.1/core",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#filter",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#filter:basic-cql",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#filter:cql-text",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#sort",
    "https://api.stacspec.org/v1.0.0-rc.1/collections",
    "https://api.stacspec.org/v1.0.0-rc.1/ogcapi-features",
    "https://api.stacspec.org/v1.0.0-rc.1/ogcapi-features/extensions/transaction",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/simpletx",
]
# Platform names by collection when the scene does not say (STAC ``platform``).
_PLATFORMS = {
    "phr": "PHR-1A",
    "pneo": "PNEO-3",
    "spot": "SPOT-7",
    "sentinel-2": "SENTINEL-2A",
    "capella-space": "CAPELLA",
}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, title=BAD_REQUEST)


# -- records --------------------------------------------------------------------------------------


@dataclass
class AssetRecord:
    """One asset: its public object, its STAC item (hrefs added per request) and build progress."""

    asset: dict[str, Any]
    item: dict[str, Any]
    collection_id: str
    blob_key: str
    visible: bool = False
    ready: bool = False
    error: str | None = None
    built_at: datetime | None = None


@dataclass
class StacCollection:
    id: str
    order_id: str
    title: str
    description: str
    created_at: datetime
    asset_ids: list[str] = field(default_factory=list)


def _utc_iso(ts: datetime) -> str:
    """STAC datetime format as the real items show it (``2021-05-31T09:51:52.100000+00:00``)."""
    return ts.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    if isinstance(value, str) and value:
        try:
            return parse_iso(value)
        except ValueError:
            return None
    return None


def _archive_seed(config_seed: int, asset_id: str) -> int:
    return (config_seed * 1_000_003 + int(asset_id.replace("-", "")[:12], 16)) % (2**31)


class AssetStore:
    """All assets of the account (one workspace in the emulator) and their STAC view."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.records: dict[str, AssetRecord] = {}
        self.collections: dict[str, StacCollection] = {}
        self._collection_of_order: dict[str, str] = {}
        self._builds: set[concurrent.futures.Future[None]] = set()

    # -- creation (used by orders) ---------------------------------------------------------------
    def create(
        self,
        order: dict[str, Any],
        feature: dict[str, Any],
        *,
        aoi: dict[str, Any] | None = None,
        source: str = "ARCHIVE",
        collection_name: str | None = None,
        producer_name: str | None = None,
        host: str | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """Register the delivery of ``order`` for the scene ``feature`` (an E21-style feature).

        The archive starts building at once in a worker thread; the asset is invisible until
        :meth:`publish`. Returns the (live) asset object.
        """
        state = self._state
        props = feature.get("properties") or {}
        scene_id = str(props.get("id") or props.get("sceneId") or state.new_id())
        acquired = _as_datetime(props.get("acquisitionDate")) or state.clock.now()
        collection_name = collection_name or props.get("collection") or props.get("constellation") or ""
        producer_name = producer_name or props.get("producer") or props.get("providerName") or ""
        platform = str(
            props.get("platform")
            or (props.get("providerProperties") or {}).get("platform")
            or _PLATFORMS.get(collection_name, collection_name.upper())
        )
        footprint = _footprint(feature.get("geometry"), aoi)
        asset_id = state.new_id()
        name = f"{re.sub(r'[^A-Za-z0-9]+', '', platform)}_{acquired:%Y%m%dT%H%M%S}_{scene_id.split('-')[0]}"
        blob_key = f"asset:{asset_id}"
        now = state.clock.now()
        asset = {
            "id": asset_id,
            "accountId": state.config.account_id,
            "workspaceId": order["workspaceId"],
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "name": name,
            "title": title or name,
            "tags": list(order.get("tags") or []),
            "size": 0,
            "order": {
                "id": order["id"],
                "status": order.get("status", "BEING_FULFILLED"),
                "hostId": host or "",
            },
            "source": source,
            "productId": order.get("dataProductId"),
            "contentType": "application/zip",
            "producerName": producer_name,
            "collectionName": collection_name,
            "geospatialMetadataExtraction": "SUCCESSFUL",
        }
        with state.lock:
            collection_id = self._collection_for(order, now)
            item = {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": state.new_id(),
                "collection": collection_id,
                "stac_extensions": list(STAC_EXTENSIONS),
                "geometry": mapping(footprint) if footprint is not None else feature.get("geometry"),
                "bbox": list(footprint.bounds) if footprint is not None else feature.get("bbox"),
                "properties": {
                    "up42-system:asset_id": asset_id,
                    "up42-system:workspace_id": order["workspaceId"],
                    "datetime": _utc_iso(acquired),
                    "start_datetime": _utc_iso(acquired),
                    "end_datetime": _utc_iso(acquired),
                    "gsd": props.get("resolution"),
                    "platform": platform,
                    "proj:epsg": 4326,
                    "eo:cloud_cover": props.get("cloudCoverage"),
                    "up42-product:collection_name": collection_name,
                },
            }
            record = AssetRecord(asset, item, collection_id, blob_key)
            self.records[asset_id] = record
            self.collections[collection_id].asset_ids.append(asset_id)
        self._register_blob(record, feature, aoi or feature.get("geometry"))
        return asset

    def _collection_for(self, order: dict[str, Any], now: datetime) -> str:
        collection_id = self._collection_of_order.get(order["id"])
        if collection_id is None:
            collection_id = self._state.new_id()
            self._collection_of_order[order["id"]] = collection_id
            self.collections[collection_id] = StacCollection(
                id=collection_id,
                order_id=order["id"],
                title=f"Order {order['id']}",
                description=f"Delivery of order {order['id']} ({order.get('type', 'ARCHIVE').lower()})",
                created_at=now,
            )
        return collection_id

    def _register_blob(
        self, record: AssetRecord, feature: dict[str, Any], aoi: dict[str, Any] | None
    ) -> None:
        state = self._state
        seed = _archive_seed(state.config.seed, record.asset["id"])
        pad = int(state.config.asset_size_mb * 2**20)
        archive_feature = {**feature, "properties": dict(feature.get("properties") or {})}

        def build(path: Path) -> None:
            from up42_provider.emulator.media.products import write_order_archive

            write_order_archive(path, archive_feature, aoi, seed, pad_bytes=pad)

        state.blobs.register(record.blob_key, f"{record.asset['name']}.zip", "application/zip", build)
        loop = state.loop
        if loop is not None and not loop.is_closed():
            future = asyncio.run_coroutine_threadsafe(self._build(record), loop)
            self._builds.add(future)
            future.add_done_callback(self._builds.discard)
        else:  # no running app (library use): build inline
            asyncio.run(self._build(record))

    async def _build(self, record: AssetRecord) -> None:
        try:
            blob = await self._state.blobs.ensure(record.blob_key)
        except Exception as exc:  # the order fails when its delivery cannot be produced
            log.exception("building asset archive %s failed", record.blob_key)
            with self._state.lock:
                record.error = f"{type(exc).__name__}: {exc}"
            return
        with self._state.lock:
            record.asset["size"] = int(blob.size)
            record.ready = True
            record.built_at = self._state.clock.now()

    async def wait_for_builds(self, timeout: float = 60.0) -> None:
        """Shutdown hook: let running archive builds finish before the data directory goes away."""
        pending = [asyncio.wrap_future(f) for f in list(self._builds)]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # -- life cycle (used by orders) -------------------------------------------------------------
    def build_status(self, asset_id: str) -> str:
        """``building``, ``ready`` or ``failed``."""
        record = self.records[asset_id]
        if record.error:
            return "failed"
        return "ready" if record.ready else "building"

    def publish(self, asset_id: str, when: datetime, order_status: str = "FULFILLED") -> dict[str, Any]:
        """Make the asset visible (E31-E36), created at ``when``."""
        with self._state.lock:
            record = self.records[asset_id]
            record.asset["createdAt"] = record.asset["updatedAt"] = iso(when)
            record.asset["order"]["status"] = order_status
            record.visible = True
            return record.asset

    def discard(self, asset_id: str) -> None:
        """Forget an unpublished asset (its order failed)."""
        with self._state.lock:
            record = self.records.pop(asset_id, None)
            if record is not None:
                collection = self.collections.get(record.collection_id)
                if collection is not None and asset_id in collection.asset_ids:
                    collection.asset_ids.remove(asset_id)

    # -- queries ----------------------------------------------------------------------------------
    def visible(self) -> list[AssetRecord]:
        with self._state.lock:
            return [r for r in self.records.values() if r.visible]

    def get(self, asset_id: str) -> AssetRecord:
        with self._state.lock:
            record = self.records.get(asset_id)
        if record is None or not record.visible:
            raise ApiError(404, NOT_FOUND, title=NOT_FOUND)
        return record

    def visible_collections(self) -> list[StacCollection]:
        with self._state.lock:
            return [
                c
                for c in sorted(self.collections.values(), key=lambda c: (c.created_at, c.id))
                if any(self.records[a].visible for a in c.asset_ids if a in self.records)
            ]

    def collection_records(self, collection_id: str) -> list[AssetRecord]:
        with self._state.lock:
            collection = self.collections.get(collection_id)
            if collection is None:
                return []
            return [
                self.records[a] for a in collection.asset_ids if a in self.records and self.records[a].visible
            ]


def _footprint(geometry: dict[str, Any] | None, aoi: dict[str, Any] | None) -> BaseGeometry | None:
    """The delivered footprint: the scene clipped to the ordered AOI (the scene if they miss)."""
    try:
        scene = shape(geometry) if geometry else None
    except Exception:
        scene = None
    try:
        clip = shape(aoi) if aoi else None
    except Exception:
        clip = None
    if scene is None:
        return clip
    if clip is not None and clip.area > 0:
        part = scene.intersection(clip)
        if not part.is_empty and part.area > 0:
            return part
    return scene


# -- E31 listing ----------------------------------------------------------------------------------


def list_assets(store: AssetStore, request: Request) -> dict[str, Any]:
    field_name, descending = query_sort(request, SORT_FIELDS, "createdAt")
    before, after = query_time(request, "createdBefore"), query_time(request, "createdAfter")
    workspace = request.query_params.get("workspaceId")
    collections = set(query_list(request, "collectionNames"))
    producers = set(query_list(request, "producerNames"))
    tags = set(request.query_params.getlist("tags"))
    sources = {s.upper() for s in query_list(request, "sources")}
    unknown = sources - set(SOURCES)
    if unknown:
        raise bad_request(f"Unknown sources {sorted(unknown)}; expected any of {', '.join(SOURCES)}")
    search = (request.query_params.get("search") or "").strip().lower()
    page = query_int(request, "page", 0, minimum=0)
    size = min(query_int(request, "size", LIST_DEFAULT_SIZE, minimum=1), LIST_MAX_SIZE)

    def keep(a: dict[str, Any]) -> bool:
        created = parse_iso(a["createdAt"])
        return (
            (before is None or created < before)
            and (after is None or created > after)
            and (not workspace or a["workspaceId"] == workspace)
            and (not collections or a["collectionName"] in collections)
            and (not producers or a["producerName"] in producers)
            and (not tags or bool(tags & set(a.get("tags") or [])))
            and (not sources or a["source"] in sources)
            and (
                not search
                or search in (a.get("name") or "").lower()
                or search in (a.get("title") or "").lower()
                or search in a["order"]["id"].lower()
            )
        )

    assets = [r.asset for r in store.visible() if keep(r.asset)]
    assets.sort(key=lambda a: a["id"])
    assets.sort(key=lambda a: _sort_value(a.get(field_name)), reverse=descending)
    return spring_page([dict(a) for a in assets], page, size, sort_field=field_name)


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.lower())
    return (1, value)


# -- E33 ------------------------------------------------------------------------------------------


def update_metadata(store: AssetStore, record: AssetRecord, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    title, tags = body.get("title"), body.get("tags")
    if title is not None and not isinstance(title, str):
        raise bad_request("'title' must be a string or null")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise bad_request("'tags' must be a list of strings or null")
    extra = {k: v for k, v in body.items() if k not in ("title", "tags") and v is not None}
    state = store._state
    with state.lock:
        asset = record.asset
        if title is not None:
            asset["title"] = title
        if tags is not None:
            asset["tags"] = list(dict.fromkeys(tags))
        if extra:
            asset.setdefault("metadata", {}).update(extra)
        asset["updatedAt"] = iso(state.clock.now())
        return dict(asset)


# -- STAC rendering -------------------------------------------------------------------------------


def stac_root(base: str) -> str:
    return f"{base}/v2/assets/stac"


def render_item(record: AssetRecord, base: str) -> dict[str, Any]:
    root = stac_root(base)
    item = json.loads(json.dumps(record.item))
    collection_href = f"{root}/collections/{record.collection_id}"
    item["assets"] = {"data": {"href": f"{base}/v2/assets/{record.asset['id']}"}}
    item["links"] = [
        {"href": f"{collection_href}/items/{item['id']}", "rel": "self", "type": "application/geo+json"},
        {"href": collection_href, "rel": "parent", "type": "application/json"},
        {"href": collection_href, "rel": "collection", "type": "application/json"},
        {"href": f"{root}/", "rel": "root", "type": "application/json"},
    ]
    return item


def render_collection(store: AssetStore, collection: StacCollection, base: str) -> dict[str, Any]:
    root = stac_root(base)
    records = store.collection_records(collection.id)
    bounds = [r.item["bbox"] for r in records if r.item.get("bbox")]
    bbox = (
        [
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        ]
        if bounds
        else [-180.0, -90.0, 180.0, 90.0]
    )
    times = sorted(r.item["properties"]["datetime"] for r in records)
    interval = [times[0], times[-1]] if times else [None, None]
    href = f"{root}/collections/{collection.id}"
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "license": "proprietary",
        "keywords": [],
        "providers": [],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [interval]}},
        "links": [
            {"href": href, "rel": "self", "type": "application/json"},
            {"href": f"{root}/", "rel": "parent", "type": "application/json"},
            {"href": f"{root}/", "rel": "root", "type": "application/json"},
            {"href": f"{href}/items", "rel": "items", "type": "application/geo+json"},
        ],
    }


def landing_page(base: str) -> dict[str, Any]:
    root = stac_root(base)
    return {
        "conformsTo": list(CONFORMS_TO),
        "links": [
            {"href": f"{root}/", "rel": "self", "type": "application/json"},
            {"href": f"{root}/", "rel": "root", "type": "application/json"},
            {"href": f"{root}/collections", "rel": "data", "type": "application/json"},
            {"href": f"{root}/search", "rel": "search", "type": "application/json", "method": "POST"},
        ],
        "stac_extensions": [],
        "title": "UP42 Storage",
        "description": "UP42 Storage STAC API",
        "stac_version": "1.0.0",
        "id": "up42-storage",
        "type": "Catalog",
    }


# -- STAC search ----------------------------------------------------------------------------------


@dataclass
class Search:
    """A parsed item search; serialisable into the self-contained next token."""

    params: dict[str, Any]
    limit: int
    offset: int = 0

    def token(self, offset: int) -> str:
        raw = json.dumps({"p": self.params, "l": self.limit, "o": offset}, separators=(",", ":")).encode()
        return "next:" + base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def decode_token(token: Any) -> Search:
    if not isinstance(token, str) or not token.startswith("next:"):
        raise bad_request("Invalid pagination token")
    text = token[len("next:") :]
    try:
        data = json.loads(zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))
        return Search(params=dict(data["p"]), limit=int(data["l"]), offset=int(data["o"]))
    except (ValueError, KeyError, TypeError, zlib.error):
        raise bad_request("Invalid pagination token") from None


def parse_search(body: dict[str, Any]) -> Search:
    """Validate a STAC search body (POST form; GET queries are converted to it first)."""
    if not isinstance(body, dict):
        raise bad_request("Search body must be a JSON object")
    if body.get("token"):
        return decode_token(body["token"])
    raw_limit = body.get("limit")
    if raw_limit is None:
        limit = STAC_DEFAULT_LIMIT
    else:
        try:
            limit = int(raw_limit)
        except (TypeError, ValueError):
            raise bad_request(f"'limit' must be an integer, got {raw_limit!r}") from None
        if not 1 <= limit <= STAC_MAX_LIMIT:
            raise bad_request(f"'limit' must be between 1 and {STAC_MAX_LIMIT}")
    params: dict[str, Any] = {}
    for key in ("collections", "ids"):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad_request(f"'{key}' must be a list of strings")
            params[key] = value
    if body.get("bbox") is not None:
        bbox = body["bbox"]
        if (
            not isinstance(bbox, list)
            or len(bbox) not in (4, 6)
            or not all(isinstance(v, (int, float)) for v in bbox)
        ):
            raise bad_request("'bbox' must be a list of 4 or 6 numbers")
        params["bbox"] = bbox
    if body.get("intersects") is not None:
        _geometry(body["intersects"], "intersects")
        params["intersects"] = body["intersects"]
    if body.get("datetime") not in (None, ""):
        _interval(body["datetime"])
        params["datetime"] = body["datetime"]
    flt = body.get("filter")
    if flt:
        lang = body.get("filter-lang") or body.get("filter_lang") or "cql2-json"
        if lang != "cql2-json":
            raise bad_request(f"Unsupported filter-lang '{lang}'")
        if not isinstance(flt, dict):
            raise bad_request("'filter' must be a CQL2-JSON object")
        compile_cql2(flt)
        params["filter"] = flt
    sortby = body.get("sortby")
    if sortby:
        params["sortby"] = _sortby(sortby)
    return Search(params=params, limit=limit)


def _geometry(value: Any, name: str) -> BaseGeometry:
    try:
        geom = shape(value)
    except Exception:
        raise bad_request(f"'{name}' is not a valid GeoJSON geometry") from None
    if geom.is_empty:
        raise bad_request(f"'{name}' is an empty geometry")
    return geom


def _interval(value: Any) -> tuple[datetime | None, datetime | None]:
    """STAC ``datetime``: an instant or ``start/end`` with ``..`` or empty for an open end."""
    if not isinstance(value, str):
        raise bad_request("'datetime' must be a string")
    try:
        if "/" in value:
            start, _, end = value.partition("/")
            low = None if start.strip() in ("", "..") else parse_iso(start)
            high = None if end.strip() in ("", "..") else parse_iso(end)
            if low is None and high is None:
                raise ValueError
            if low is not None and high is not None and low > high:
                raise ValueError
            return low, high
        instant = parse_iso(value)
        return instant, instant
    except ValueError:
        raise bad_request(f"Invalid datetime interval '{value}'") from None


def _sortby(value: Any) -> list[dict[str, str]]:
    """POST form ``[{"field", "direction"}]`` or GET form ``"-properties.datetime,+id"``."""
    if isinstance(value, str):
        value = [
            {"field": part.lstrip("+-"), "direction": "desc" if part.startswith("-") else "asc"}
            for part in (p.strip() for p in value.split(","))
            if part
        ]
    if not isinstance(value, list):
        raise bad_request("'sortby' must be a list")
    result = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
            raise bad_request("'sortby' entries need a 'field'")
        direction = str(entry.get("direction", "asc")).lower()
        if direction not in ("asc", "desc"):
            raise bad_request(f"Invalid sort direction '{direction}'")
        result.append({"field": entry["field"], "direction": direction})
    return result


def run_search(
    store: AssetStore, search: Search, records: list[AssetRecord] | None = None
) -> tuple[list, bool]:
    """The page of records for ``search`` and whether more follow."""
    params = search.params
    candidates = store.visible() if records is None else records
    predicates: list[Callable[[dict[str, Any]], bool]] = []
    if params.get("collections"):
        wanted = set(params["collections"])
        predicates.append(lambda i: i["collection"] in wanted)
    if params.get("ids"):
        ids = set(params["ids"])
        predicates.append(lambda i: i["id"] in ids)
    if params.get("bbox"):
        b = params["bbox"]
        area = box(b[0], b[1], b[3], b[4]) if len(b) == 6 else box(*b)
        predicates.append(lambda i: _item_geometry(i).intersects(area))
    if params.get("intersects"):
        geom = shape(params["intersects"])
        predicates.append(lambda i: _item_geometry(i).intersects(geom))
    if params.get("datetime"):
        low, high = _interval(params["datetime"])
        predicates.append(lambda i: _in_interval(i, low, high))
    if params.get("filter"):
        predicates.append(compile_cql2(params["filter"]))
    matched = [r for r in candidates if all(p(r.item) for p in predicates)]
    matched.sort(key=lambda r: r.item["id"])
    for rule in reversed(params.get("sortby") or DEFAULT_SORTBY):
        matched.sort(
            key=lambda r, f=rule["field"]: _sort_value(_item_value(r.item, f)),
            reverse=rule["direction"] == "desc",
        )
    page_size = min(search.limit, STAC_MAX_PAGE)
    page = matched[search.offset : search.offset + page_size]
    return page, search.offset + page_size < len(matched)


def _item_geometry(item: dict[str, Any]) -> BaseGeometry:
    if item.get("geometry"):
        return shape(item["geometry"])
    return box(*item["bbox"])


def _in_interval(item: dict[str, Any], low: datetime | None, high: datetime | None) -> bool:
    props = item["properties"]
    start = _as_datetime(props.get("start_datetime") or props.get("datetime"))
    end = _as_datetime(props.get("end_datetime") or props.get("datetime"))
    if start is None or end is None:
        return False
    return (high is None or start <= high) and (low is None or end >= low)


_ALIASES = {"asset_id": "up42-system:asset_id", "workspace_id": "up42-system:workspace_id"}


def _item_value(item: dict[str, Any], name: str) -> Any:
    if name.startswith("properties."):
        name = name[len("properties.") :]
    if name in ("id", "collection", "bbox", "geometry"):
        return item.get(name)
    props = item["properties"]
    if name in props:
        return props[name]
    return props.get(_ALIASES.get(name, name))


# -- CQL2-JSON ------------------------------------------------------------------------------------

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_OP_ALIASES = {
    "eq": "=",
    "==": "=",
    "neq": "<>",
    "ne": "<>",
    "!=": "<>",
    "lt": "<",
    "lte": "<=",
    "le": "<=",
    "gt": ">",
    "gte": ">=",
    "ge": ">=",
}
_ISO_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")

Value = Callable[[dict[str, Any]], Any]


def compile_cql2(expr: Any) -> Callable[[dict[str, Any]], bool]:
    """Compile a CQL2-JSON boolean expression into a predicate over STAC items (400 if invalid)."""
    if isinstance(expr, bool):
        return lambda item: expr
    if not isinstance(expr, dict) or not isinstance(expr.get("op"), str):
        raise bad_request(f"Invalid CQL2 expression: {json.dumps(expr)[:200]}")
    lowered = expr["op"].lower()
    op = "isNull" if lowered == "isnull" else _OP_ALIASES.get(lowered, lowered)
    args = expr.get("args")
    if not isinstance(args, list):
        raise bad_request(f"CQL2 operator '{op}' needs an 'args' list")
    if op in ("and", "or"):
        if len(args) < 2:
            raise bad_request(f"CQL2 '{op}' needs at least two arguments")
        parts = [compile_cql2(a) for a in args]
        if op == "and":
            return lambda item: all(p(item) for p in parts)
        return lambda item: any(p(item) for p in parts)
    if op == "not":
        if len(args) != 1:
            raise bad_request("CQL2 'not' needs exactly one argument")
        inner = compile_cql2(args[0])
        return lambda item: not inner(item)
    if op in _COMPARISONS:
        if len(args) != 2:
            raise bad_request(f"CQL2 '{op}' needs exactly two arguments")
        left, right, compare = _value(args[0]), _value(args[1]), _COMPARISONS[op]
        return lambda item: _compare(compare, left(item), right(item))
    if op == "like":
        if len(args) != 2 or not isinstance(args[1], str):
            raise bad_request("CQL2 'like' needs a property and a pattern string")
        pattern = re.compile(
            "^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in args[1]) + "$",
            re.S,
        )
        subject = _value(args[0])
        return lambda item: isinstance(subject(item), str) and bool(pattern.match(subject(item)))
    if op == "in":
        if len(args) != 2 or not isinstance(args[1], list):
            raise bad_request("CQL2 'in' needs a property and a list")
        subject, options = _value(args[0]), [_value(a) for a in args[1]]
        return lambda item: any(_compare(_COMPARISONS["="], subject(item), o(item)) for o in options)
    if op == "between":
        if len(args) != 3:
            raise bad_request("CQL2 'between' needs three arguments")
        subject, low, high = (_value(a) for a in args)
        return lambda item: (
            _compare(_COMPARISONS[">="], subject(item), low(item))
            and _compare(_COMPARISONS["<="], subject(item), high(item))
        )
    if op == "isNull":
        if len(args) != 1:
            raise bad_request("CQL2 'isNull' needs one argument")
        subject = _value(args[0])
        return lambda item: subject(item) is None
    if op in ("s_intersects", "s_within", "s_contains"):
        if len(args) != 2:
            raise bad_request(f"CQL2 '{op}' needs two arguments")
        geom = _geometry(args[1], op)
        method = {"s_intersects": "intersects", "s_within": "within", "s_contains": "contains"}[op]
        return lambda item: getattr(_item_geometry(item), method)(geom)
    raise bad_request(f"Unsupported CQL2 operator '{expr['op']}'")


def _value(arg: Any) -> Value:
    if isinstance(arg, dict):
        if "property" in arg:
            name = str(arg["property"])
            return lambda item: _item_value(item, name)
        for key in ("timestamp", "date"):
            if key in arg:
                when = _as_datetime(arg[key])
                if when is None:
                    raise bad_request(f"Invalid CQL2 {key} {arg[key]!r}")
                return lambda item: when
        raise bad_request(f"Unsupported CQL2 value {json.dumps(arg)[:200]}")
    if isinstance(arg, list):
        values = [_value(a) for a in arg]
        return lambda item: [v(item) for v in values]
    return lambda item: arg


def _compare(compare: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    if (
        isinstance(left, datetime)
        or isinstance(right, datetime)
        or (
            isinstance(left, str)
            and isinstance(right, str)
            and _ISO_PREFIX.match(left)
            and _ISO_PREFIX.match(right)
        )
    ):
        left_dt, right_dt = _as_datetime(left), _as_datetime(right)
        if left_dt is not None and right_dt is not None:
            left, right = left_dt, right_dt
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    try:
        return bool(compare(left, right))
    except TypeError:
        return False


def search_page(
    store: AssetStore,
    search: Search,
    base: str,
    next_href: str,
    method: str,
    records: list[AssetRecord] | None = None,
) -> dict[str, Any]:
    page, more = run_search(store, search, records)
    links: list[dict[str, Any]] = [{"href": f"{stac_root(base)}/", "rel": "root", "type": "application/json"}]
    if more:
        token = search.token(search.offset + len(page))
        if method == "POST":
            body = {
                "sortby": search.params.get("sortby") or DEFAULT_SORTBY,
                "filter": search.params.get("filter") or {},
                "token": token,
            }
            links.append(
                {"href": next_href, "rel": "next", "type": "application/json", "body": body, "method": "POST"}
            )
        else:
            href = f"{next_href}?{urlencode({'token': token})}"
            links.append({"href": href, "rel": "next", "type": "application/geo+json", "method": "GET"})
    return {"links": links, "type": "FeatureCollection", "features": [render_item(r, base) for r in page]}


def _query_search(request: Request) -> dict[str, Any]:
    """A GET search's query string as a POST body."""
    q = request.query_params
    body: dict[str, Any] = {}
    if q.get("token"):
        body["token"] = q["token"]
    if q.get("limit"):
        body["limit"] = q["limit"]
    for key in ("collections", "ids"):
        if q.get(key):
            body[key] = query_list(request, key)
    if q.get("bbox"):
        try:
            body["bbox"] = [float(v) for v in q["bbox"].split(",")]
        except ValueError:
            raise bad_request("'bbox' must be comma-separated numbers") from None
    for key in ("intersects", "filter"):
        if q.get(key):
            try:
                body[key] = json.loads(q[key])
            except ValueError:
                raise bad_request(f"'{key}' must be JSON (only cql2-json filters are supported)") from None
    if q.get("datetime"):
        body["datetime"] = q["datetime"]
    if q.get("sortby"):
        body["sortby"] = q["sortby"]
    if q.get("filter-lang"):
        body["filter-lang"] = q["filter-lang"]
    return body


# -- routes ---------------------------------------------------------------------------------------


def install(state: EmulatorState) -> list[BaseRoute]:
    store = AssetStore(state)
    state.assets = store
    state.shutdown_hooks.append(store.wait_for_builds)

    async def get_assets(request: Request) -> Response:
        return bare(list_assets(store, request))

    async def get_metadata(request: Request) -> Response:
        record = store.get(request.path_params["asset_id"])
        with state.lock:
            return bare(dict(record.asset))

    async def post_metadata(request: Request) -> Response:
        record = store.get(request.path_params["asset_id"])
        return bare(update_metadata(store, record, await json_body(request, required=False)))

    async def download_url(request: Request) -> Response:
        record = store.get(request.path_params["asset_id"])
        await state.blobs.ensure(record.blob_key)
        return bare({"url": state.blobs.signed_url(base_url(request), record.blob_key)})

    async def download(request: Request) -> Response:
        """The STAC ``data`` asset href: redirect to a fresh signed URL of the archive."""
        record = store.get(request.path_params["asset_id"])
        await state.blobs.ensure(record.blob_key)
        return RedirectResponse(state.blobs.signed_url(base_url(request), record.blob_key), status_code=307)

    async def stac_landing(request: Request) -> Response:
        return bare(landing_page(base_url(request)))

    async def stac_search(request: Request) -> Response:
        base = base_url(request)
        if request.method == "POST":
            search = parse_search(await json_body(request, required=False))
        else:
            search = parse_search(_query_search(request))
        return bare(search_page(store, search, base, f"{stac_root(base)}/search", request.method))

    async def stac_collections(request: Request) -> Response:
        base = base_url(request)
        limit = query_int(request, "limit", STAC_DEFAULT_LIMIT, minimum=1, maximum=STAC_MAX_LIMIT)
        offset = query_int(request, "offset", 0, minimum=0)
        collections = store.visible_collections()
        page = collections[offset : offset + min(limit, STAC_MAX_PAGE)]
        root = stac_root(base)
        links = [
            {"href": f"{root}/", "rel": "root", "type": "application/json"},
            {"href": f"{root}/collections", "rel": "self", "type": "application/json"},
        ]
        if offset + len(page) < len(collections):
            query = urlencode({"limit": limit, "offset": offset + len(page)})
            links.append({"href": f"{root}/collections?{query}", "rel": "next", "type": "application/json"})
        return bare({"collections": [render_collection(store, c, base) for c in page], "links": links})

    def visible_collection(collection_id: str) -> StacCollection:
        for collection in store.visible_collections():
            if collection.id == collection_id:
                return collection
        raise ApiError(404, NOT_FOUND, title=NOT_FOUND)

    async def stac_collection(request: Request) -> Response:
        collection = visible_collection(request.path_params["collection_id"])
        return bare(render_collection(store, collection, base_url(request)))

    async def stac_items(request: Request) -> Response:
        collection = visible_collection(request.path_params["collection_id"])
        base = base_url(request)
        search = parse_search(_query_search(request))
        href = f"{stac_root(base)}/collections/{collection.id}/items"
        records = store.collection_records(collection.id)
        return bare(search_page(store, search, base, href, "GET", records))

    async def stac_item(request: Request) -> Response:
        collection = visible_collection(request.path_params["collection_id"])
        for record in store.collection_records(collection.id):
            if record.item["id"] == request.path_params["item_id"]:
                return bare(render_item(record, base_url(request)))
        raise ApiError(404, NOT_FOUND, title=NOT_FOUND)

    return [
        *route("/v2/assets", get_assets, ["GET"]),
        *route("/v2/assets/stac", stac_landing, ["GET"]),
        *route("/v2/assets/stac/search", stac_search, ["GET", "POST"]),
        *route("/v2/assets/stac/collections", stac_collections, ["GET"]),
        *route("/v2/assets/stac/collections/{collection_id}", stac_collection, ["GET"]),
        *route("/v2/assets/stac/collections/{collection_id}/items", stac_items, ["GET"]),
        *route("/v2/assets/stac/collections/{collection_id}/items/{item_id}", stac_item, ["GET"]),
        *route("/v2/assets/{asset_id}/metadata", get_metadata, ["GET"]),
        *route("/v2/assets/{asset_id}/metadata", post_metadata, ["POST"]),
        *route("/v2/assets/{asset_id}/download-url", download_url, ["POST"]),
        *route("/v2/assets/{asset_id}", download, ["GET"]),
    ]
