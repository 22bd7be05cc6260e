"""Today's generation of orders under ``/v2/orders`` (bare JSON): batch estimate and placement, get,
list, merge-patch and cancellation, a wire view over the one order store of ``orders/models.py``.

Where the generations meet (one store, two views), as the real service plausibly does after it
moved the same orders to new endpoints:

* Every order is visible in both: ``/v2/orders`` lists the orders placed through
  ``/workspaces/{ws}/orders`` and the 2023 routes show the orders placed here (with ``assets``
  and the raw status, which the 2023 service already emitted: ``CREATED``, ``BEING_PLACED``...).
* Here, a 2023 order's ``FAILED`` reads ``FAILED_PERMANENTLY`` (today's vocabulary has no
  ``FAILED``: a 4.3.0 client would poll it for ever), and its ``displayName`` is
  ``params.displayName`` or ``"<dataProduct> order"`` (what the intermediate SDKs sent). Orders
  show no ``assets`` and no ``dataProvider``; their deliveries are STAC items in storage.
* Only orders placed here start ``CREATED`` (cancellable for 60 s nominal) then ``BEING_PLACED``
  (5 s), so only they can be cancelled; the rest of the life cycle is the 2023 one.

Behaviour where the documentation is silent (our assumptions):

* A body-level problem (not an object, unknown data product, missing ``displayName``, more than
  30 tags or a tag with other characters than letters, digits, space and ``.-_/:``, a geometry in
  ``params`` instead of ``featureCollection``, or order parameters that are wrong for every
  feature) is a 400 naming it, and nothing is created. A problem of one feature (not a Feature,
  geometry invalid or missing the image) is an ``errors`` item ``{"index", "message": "Failed",
  "details"}``; the other features are priced or placed. Placement needs the credits of all
  valid archive features (402 otherwise, nothing created); tasking is charged on acceptance of
  its quotation.
* ``size`` is the ordered area in km² (at least the collection's minimum), ``unit`` ``SQ_KM``.
* List: ``size`` defaults to 20; ``displayName`` is a case-insensitive substring; ``tags`` match
  any; every page carries ``links`` (``self``, and ``next``/``prev`` when there is such a page).
* PATCH accepts ``application/merge-patch+json`` or ``application/json``; a key other than
  ``tags``/``budgetId`` is a 400; ``"tags": null`` clears the tags (RFC 7396). Cancelling an order
  that is neither ``CREATED`` nor ``PLACEMENT_FAILED`` is a 409; cancelling refunds what the order
  was charged.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from up42_provider.emulator import world
from up42_provider.emulator.http import (
    ApiError,
    bad_request,
    bare,
    emulator_state,
    json_body,
    query_int,
    query_list,
    query_sort,
    spring_page,
)
from up42_provider.emulator.orders.models import (
    FAILED,
    FAILED_PERMANENTLY,
    LIST_MAX_SIZE,
    ORDER_TYPES,
    OrderRecord,
    OrderRequest,
    product_facts,
)

STATUSES = (
    "CREATED",
    "BEING_PLACED",
    "PLACEMENT_FAILED",
    "PLACED",
    "BEING_FULFILLED",
    "FULFILLED",
    "FAILED_PERMANENTLY",
    "CANCELED",
)
SUB_STATUSES = (
    "FEASIBILITY_WAITING_UPLOAD",
    "FEASIBILITY_WAITING_RESPONSE",
    "QUOTATION_WAITING_UPLOAD",
    "QUOTATION_WAITING_RESPONSE",
    "QUOTATION_ACCEPTED",
    "QUOTATION_REJECTED",
)
SORT_FIELDS = ("createdAt", "updatedAt", "type", "status")
LIST_DEFAULT_SIZE = 20
MAX_TAGS, MAX_NAME = 30, 200
TAG_RE = re.compile(r"^[A-Za-z0-9 ._\-/:]+$")
PATCHABLE = ("tags", "budgetId")


def render(record: OrderRecord, account_id: str) -> dict[str, Any]:
    """Today's order object of any order (see the module docstring for 2023 orders)."""
    order = record.order
    details = dict(order["orderDetails"])
    if order["type"] == "ARCHIVE":
        details = {**{k: v for k, v in details.items() if k != "id"}, "imageId": details.get("id")}
    return {
        "id": order["id"],
        "displayName": record.display_name,
        "status": FAILED_PERMANENTLY if order["status"] == FAILED else order["status"],
        "workspaceId": order["workspaceId"],
        "accountId": account_id,
        "type": order["type"],
        "dataProductId": order["dataProductId"],
        "tags": list(order["tags"]),
        "budgetId": record.budget_id,
        "createdAt": order["createdAt"],
        "updatedAt": order["updatedAt"],
        "createdBy": dict(order["createdBy"]),
        "updatedBy": dict(order["updatedBy"]),
        "orderDetails": details,
    }


