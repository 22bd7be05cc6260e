"""Host search and quicklooks (``/catalog/...``): one path for both generations, answered per caller.

A caller with a 2023 token gets the 2023 behaviour (an invalid search is a 400, a missing quicklook
an empty 404 that the 0.30.1 SDK skips). A caller with today's token gets what the 4.x SDK reads:
an invalid search is a **422** in the v1 envelope, a missing quicklook a JSON 404. ``limit`` is
optional in both (the 4.x SDK never sends it; pages then hold ``DEFAULT_LIMIT`` features). Today's
callers also get ``properties.datetime`` (the acquisition time), which the 4.x ``Scene`` reads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from up42_provider.emulator.account.models import GENERATION_CURRENT
from up42_provider.emulator.catalog.models import decode_next, encode_next, page_limit
from up42_provider.emulator.http import (
    ApiError,
    bad_request,
    bare,
    base_url,
    emulator_state,
    json_body,
    request_generation,
)
from up42_provider.emulator.world import HOSTS, SearchError


async def search(request: Request) -> Response:
    """``POST /catalog/hosts/{host}/stac/search`` with ``?next=`` paging (absolute next links)."""
    state = emulator_state(request)
    current = request_generation(request) == GENERATION_CURRENT
    host = request.path_params["host"]
    if host not in HOSTS:
        raise ApiError(404, f"Host '{host}' not found", title="Resource does not exist.")
    body: Any = await json_body(request)
    try:
        if not isinstance(body, dict):
            raise bad_request("Search body must be a JSON object")
        page_size = page_limit(body.get("limit"))
        token = request.query_params.get("next")
        offset = decode_next(token, host) if token else 0
        scenes = await run_in_threadpool(state.catalog.search, host, body)
    except SearchError as exc:
        raise ApiError(
            422 if current and exc.status == 400 else exc.status, str(exc), title="Invalid search"
        ) from None
    except ApiError as exc:
        if current and exc.status == 400:
            raise ApiError(422, exc.message, title="Invalid search") from None
        raise
    page = scenes[offset : offset + page_size]
    features = await run_in_threadpool(lambda: [s.feature() for s in page])
    if current:  # today's items are STAC items: the acquisition time is their ``datetime`` too
        for feature in features:
            feature["properties"].setdefault("datetime", feature["properties"].get("acquisitionDate"))
    self_href = f"{base_url(request)}/catalog/hosts/{host}/stac/search"
    links = [{"rel": "self", "href": self_href}]
    if offset + page_size < len(scenes):
        token = quote(encode_next(host, offset + page_size), safe="")
        links.append({"rel": "next", "href": f"{self_href}?next={token}"})
    return bare({"type": "FeatureCollection", "features": features, "links": links})


async def quicklook(request: Request) -> Response:
    """``GET /catalog/{host}/image/{image_id}/quicklook``: a JPEG, or 404 when the scene has none."""
    state = emulator_state(request)
    host, image_id = request.path_params["host"], request.path_params["image_id"]
    scene = state.catalog.scene(image_id) if host in HOSTS else None
    jpeg = (
        await run_in_threadpool(state.catalog.quicklook_jpeg, image_id)
        if scene and scene.host == host
        else None
    )
    if jpeg is None:
        if request_generation(request) == GENERATION_CURRENT:
            raise ApiError(404, f"No quicklook for image {image_id} of host {host}", title="Not Found")
        return Response(status_code=404)  # empty body: the 0.30.1 SDK skips the image
    return Response(jpeg, media_type="image/jpeg")
