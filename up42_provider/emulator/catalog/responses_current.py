"""Today's STAC catalog ``/v2/catalog/``: landing page, conformance, collections, items, search.

Built so that pystac-client opens it as the 4.x SDK does (``conformsTo`` with core, collections,
item-search and its filter/query/sort classes; typed ``search`` links; a ``data`` link) and
pages with standard STAC ``next`` links: GET lists carry ``?token=next:<n>``, POST searches a
``body`` with the token. A search without ``limit`` answers pages of ``DEFAULT_LIMIT``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from up42_provider.emulator import stac_query
from up42_provider.emulator.catalog.models import (
    archive_body,
    decode_token,
    encode_token,
    find_collection,
    landing_page,
    page_limit,
    searchable,
    stac_collection,
    stac_item,
)
from up42_provider.emulator.http import ApiError, bad_request, base_url, emulator_state, json_body
from up42_provider.emulator.state import EmulatorState
from up42_provider.emulator.world import SearchError
from up42_provider.emulator.world.scenes import Scene

ROOT = "/v2/catalog"
GEOJSON = "application/geo+json"


def _root(request: Request) -> str:
    return f"{base_url(request)}{ROOT}"


async def landing(request: Request) -> Response:
    return JSONResponse(landing_page(_root(request)))


async def conformance(request: Request) -> Response:
    return JSONResponse({"conformsTo": landing_page(_root(request))["conformsTo"]})


async def collections(request: Request) -> Response:
    root = _root(request)
    return JSONResponse(
        {
            "collections": [stac_collection(s, root) for s in searchable()],
            "links": [
                {"rel": "self", "href": f"{root}/collections", "type": "application/json"},
                {"rel": "root", "href": f"{root}/", "type": "application/json"},
            ],
        }
    )


async def collection(request: Request) -> Response:
    return JSONResponse(
        stac_collection(find_collection(request.path_params["collection_id"]), _root(request))
    )


def _search(state: EmulatorState, body: dict[str, Any]) -> list[Scene]:
    """Scenes of every requested collection (all searchable ones by default), newest first unless sorted."""
    names = body.get("collections")
    if names is None:
        specs = searchable()
    elif isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        specs = [find_collection(n) for n in names]
    else:
        raise bad_request("collections must be a non-empty list of collection ids")
    query = archive_body(body)
    scenes: list[Scene] = []
    try:
        for host in dict.fromkeys(s.host for s in specs):
            names_here = [s.name for s in specs if s.host == host]
            scenes.extend(state.catalog.search(host, {**query, "collections": names_here}))
    except SearchError as exc:
        raise ApiError(exc.status, str(exc), title="Bad Request") from None
    if len(specs) > 1 and query.get("sortby") is None:
        scenes.sort(key=lambda s: (s.acquired, s.id), reverse=True)
    return scenes


def _page(
    request: Request, scenes: list[Scene], offset: int, limit: int, next_link: dict[str, Any] | None
) -> Response:
    root, api = _root(request), base_url(request)
    page = scenes[offset : offset + limit]
    links: list[dict[str, Any]] = [{"rel": "root", "href": f"{root}/", "type": "application/json"}]
    if next_link is not None and offset + limit < len(scenes):
        links.append(next_link)
    body = {
        "type": "FeatureCollection",
        "features": [stac_item(s, root, api) for s in page],
        "links": links,
        "numberMatched": len(scenes),
        "numberReturned": len(page),
    }
    return JSONResponse(body, media_type=GEOJSON)


# Today's catalog's wording of ``stac_query.query_body``'s refusals.
_GET_MESSAGES = {
    "bbox": "bbox must be comma-separated numbers, got '{value}'",
    "json": "{key} must be JSON (filter-lang cql2-json)",
}


def _get_params(request: Request) -> dict[str, Any]:
    """A GET search's query parameters as a search body (``stac_query.query_body``: comma lists,
    JSON ``intersects``/``filter``), with ``sortby`` rules and an integer ``limit`` as
    :func:`archive_body` and ``page_limit`` read a POST body."""
    q = request.query_params
    body = stac_query.query_body(q, lambda name: [v for v in q[name].split(",") if v], messages=_GET_MESSAGES)
    for name in ("token", "fields"):  # the token is read on its own; fields are not supported
        body.pop(name, None)
    if "sortby" in body:
        body["sortby"] = stac_query.sortby_rules(body["sortby"])
    if "limit" in body:
        try:
            body["limit"] = int(body["limit"])
        except ValueError:
            raise bad_request(f"limit must be an integer, got '{q['limit']}'") from None
    return body


def _get_next(request: Request, offset: int) -> dict[str, Any]:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    params.append(("token", encode_token(offset)))
    return {
        "rel": "next",
        "href": f"{base_url(request)}{request.url.path}?{urlencode(params)}",
        "type": GEOJSON,
        "method": "GET",
    }


async def _get_search(request: Request, body: dict[str, Any]) -> Response:
    """A page of a GET search (``body`` from :func:`_get_params`), its next link a GET with the token."""
    limit = page_limit(body.get("limit"))
    offset = decode_token(request.query_params.get("token"))
    scenes = await run_in_threadpool(_search, emulator_state(request), body)
    return _page(request, scenes, offset, limit, _get_next(request, offset + limit))


async def search_get(request: Request) -> Response:
    return await _get_search(request, _get_params(request))


async def search_post(request: Request) -> Response:
    state = emulator_state(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("Search body must be a JSON object")
    limit = page_limit(body.get("limit"))
    offset = decode_token(body.get("token"))
    scenes = await run_in_threadpool(_search, state, body)
    next_body = {**body, "token": encode_token(offset + limit)}
    next_link = {
        "rel": "next",
        "href": f"{_root(request)}/search",
        "type": GEOJSON,
        "method": "POST",
        "body": next_body,
        "merge": False,
    }
    return _page(request, scenes, offset, limit, next_link)


async def items(request: Request) -> Response:
    """``GET /v2/catalog/collections/{id}/items``: the collection's scenes (a ``bbox`` is advisable)."""
    spec = find_collection(request.path_params["collection_id"])
    return await _get_search(request, {**_get_params(request), "collections": [spec.name]})


async def item(request: Request) -> Response:
    state = emulator_state(request)
    spec = find_collection(request.path_params["collection_id"])
    item_id = request.path_params["item_id"]
    scene = state.catalog.scene(item_id)
    if scene is None or scene.collection != spec.name:
        raise ApiError(404, f"Item '{item_id}' not found in collection '{spec.name}'", title="Not Found")
    return JSONResponse(stac_item(scene, _root(request), base_url(request)), media_type=GEOJSON)
