"""Catalogue endpoints: E18 collections, E19 data products, E20 order schemas, E21 search, E22 quicklooks.

The world itself (scenes, products, schemas) lives in ``world/catalog.py``; this module only speaks HTTP:
envelopes vs bare bodies, P5 pagination tokens and the empty-bodied 404 for missing quicklooks.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from up42_provider.emulator.http import ApiError, bare, base_url, envelope, json_body, route
from up42_provider.emulator.state import EmulatorState
from up42_provider.emulator.world import (
    COLLECTIONS,
    DATA_PRODUCTS,
    HOSTS,
    Catalog,
    SearchError,
    order_schema,
)

DEFAULT_LIMIT = 10
MAX_PAGE = 500


def encode_next(host: str, offset: int) -> str:
    raw = json.dumps({"providerName": host, "nextOffset": offset}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_next(token: str, host: str) -> int:
    text = token.strip().replace(" ", "+")
    try:
        raw = base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
        data = json.loads(raw)
        offset = data["nextOffset"]
        provider = data["providerName"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ApiError(400, "Invalid 'next' pagination token") from None
    if provider != host or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ApiError(400, "Invalid 'next' pagination token for this host")
    return offset


def _limit(body: dict[str, Any]) -> int:
    value = body.get("limit", DEFAULT_LIMIT)
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"limit must be an integer, got {value!r}")
    if value < 1:
        raise ApiError(400, f"limit must be at least 1, got {value}")
    return min(value, MAX_PAGE)


def install(state: EmulatorState) -> list[BaseRoute]:
    catalog = Catalog(state.config.seed, now=state.clock.now)
    state.catalog = catalog

    async def collections(request: Request) -> Response:
        return envelope(COLLECTIONS)

    async def data_products(request: Request) -> Response:
        return envelope(DATA_PRODUCTS)

    async def schema(request: Request) -> Response:
        product_id = request.path_params["data_product_id"]
        found = order_schema(product_id)
        if found is None:
            raise ApiError(
                404, f"Data product with id {product_id} not found", title="Resource does not exist."
            )
        return bare(found)

    async def search(request: Request) -> Response:
        host = request.path_params["host"]
        if host not in HOSTS:
            raise ApiError(404, f"Host '{host}' not found", title="Resource does not exist.")
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Search body must be a JSON object")
        page_size = _limit(body)
        token = request.query_params.get("next")
        offset = decode_next(token, host) if token else 0
        try:
            scenes = await run_in_threadpool(catalog.search, host, body)
        except SearchError as exc:
            raise ApiError(exc.status, str(exc)) from None
        page = scenes[offset : offset + page_size]
        features = await run_in_threadpool(lambda: [s.feature() for s in page])
        self_href = f"{base_url(request)}/catalog/hosts/{host}/stac/search"
        links = [{"rel": "self", "href": self_href}]
        if offset + page_size < len(scenes):
            token = quote(encode_next(host, offset + page_size), safe="")
            links.append({"rel": "next", "href": f"{self_href}?next={token}"})
        return bare({"type": "FeatureCollection", "features": features, "links": links})

    async def quicklook(request: Request) -> Response:
        host, image_id = request.path_params["host"], request.path_params["image_id"]
        scene = catalog.scene(image_id) if host in HOSTS else None
        jpeg = (
            await run_in_threadpool(catalog.quicklook_jpeg, image_id)
            if scene and scene.host == host
            else None
        )
        if jpeg is None:
            return Response(status_code=404)  # empty body: the SDK skips the image (API.md §12.1.7)
        return Response(jpeg, media_type="image/jpeg")

    return [
        *route("/collections", collections, ["GET"]),
        *route("/data-products", data_products, ["GET"]),
        *route("/orders/schema/{data_product_id}", schema, ["GET"]),
        *route("/catalog/hosts/{host}/stac/search", search, ["POST"]),
        *route("/catalog/{host}/image/{image_id}/quicklook", quicklook, ["GET"]),
    ]