def tag_errors(tags: Any) -> list[str]:
    """Why ``tags`` is not a valid tag list (empty when it is)."""
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return ["'tags' must be a list of strings"]
    errors = (
        [f"'tags' holds {len(tags)} tags, at most {MAX_TAGS} are allowed"] if len(tags) > MAX_TAGS else []
    )
    bad = [t for t in tags if not TAG_RE.match(t)]
    if bad:
        errors.append(f"tags {bad} may only contain letters, digits, spaces and . - _ / :")
    return errors


def parse_batch(request: Request, body: Any) -> tuple[str, str | None, list[tuple[int, OrderRequest | str]]]:
    """Check a batch body: (display name, budget id, per feature index an order to make or an error).

    Raises the 400 of a body-level problem before anything is priced or created.
    """
    if not isinstance(body, dict):
        raise bad_request(
            "Order body must be a JSON object with 'dataProduct', 'displayName', 'params' and "
            "'featureCollection'"
        )
    errors: list[str] = []
    data_product, params = body.get("dataProduct"), body.get("params", {})
    if not isinstance(data_product, str) or not data_product:
        errors.append("'dataProduct' must be a data product id")
    if not isinstance(params, dict):
        errors.append("'params' must be an object")
        params = {}
    name = body.get("displayName", params.get("displayName"))
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        errors.append(
            f"'displayName' (top level or in 'params') must be a text of 1 to {MAX_NAME} characters"
        )
    tags = body.get("tags")
    if tags is not None:
        errors.extend(tag_errors(tags))
    budget_id = body.get("budgetId")
    if budget_id is not None and not isinstance(budget_id, str):
        errors.append("'budgetId' must be a budget id or null")
    collection = body.get("featureCollection")
    features = collection.get("features") if isinstance(collection, dict) else None
    if (
        not isinstance(collection, dict)
        or collection.get("type") != "FeatureCollection"
        or not isinstance(features, list)
        or not features
    ):
        errors.append("'featureCollection' must be a GeoJSON FeatureCollection with at least one feature")
    if errors:
        raise bad_request("Invalid order: " + "; ".join(errors))
    assert isinstance(data_product, str) and isinstance(features, list) and isinstance(name, str)
    product, facts = product_facts(data_product)
    key = "aoi" if facts.type == "ARCHIVE" else "geometry"
    if key in params:
        raise bad_request(
            f"Invalid order: 'params.{key}' is not accepted, put the geometry of each order "
            "into 'featureCollection'"
        )
    base = {k: v for k, v in params.items() if k != "displayName"}
    if "displayName" in (world.order_schema(facts.id) or {}).get("properties", {}):
        base["displayName"] = name
    orders = emulator_state(request).orders
    shared: list[str] = []  # problems of the parameters themselves: the same for every feature
    items: list[tuple[int, OrderRequest | str]] = []
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature" or not feature.get("geometry"):
            items.append((index, f"Feature {index} is not a GeoJSON Feature with a geometry"))
            continue
        canonical = {**base, key: feature["geometry"]}
        problems = orders.param_errors(product, canonical)
        own = [p for p in problems if f"'{key}'" in p]
        shared.extend(p for p in problems if p not in own and p not in shared)
        if own:
            items.append((index, "; ".join(own)))
        elif not problems:
            try:
                items.append((index, orders.prepare(product, facts, canonical, list(tags or []))))
            except ApiError as exc:
                items.append((index, exc.message))
    if shared:
        raise bad_request("Invalid order parameters: " + "; ".join(shared))
    return name, budget_id, items


def _errors(items: list[tuple[int, OrderRequest | str]]) -> list[dict[str, Any]]:
    return [{"index": i, "message": "Failed", "details": d} for i, d in items if isinstance(d, str)]


async def estimate(request: Request) -> Response:
    body = await json_body(request)
    with emulator_state(request).lock:
        _, _, items = parse_batch(request, body)
    results: list[dict[str, Any]] = [
        {"index": i, "credits": r.credits, "size": r.size_km2, "unit": "SQ_KM"}
        for i, r in items
        if isinstance(r, OrderRequest)
    ]
    summary = {
        "totalCredits": sum(r["credits"] for r in results),
        "totalSize": round(sum(r["size"] for r in results), 2),
        "unit": "SQ_KM",
    }
    return bare({"summary": summary, "results": results, "errors": _errors(items)})


