"""Storage handlers of the 2023 generation (assets, storage STAC, signed URLs), most of them shared with
today's.

Today's SDK reaches the same paths for downloads (``/v2/assets/{id}/download-url``) and the STAC reads
(landing page, search, collections, items), so those handlers serve both generations.

Behaviour the UP42 documentation leaves open (our assumptions):

* ``get_assets`` ``tags`` (repeated) matches assets carrying **any** of the given tags; ``search`` is a
  case-insensitive substring match on name, title and order id; ``collectionNames``, ``producerNames`` and
  ``sources`` match any listed value; unknown ``sources`` values are a 400. ``size`` defaults to 50 and is
  silently capped at 2000; timestamps bounds are exclusive. New assets inherit the tags of their order (so a
  client tag finds the order's assets too). Processing results (today's generation) are not listed: the 2023
  listing holds deliveries.
* ``post_metadata``: ``null`` (or a missing key) **keeps** the current value (the SDK always sends both keys,
  so clearing on ``null`` would wipe the title whenever only tags are updated). ``"tags": []`` clears the
  tags. Keys other than ``title``/``tags`` are kept in a ``metadata`` object that appears on the asset once
  such keys were sent (``null`` keeps those too).
* The archive is built when the order starts delivering (not lazily at the first download), in a worker
  thread; that is the price of an exact ``size`` (also with ``asset_size_mb`` padding).
* ``GET /v2/assets/{id}`` (the STAC items' asset hrefs) answers 307 to a fresh signed URL. Signed URLs carry
  ``response-content-disposition`` with the file's stem, as UP42's do.
* ``stac_search`` and the STAC API: page size is ``limit`` (default 10) capped at 100; the default order is
  the one the real next link advertises (``bbox`` descending, then item id). Queryables ``asset_id``,
  ``workspace_id``, ``order_id``, ``tags``, ``title``, ``collection_name`` and ``cloud_cover`` mean the
  ``up42-*`` item properties (see :mod:`storage.stac`). A malformed filter, datetime, geometry or token is a
  400 problem titled ``Bad request``.
* The collection list pages with ``?token=next:...`` links (``limit``, ``workspace_id``).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from up42_provider.emulator import stac_query
from up42_provider.emulator.clock import parse_iso
from up42_provider.emulator.http import (
    bad_request,
    bare,
    base_url,
    emulator_state,
    json_body,
    query_int,
    query_list,
    query_sort,
    query_time,
    spring_page,
)
from up42_provider.emulator.storage import gcs
from up42_provider.emulator.storage.blobs import SignatureError
from up42_provider.emulator.storage.models import AssetStore
from up42_provider.emulator.storage.stac import (
    STAC_DEFAULT_LIMIT,
    STAC_MAX_LIMIT,
    STAC_MAX_PAGE,
    landing_page,
    parse_search,
    render_collection,
    render_item,
    search_page,
    stac_root,
)

log = logging.getLogger("up42_provider.emulator.storage")

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


def _store(request: Request) -> AssetStore:
    return emulator_state(request).assets


# -- assets --------------------------------------------------------------------------------------------------


async def get_assets(request: Request) -> Response:
    """``get_assets``: the Spring page of the account's delivered assets."""
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
        order_id = (a.get("order") or {}).get("id") or ""
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
                or search in order_id.lower()
            )
        )

    store = _store(request)
    assets = [r.asset for r in store.visible() if r.listed and keep(r.asset)]
    ordered = stac_query.sort_items(
        assets,
        [{"field": field_name, "direction": "desc" if descending else "asc"}],
        lambda a, f: a.get(f),
        lambda a: a["id"],
    )
    return bare(spring_page([dict(a) for a in ordered], page, size, sort_field=field_name))


async def get_metadata(request: Request) -> Response:
    """``get_metadata``."""
    state = emulator_state(request)
    record = state.assets.get(request.path_params["asset_id"])
    with state.lock:
        return bare(dict(record.asset))


async def post_metadata(request: Request) -> Response:
    """``post_metadata``: title and tags (``null`` keeps), other keys into ``metadata``."""
    store = _store(request)
    record = store.get(request.path_params["asset_id"])
    body = await json_body(request, required=False)
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    title, tags = body.get("title"), body.get("tags")
    if title is not None and not isinstance(title, str):
        raise bad_request("'title' must be a string or null")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise bad_request("'tags' must be a list of strings or null")
    extra = {k: v for k, v in body.items() if k not in ("title", "tags") and v is not None}
    return bare(store.update_metadata(record, title=title, tags=tags, extra=extra))


async def download_url(request: Request) -> Response:
    """``download_url`` (both generations): a signed URL of the file behind an asset href."""
    state = emulator_state(request)
    _, stored = state.assets.file(request.path_params["asset_id"])
    await state.blobs.ensure(stored.blob_key)
    return bare({"url": state.blobs.signed_url(base_url(request), stored.blob_key, disposition=True)})


async def download(request: Request) -> Response:
    """A STAC asset href: redirect to a fresh signed URL of its file."""
    state = emulator_state(request)
    _, stored = state.assets.file(request.path_params["asset_id"])
    await state.blobs.ensure(stored.blob_key)
    url = state.blobs.signed_url(base_url(request), stored.blob_key, disposition=True)
    return RedirectResponse(url, status_code=307)


