"""2023 generation of orders under ``/workspaces/{ws}/orders``: place, estimate, get, list (v1 envelopes)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from up42_provider.emulator.http import (
    bad_request,
    emulator_state,
    envelope,
    json_body,
    query_int,
    query_sort,
    spring_page,
)
from up42_provider.emulator.orders.models import (
    LIST_DEFAULT_SIZE,
    LIST_MAX_SIZE,
    ORDER_TYPES,
    SORT_FIELDS,
    OrderRecord,
)


async def place(request: Request) -> Response:
    body = await json_body(request)
    return envelope(emulator_state(request).orders.place(request.path_params["workspace_id"], body))


async def estimate(request: Request) -> Response:
    state = emulator_state(request)
    state.orders.check_workspace(request.path_params["workspace_id"])
    body = await json_body(request)
    with state.lock:
        return envelope({"credits": state.orders.estimate(body)})


async def get_order(request: Request) -> Response:
    orders = emulator_state(request).orders
    return envelope(orders.get(request.path_params["workspace_id"], request.path_params["order_id"]))


async def list_orders(request: Request) -> Response:
    orders = emulator_state(request).orders
    workspace_id = request.path_params["workspace_id"]
    orders.check_workspace(workspace_id)
    field_name, descending = query_sort(request, SORT_FIELDS, "createdAt")
    types = {t.upper() for t in request.query_params.getlist("type") if t}
    if types - set(ORDER_TYPES):
        raise bad_request(
            f"Invalid order type {sorted(types - set(ORDER_TYPES))}; expected ARCHIVE or TASKING"
        )
    tags = set(request.query_params.getlist("tags"))
    page = query_int(request, "page", 0, minimum=0)
    size = min(query_int(request, "size", LIST_DEFAULT_SIZE, minimum=1), LIST_MAX_SIZE)

    def keep(r: OrderRecord) -> bool:
        return (
            r.order["workspaceId"] == workspace_id
            and (not types or r.order["type"] in types)
            and (not tags or bool(tags & set(r.order["tags"])))
        )

    found = orders.select(keep, orders.public, field_name, descending)
    if request.query_params.get("format") != "paginated":
        return envelope(found)
    return envelope(spring_page(found, page, size, sort_field=field_name))
