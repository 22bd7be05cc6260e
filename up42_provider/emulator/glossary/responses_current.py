"""Today's glossary: ``/v2/collections`` (Spring pages, ``totalPages`` at least 1) and ``/v2/eulas/{id}``.

Server-side filters beyond what the 4.x SDK sends: ``type`` (ARCHIVE | TASKING, repeatable),
``integrations`` (a collection must have all of them) and ``size`` (default 20, at most 100).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from up42_provider.emulator.glossary.models import SORT_FIELDS, V2_COLLECTIONS
from up42_provider.emulator.http import (
    ApiError,
    bad_request,
    bare,
    emulator_state,
    query_int,
    query_list,
    spring_page,
)

COLLECTION_TYPES = ("ARCHIVE", "TASKING")


async def collections(request: Request) -> Response:
    types = query_list(request, "type")
    for kind in types:
        if kind not in COLLECTION_TYPES:
            raise bad_request(f"Invalid collection type '{kind}' (allowed: {', '.join(COLLECTION_TYPES)})")
    wanted = set(query_list(request, "integrations"))
    items = [
        c for c in V2_COLLECTIONS if (not types or c["type"] in types) and wanted <= set(c["integrations"])
    ]
    sort = request.query_params.get("sort")
    field = None
    if sort:
        field, _, direction = sort.partition(",")
        if field not in SORT_FIELDS:
            raise bad_request(f"Invalid sort field '{field}' (allowed: {', '.join(SORT_FIELDS)})")
        if direction.strip().lower() not in ("", "asc", "desc"):
            raise bad_request(f"Invalid sort direction '{direction}' (allowed: asc, desc)")
        items = sorted(items, key=lambda c: str(c[field]), reverse=direction.strip().lower() == "desc")
    page = query_int(request, "page", 0, minimum=0)
    size = query_int(request, "size", 20, minimum=1, maximum=100)
    body = spring_page(items, page, size, sort_field=field)
    body["totalPages"] = max(
        1, body["totalPages"]
    )  # the 4.x SDK pages until page + 1 == totalPages: 0 would never end
    return bare(body)


async def collection(request: Request) -> Response:
    name = request.path_params["name"]
    for entry in V2_COLLECTIONS:
        if entry["name"] == name:
            return bare(entry)
    raise ApiError(404, f"Collection '{name}' not found", title="COLLECTION_NOT_FOUND")


async def eula(request: Request) -> Response:
    state = emulator_state(request)
    with state.lock:
        return bare(state.glossary.eula(request.path_params["eula_id"]).as_json())