async def place(request: Request) -> Response:
    state = emulator_state(request)
    workspace_id = request.query_params.get("workspaceId")
    if not workspace_id:
        raise bad_request("Query parameter 'workspaceId' is required (the 'sub' of userinfo)")
    state.orders.check_workspace(workspace_id)
    body = await json_body(request)
    with state.lock:
        name, budget_id, items = parse_batch(request, body)
        valid = [(i, r) for i, r in items if isinstance(r, OrderRequest)]
        records = state.orders.place_batch(workspace_id, [r for _, r in valid], name, budget_id)
    results = [{"index": i, "id": rec.order["id"]} for (i, _), rec in zip(valid, records, strict=True)]
    return bare({"results": results, "errors": _errors(items)})


async def get_order(request: Request) -> Response:
    state = emulator_state(request)
    with state.lock:
        record = state.orders.record(request.path_params["order_id"])
        return bare(render(record, state.config.account_id))


def _choices(request: Request, name: str, allowed: tuple[str, ...]) -> set[str]:
    values = set(query_list(request, name))
    if values - set(allowed):
        raise bad_request(f"Invalid {name} {sorted(values - set(allowed))}; expected any of {list(allowed)}")
    return values


async def list_orders(request: Request) -> Response:
    state = emulator_state(request)
    field, descending = query_sort(request, SORT_FIELDS, "createdAt")
    params = request.query_params
    workspace_id, name = params.get("workspaceId"), (params.get("displayName") or "").lower()
    types = {t.upper() for t in _choices(request, "type", ORDER_TYPES)}
    statuses = _choices(request, "status", STATUSES)
    sub_statuses = _choices(request, "subStatus", SUB_STATUSES)
    tags = set(params.getlist("tags"))
    budget_ids, order_ids = set(query_list(request, "budgetIds")), set(query_list(request, "orderIds"))
    page = query_int(request, "page", 0, minimum=0)
    size = min(query_int(request, "size", LIST_DEFAULT_SIZE, minimum=1), LIST_MAX_SIZE)

    def keep(o: dict[str, Any]) -> bool:
        return (
            (not workspace_id or o["workspaceId"] == workspace_id)
            and name in o["displayName"].lower()
            and (not types or o["type"] in types)
            and (not statuses or o["status"] in statuses)
            and (not sub_statuses or o["orderDetails"].get("subStatus") in sub_statuses)
            and (not tags or bool(tags & set(o["tags"])))
            and (not budget_ids or o["budgetId"] in budget_ids)
            and (not order_ids or o["id"] in order_ids)
        )

    account_id = state.config.account_id
    found = [
        o
        for o in state.orders.select(lambda r: True, lambda r: render(r, account_id), field, descending)
        if keep(o)
    ]
    body = spring_page(found, page, size, sort_field=field)
    links = [{"rel": "self", "href": str(request.url.include_query_params(page=page))}]
    if page + 1 < body["totalPages"]:
        links.append({"rel": "next", "href": str(request.url.include_query_params(page=page + 1))})
    if page > 0:
        links.append({"rel": "prev", "href": str(request.url.include_query_params(page=page - 1))})
    body["links"] = links
    return bare(body)


async def update_order(request: Request) -> Response:
    state = emulator_state(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("", "application/merge-patch+json", "application/json"):
        raise ApiError(
            415,
            f"Content-Type {media} is not supported; send application/merge-patch+json",
            title="Unsupported Media Type",
        )
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("A merge-patch of an order must be a JSON object with 'tags' and/or 'budgetId'")
    errors = [f"'{k}' cannot be changed, only {list(PATCHABLE)}" for k in body if k not in PATCHABLE]
    if body.get("tags") is not None:
        errors.extend(tag_errors(body["tags"]))
    if body.get("budgetId") is not None and not isinstance(body["budgetId"], str):
        errors.append("'budgetId' must be a budget id or null")
    if errors:
        raise bad_request("Invalid order update: " + "; ".join(errors))
    with state.lock:
        record = state.orders.update(request.path_params["order_id"], body)
        return bare(render(record, state.config.account_id))


async def cancel_order(request: Request) -> Response:
    state = emulator_state(request)
    record = state.orders.cancel(request.path_params["order_id"])
    return bare({"orderId": record.order["id"], "status": record.status})
