"""Tasking quotations and feasibility studies, the world side (both generations share them).

Studies and quotations are created by the orders module when a tasking order is placed (see the
life cycle in ``orders/models.py``); the decisions made here drive that order.

Behaviour the UP42 documentation leaves open (our assumptions):

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
from typing import TYPE_CHECKING, Any

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator import world
from up42_provider.emulator.clock import iso
from up42_provider.emulator.http import ApiError, bad_request

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

FEASIBILITY_STUDY_REQUIRED = "FEASIBILITY_STUDY_REQUIRED"
FEASIBILITY_STUDY_MAY_BE_REQUIRED = "FEASIBILITY_STUDY_MAY_BE_REQUIRED"


NOT_DECIDED, ACCEPTED, REJECTED = "NOT_DECIDED", "ACCEPTED", "REJECTED"
QUOTATION_DECISIONS = (NOT_DECIDED, ACCEPTED, REJECTED)
FEASIBILITY_DECISIONS = (NOT_DECIDED, ACCEPTED)
COMMON_SORT = ("createdAt", "updatedAt", "decisionAt", "decision", "id", "orderId", "workspaceId")
DEFAULT_SIZE, MAX_SIZE = 10, 2000


def feasibility_integration(collection: str) -> str | None:
    """The feasibility integration the glossary lists for a collection (``None`` when it has none).

    ``FEASIBILITY_STUDY_REQUIRED``: every order gets a study by hand; ``..._MAY_BE_REQUIRED``: only
    above ``FEASIBILITY_AREA_KM2`` or when tagged ``emulator:feasibility``.
    """
    spec = world.SPECS.get(collection)
    found = [i for i in spec.integrations if i.startswith("FEASIBILITY_STUDY_")] if spec else []
    return found[0] if found else None


def coverage(target: BaseGeometry, covered: BaseGeometry) -> dict[str, Any]:
    """Order coverage: covered and remaining part of an order's geometry, each with km² and percent."""
    total = world.area_km2(target) or 1.0

    def metrics(part: BaseGeometry) -> dict[str, Any]:
        area = world.area_km2(part) if not part.is_empty else 0.0
        features = [] if part.is_empty else [{"type": "Feature", "properties": {}, "geometry": mapping(part)}]
        return {
            "sqKmArea": round(area, 2),
            "percentage": round(100.0 * area / total, 1),
            "geometry": {"type": "FeatureCollection", "features": features},
        }

    return {"covered": metrics(covered), "remainder": metrics(target.difference(covered))}


class TaskingStore:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.quotations: dict[str, dict[str, Any]] = {}
        self.studies: dict[str, dict[str, Any]] = {}
        self._order: dict[str, int] = {}

    def _remember(self, obj_id: str) -> None:
        self._order[obj_id] = len(self._order)

    # -- creation (used by orders, under state.lock) ---------------------------------------------------------
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

    # -- quotations / feasibility studies --------------------------------------------------------------------
    def select(
        self,
        objects: dict[str, dict[str, Any]],
        wanted: dict[str, str | None],
        decisions: set[str],
        sort_field: str,
        descending: bool,
    ) -> list[dict[str, Any]]:
        """Copies of the quotations or studies matching ``wanted`` (exact) and ``decisions`` (any)."""
        with self._state.lock:
            selected = [
                dict(obj)
                for obj in objects.values()
                if all(not value or obj[name] == value for name, value in wanted.items())
                and (not decisions or obj["decision"] in decisions)
            ]
        selected.sort(key=lambda o: self._order[o["id"]])
        selected.sort(
            key=lambda o: (o[sort_field] is not None, o[sort_field] if o[sort_field] is not None else ""),
            reverse=descending,
        )
        return selected

    # -- deciding a quotation --------------------------------------------------------------------------------
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
                order = state.orders.records.get(quotation["orderId"])
                if order is not None and order.budget_id:  # the quotation stays open on a refusal
                    state.budgets.require(order.budget_id, quotation["creditsPrice"])
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

    # -- choosing a feasibility option -----------------------------------------------------------------------
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
