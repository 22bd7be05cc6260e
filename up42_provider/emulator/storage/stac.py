"""The STAC wire view of storage, shared by both generations (same paths under ``/v2/assets/stac``).

All hrefs are absolute and start with the base URL the client used: today's SDK offers a file
only when the asset href starts with exactly its configured base.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from up42_provider.emulator import stac_query
from up42_provider.emulator.storage.models import AssetRecord, AssetStore, StacCollection, StoredFile

STAC_DEFAULT_LIMIT = 10
STAC_MAX_PAGE = 100
STAC_MAX_LIMIT = 10_000
DEFAULT_SORTBY = [{"field": "bbox", "direction": "desc"}]
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
# Queryable names of the storage search and the item properties they mean.
ALIASES = {
    "asset_id": "up42-system:asset_id",
    "workspace_id": "up42-system:workspace_id",
    "order_id": "up42-order:id",
    "job_id": "up42-system:job_id",
    "tags": "up42-user:tags",
    "title": "up42-user:title",
    "collection_name": "up42-product:collection_name",
    "cloud_cover": "eo:cloud_cover",
}
QUERYABLES: dict[str, dict[str, Any]] = {
    "id": {"description": "Item id", "type": "string"},
    "collection": {"description": "Collection id", "type": "string"},
    "datetime": {"description": "Acquisition time", "type": "string", "format": "date-time"},
    "geometry": {"description": "Footprint", "$ref": "https://geojson.org/schema/Geometry.json"},
    "workspace_id": {"description": "up42-system:workspace_id", "type": "string", "format": "uuid"},
    "asset_id": {"description": "up42-system:asset_id", "type": "string", "format": "uuid"},
    "order_id": {"description": "up42-order:id", "type": "string", "format": "uuid"},
    "tags": {"description": "up42-user:tags", "type": "array", "items": {"type": "string"}},
    "title": {"description": "up42-user:title", "type": "string"},
    "collection_name": {"description": "up42-product:collection_name", "type": "string"},
    "constellation": {"description": "Constellation", "type": "string"},
    "gsd": {"description": "Ground sample distance (m)", "type": "number"},
    "eo:cloud_cover": {"description": "Cloud cover (%)", "type": "number", "minimum": 0, "maximum": 100},
    "cloud_cover": {"description": "Deprecated: use eo:cloud_cover", "type": "number", "deprecated": True},
}


def _user_properties(record: AssetRecord) -> dict[str, Any]:
    return {"up42-user:title": record.user_title, "up42-user:tags": list(record.asset.get("tags") or [])}


def stac_item(record: AssetRecord) -> dict[str, Any]:
    """The record's STAC item as the query engine sees it (with the user title and tags)."""
    item = record.item
    return {**item, "properties": {**item["properties"], **_user_properties(record)}}


value_of = stac_query.value_getter(ALIASES)


def stac_root(base: str) -> str:
    return f"{base}/v2/assets/stac"


def _asset(stored: StoredFile, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"href": f"{base}/v2/assets/{stored.id}", "type": stored.media_type}
    if stored.title:
        out["title"] = stored.title
    out["roles"] = list(stored.roles)
    return out


def render_item(record: AssetRecord, base: str) -> dict[str, Any]:
    root = stac_root(base)
    item: dict[str, Any] = json.loads(json.dumps(stac_item(record)))
    collection_href = f"{root}/collections/{record.collection_id}"
    files = record.files
    delivery = record.asset.get("order") is not None  # processing results carry no order
    if delivery and len(files) == 1 and files[0].name == "data" and files[0].id == record.asset["id"]:
        # A 2023 delivery: the archive as the one ``data`` asset, exactly as the 2023 API writes it.
        item["assets"] = {"data": {"href": f"{base}/v2/assets/{record.asset['id']}"}}
    else:
        item["assets"] = {f.name: _asset(f, base) for f in files}
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
    out: dict[str, Any] = {
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
        "up42-system:workspace_id": collection.workspace_id,
        "up42-system:account_id": store.account_id,
    }
    if collection.order_id is not None:
        out["up42-order:id"] = collection.order_id
    if collection.job_id is not None:
        out["up42-system:job_id"] = collection.job_id
    if collection.original is not None:
        stored = collection.original
        out["assets"] = {stored.filename: _asset(stored, base)}
    return out


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


def queryables(base: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{stac_root(base)}/queryables",
        "type": "object",
        "title": "Queryables of UP42 Storage",
        "properties": QUERYABLES,
        "additionalProperties": True,
    }


def parse_search(body: Any) -> stac_query.Search:
    return stac_query.parse_search(
        body, default_limit=STAC_DEFAULT_LIMIT, max_limit=STAC_MAX_LIMIT, value_of=value_of
    )


def search_page(
    store: AssetStore,
    search: stac_query.Search,
    base: str,
    next_href: str,
    method: str,
    records: list[AssetRecord] | None = None,
) -> dict[str, Any]:
    """One FeatureCollection page of a storage search, with its ``next`` link (POST body or GET token)."""
    candidates = store.visible() if records is None else records
    page, more = stac_query.run_search(
        candidates,
        search,
        item=stac_item,
        default_sortby=DEFAULT_SORTBY,
        max_page=STAC_MAX_PAGE,
        value_of=value_of,
    )
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
    fields = search.params.get("fields")
    features = [stac_query.apply_fields(render_item(r, base), fields) for r in page]
    return {"links": links, "type": "FeatureCollection", "features": features}