# -- storage STAC search, landing page and the STAC API below them -------------------------------------------


async def stac_landing(request: Request) -> Response:
    return bare(landing_page(base_url(request)))


async def stac_search(request: Request) -> Response:
    base = base_url(request)
    if request.method == "POST":
        search = parse_search(await json_body(request, required=False))
    else:
        search = parse_search(stac_query.query_body(request.query_params, lambda k: query_list(request, k)))
    return bare(search_page(_store(request), search, base, f"{stac_root(base)}/search", request.method))


async def stac_collections(request: Request) -> Response:
    """The collection list, paged with ``token`` links (``offset`` is accepted too)."""
    store = _store(request)
    base = base_url(request)
    token = request.query_params.get("token")
    if token:
        data = stac_query.decode_token(token)
        try:
            limit, offset, workspace = int(data["l"]), int(data["o"]), str(data.get("w") or "")
        except (KeyError, TypeError, ValueError):
            raise bad_request("Invalid pagination token") from None
    else:
        limit = stac_query.parse_limit(request.query_params.get("limit"), STAC_DEFAULT_LIMIT, STAC_MAX_LIMIT)
        offset = query_int(request, "offset", 0, minimum=0)
        workspace = request.query_params.get("workspace_id") or ""
    collections = [c for c in store.visible_collections() if not workspace or c.workspace_id == workspace]
    page = collections[offset : offset + min(limit, STAC_MAX_PAGE)]
    root = stac_root(base)
    links = [
        {"href": f"{root}/", "rel": "root", "type": "application/json"},
        {"href": f"{root}/collections", "rel": "self", "type": "application/json"},
    ]
    if offset + len(page) < len(collections):
        nxt = stac_query.encode_token({"l": limit, "o": offset + len(page), "w": workspace})
        links.append(
            {
                "href": f"{root}/collections?{urlencode({'token': nxt})}",
                "rel": "next",
                "type": "application/json",
            }
        )
    return bare({"collections": [render_collection(store, c, base) for c in page], "links": links})


async def stac_collection(request: Request) -> Response:
    store = _store(request)
    collection = store.collection(request.path_params["collection_id"])
    return bare(render_collection(store, collection, base_url(request)))


async def stac_items(request: Request) -> Response:
    store = _store(request)
    collection = store.collection(request.path_params["collection_id"])
    base = base_url(request)
    search = parse_search(stac_query.query_body(request.query_params, lambda k: query_list(request, k)))
    href = f"{stac_root(base)}/collections/{collection.id}/items"
    return bare(search_page(store, search, base, href, "GET", store.collection_records(collection.id)))


async def stac_item(request: Request) -> Response:
    record = _store(request).item(request.path_params["collection_id"], request.path_params["item_id"])
    return bare(render_item(record, base_url(request)))


# -- the signed URLs -----------------------------------------------------------------------------------------


async def signed_download(request: Request) -> Response:
    """A signed URL, answered like GCS's XML API (no UP42 auth; Range, If-Range, If-None-Match)."""
    state = emulator_state(request)
    blobs = state.blobs
    bucket, object_path = request.path_params["bucket"], request.path_params["path"]
    try:
        blobs.verify(request.scope["path"], dict(request.query_params))
    except SignatureError as exc:
        return gcs.xml_error(exc.status, exc.code, exc.message, exc.details)
    key = blobs.key_for(object_path) if bucket == blobs.bucket else None
    if key is None:
        details = f"No such object: {bucket}/{object_path}"
        return gcs.xml_error(404, "NoSuchKey", "The specified key does not exist.", details)
    try:
        blob = await blobs.ensure(key)
    except Exception:
        log.exception("building blob %s failed", key)
        return gcs.xml_error(500, "InternalError", "We encountered an internal error. Please try again.")
    headers = gcs.blob_headers(blob, state.config.download_hashes)
    disposition = request.query_params.get("response-content-disposition")
    if disposition:
        headers["Content-Disposition"] = disposition
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and (if_none_match.strip() == "*" or blob.etag in if_none_match):
        del headers["Content-Type"]
        return Response(status_code=304, headers=headers)
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range and if_range.strip() not in (blob.etag, headers["Last-Modified"]):
        range_header = None  # the client's partial copy is stale: send everything
    try:
        selected = gcs.parse_range(range_header, blob.size)
    except gcs.RangeNotSatisfiable:
        return gcs.xml_error(
            416,
            "InvalidRange",
            "The requested range cannot be satisfied.",
            range_header,
            **{"Content-Range": f"bytes */{blob.size}"},
        )
    status, start, length = 200, 0, blob.size
    if selected is not None:
        start, end = selected
        status, length = 206, end - start + 1
        headers["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    headers["Content-Length"] = str(length)
    drop_after = None
    if request.method == "GET" and state.faults.draw("drop", "GET", request.scope["path"]):
        drop_after = int(length * blobs.drop_rng.uniform(0.1, 0.9))
    return gcs.BlobResponse(blob, status, start, length, headers, drop_after)
