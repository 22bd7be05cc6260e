"""Quotation and feasibility study lists and decisions (bare JSON, problem bodies); today's generation
keeps the quotation paths and moves the studies to ``/v2/tasking/feasibility-studies`` (``urls.py``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

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
from up42_provider.emulator.tasking.models import (
    COMMON_SORT,
    DEFAULT_SIZE,
    FEASIBILITY_DECISIONS,
    MAX_SIZE,
    QUOTATION_DECISIONS,
)


def _page(request: Request, kind: str) -> dict[str, Any]:
    """One Spring page of quotations (``kind="quotations"``) or feasibility studies."""
    tasking = emulator_state(request).tasking
    quotations = kind == "quotations"
    extra_sort = ("creditsPrice",) if quotations else ()
    decisions = QUOTATION_DECISIONS if quotations else FEASIBILITY_DECISIONS
    field, descending = query_sort(request, (*COMMON_SORT, *extra_sort), "createdAt")
    page = query_int(request, "page", 0, minimum=0)
    size = min(query_int(request, "size", DEFAULT_SIZE, minimum=1), MAX_SIZE)
    wanted = {name: request.query_params.get(name) for name in ("id", "workspaceId", "orderId")}
    decision_filter = {d.upper() for d in query_list(request, "decision")}
    if not decision_filter <= set(decisions):
        decision_filter = set()  # one invalid value drops the whole filter (as documented)
    objects = tasking.quotations if quotations else tasking.studies
    selected = tasking.select(objects, wanted, decision_filter, field, descending)
    return spring_page(selected, page, size, sort_field=field)


async def quotations(request: Request) -> Response:
    return bare(_page(request, "quotations"))


async def studies(request: Request) -> Response:
    return bare(_page(request, "studies"))


async def decide(request: Request) -> Response:
    body = await _body(request)
    return bare(emulator_state(request).tasking.decide_quotation(request.path_params["quotation_id"], body))


async def choose(request: Request) -> Response:
    body = await _body(request)
    return bare(
        emulator_state(request).tasking.choose_feasibility(request.path_params["feasibility_id"], body)
    )


async def _body(request: Request) -> Any:
    try:
        return await json_body(request)
    except ApiError:
        raise bad_request("Request body must be a JSON object") from None
