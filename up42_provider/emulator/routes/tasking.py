"""Tasking quotations and feasibility studies: E27-E30 (API.md §7.5, §8.6), bare JSON.

Studies and quotations are created by the orders module when a tasking order is placed (see the
life cycle in ``routes/orders.py``); the decisions made here drive that order.

Behaviour where API.md is silent (our assumptions):

* Lists: ``size`` defaults to 10 (capped at 2000), ``sort`` accepts ``createdAt``, ``updatedAt``,
  ``decisionAt``, ``decision``, ``creditsPrice`` (quotations), ``id``, ``orderId``,
  ``workspaceId``; ``decision`` may be repeated or comma-separated, and one invalid value drops the
  whole decision filter (as documented).
* PATCH checks run in this order: body (400 ``Bad request``), existence (404), already decided
  (405), then, when accepting a quotation, the credit balance (402 problem, the quotation stays
  ``NOT_DECIDED``). An ``acceptedOptionId`` that is not an option of the study is a 404 titled
  ``Resource (FeasibilityOption) not found with Id='<id>'.``
* Feasibility studies of orders that need no manual study are ``AUTO``, without options, and
  accepted at creation (as seen in real listings); only ``MANUAL`` studies can be decided.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from up42_provider.emulator.clock import iso
from up42_provider.emulator.http import (
    ApiError,
    bare,
    json_body,
    query_int,
    query_list,
    query_sort,
    route,
    spring_page,
)
from up42_provider.emulator.state import EmulatorState

NOT_DECIDED, ACCEPTED, REJECTED = "NOT_DECIDED", "ACCEPTED", "REJECTED"
QUOTATION_DECISIONS = (NOT_DECIDED, ACCEPTED, REJECTED)
FEASIBILITY_DECISIONS = (NOT_DECIDED, ACCEPTED)
COMMON_SORT = ("createdAt", "updatedAt", "decisionAt", "decision", "id", "orderId", "workspaceId")
DEFAULT_SIZE, MAX_SIZE = 10, 2000
BAD_REQUEST = "Bad request"


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, title=BAD_REQUEST)


class TaskingStore:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.quotations: dict[str, dict[str, Any]] = {}
        self.studies: dict[str, dict[str, Any]] = {}
        self._order: dict[str, int] = {}

    def _remember(self, obj_id: str) -> None:
        self._order[obj_id] = len(self._order)

    # -- creation (used by orders, under state.lock) ----------------------------------------------
    def create_quotation(self, order: dict[str, Any], credits_price: int, when: datetime) -> dict[str, Any]:
        quotation = {
            "id": self._state.new_id(),
            "createdAt": iso(when),
            "updatedAt": iso(when),
            "accountId": self._state.config.account_id,
            "workspaceId": order["workspaceId"],
            "orderId": order["id"],
            "creditsPrice": int(credits_price),
            "decision": NOT_DECIDED,
            "decisionById": None,
            "decisionByType": None,
            "decisionAt": None,
        }
        self.quotations[quotation["id"]] = quotation
        self._remember(quotation["id"])
        return dict(quotation)

    def create_feasibility(
        self, order: dict[str, Any], options: list[str], when: datetime, *, manual: bool
    ) -> dict[str, Any]:
        study_id = self._state.new_id()
        study = {
            "id": study_id,
            "createdAt": iso(when),
            "updatedAt": iso(when),
            "accountId": self._state.config.account_id,
            "workspaceId": order["workspaceId"],
            "orderId": order["id"],
            "type": "MANUAL" if manual else "AUTO",
            "options": [
                {
                    "id": self._state.new_id(),
                    "createdAt": iso(when),
                    "updatedAt": iso(when),
                    "studyId": study_id,
                    "description": text,
                }
                for text in options
            ],
            "decision": NOT_DECIDED if manual else ACCEPTED,
            "decisionById": None,
            "decisionByType": None,
            "decisionAt": None if manual else iso(when),
            "decisionOption": None,
        }
        self.studies[study_id] = study
        self._remember(study_id)
        return dict(study)

    # -- E27 / E29 ----------------------------------------------------------------------------------
    def page(
        self,
        request: Request,
        objects: dict[str, dict[str, Any]],
        decisions: tuple[str, ...],
        extra_sort: tuple[str, ...] = (),
    ) -> dict:
        field, descending = query_sort(request, (*COMMON_SORT, *extra_sort), "createdAt")
        page = query_int(request, "page", 0, minimum=0)
        size = min(query_int(request, "size", DEFAULT_SIZE, minimum=1), MAX_SIZE)
        wanted = {name: request.query_params.get(name) for name in ("id", "workspaceId", "orderId")}
        decision_filter = {d.upper() for d in query_list(request, "decision")}
        if not decision_filter <= set(decisions):
            decision_filter = set()  # one invalid value drops the whole filter (API.md §8.6)
        with self._state.lock:
            selected = [
                dict(obj)
                for obj in objects.values()
                if all(not value or obj[name] == value for name, value in wanted.items())
                and (not decision_filter or obj["decision"] in decision_filter)
            ]
        selected.sort(key=lambda o: self._order[o["id"]])
        selected.sort(
            key=lambda o: (o[field] is not None, o[field] if o[field] is not None else ""), reverse=descending
        )
        return spring_page(selected, page, size, sort_field=field)

    # -- E28 ------------------------------------------------------------------------------------------
    def decide_quotation(self, quotation_id: str, body: Any) -> dict[str, Any]:
        decision = body.get("decision") if isinstance(body, dict) else None
        if decision not in (ACCEPTED, REJECTED):
            raise bad_request("'decision' must be ACCEPTED or REJECTED")
        state = self._state
        with state.lock:
            quotation = self.quotations.get(quotation_id)
            if quotation is None:
                raise ApiError(404, "Resource does not exist.")
            if quotation["decision"] != NOT_DECIDED:
                raise ApiError(405, "Resource (Quotation) is write-protected.")
            if decision == ACCEPTED:
                state.credits.require(quotation["creditsPrice"])
            now = state.clock.now()
            quotation.update(
                decision=decision,
                decisionById=state.user_id,
                decisionByType="USER",
                decisionAt=iso(now),
                updatedAt=iso(now),
            )
            state.orders.quotation_decided(quotation["orderId"], decision, quotation["creditsPrice"], now)
            return dict(quotation)

    # -- E30 ------------------------------------------------------------------------------------------
    def choose_feasibility(self, study_id: str, body: Any) -> dict[str, Any]:
        option_id = body.get("acceptedOptionId") if isinstance(body, dict) else None
        if not isinstance(option_id, str) or not option_id:
            raise bad_request("'acceptedOptionId' must be the id of one of the study's options")
        state = self._state
        with state.lock:
            study = self.studies.get(study_id)
            if study is None:
                raise ApiError(404, f"Resource (FeasibilityStudy) not found with Id='{study_id}'.")
            if study["decision"] != NOT_DECIDED:
                raise ApiError(405, "Resource (FeasibilityStudy) is write-protected.")
            index = next((i for i, o in enumerate(study["options"]) if o["id"] == option_id), None)
            if index is None:
                raise ApiError(404, f"Resource (FeasibilityOption) not found with Id='{option_id}'.")
            now = state.clock.now()
            study.update(
                decision=ACCEPTED,
                decisionById=state.user_id,
                decisionByType="USER",
                decisionAt=iso(now),
                updatedAt=iso(now),
                decisionOption=dict(study["options"][index]),
            )
            state.orders.feasibility_accepted(study["orderId"], index, now)
            return dict(study)


def install(state: EmulatorState) -> list[BaseRoute]:
    store = TaskingStore(state)
    state.tasking = store

    async def quotations(request: Request) -> Response:
        return bare(store.page(request, store.quotations, QUOTATION_DECISIONS, ("creditsPrice",)))

    async def studies(request: Request) -> Response:
        return bare(store.page(request, store.studies, FEASIBILITY_DECISIONS))

    async def decide(request: Request) -> Response:
        body = await _body(request)
        return bare(store.decide_quotation(request.path_params["quotation_id"], body))

    async def choose(request: Request) -> Response:
        body = await _body(request)
        return bare(store.choose_feasibility(request.path_params["feasibility_id"], body))

    return [
        *route("/v2/tasking/quotation", quotations, ["GET"]),
        *route("/v2/tasking/quotation/{quotation_id}", decide, ["PATCH"]),
        *route("/v2/tasking/feasibility", studies, ["GET"]),
        *route("/v2/tasking/feasibility/{feasibility_id}", choose, ["PATCH"]),
    ]


async def _body(request: Request) -> Any:
    try:
        return await json_body(request)
    except ApiError:
        raise bad_request("Request body must be a JSON object") from None
