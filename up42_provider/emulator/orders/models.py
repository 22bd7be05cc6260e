"""Orders, the world side: records and the one store behind both generations' order routes.

Life cycle (nominal durations, divided by ``speed``):

* archive order: ``PLACED`` 10 s -> ``BEING_FULFILLED`` 60 s -> ``FULFILLED`` with one asset. The delivery
  archive is built while the order is ``BEING_FULFILLED``; the order turns ``FULFILLED`` only once it exists,
  so the asset's ``size`` is exact from the start.
* tasking order (data product of a ``TASKING`` collection): ``PLACED`` with a sub-status. Orders that need a
  manual feasibility study (tag ``emulator:feasibility`` or an AOI above 500 km²) get a ``MANUAL`` study with
  options (``FEASIBILITY_WAITING_RESPONSE``); choosing an option (``tasking.responses.choose``) issues the
  quotation. All others get an ``AUTO`` study, already accepted, and the quotation at once
  (``QUOTATION_WAITING_RESPONSE``). Accepting the quotation (``tasking.responses.decide``) charges its
  ``creditsPrice`` and starts the acquisition (``BEING_FULFILLED``, ``QUOTATION_ACCEPTED``), ``FULFILLED`` 300
  s later; rejecting it makes the order ``FAILED`` (nothing charged).
* failure triggers (both kinds): tag ``emulator:fail`` -> ``FAILED``, tag ``emulator:fail-permanently`` ->
  ``FAILED_PERMANENTLY``, each when the delivery would have completed (after ``BEING_FULFILLED``).
* orders placed through today's generation (``orders/responses_current.py``) start earlier: ``CREATED`` 60 s
  (the only time, with ``PLACEMENT_FAILED``, they can be cancelled) -> ``BEING_PLACED`` 5 s -> ``PLACED``,
  then as above. A tasking order waits ``PLACED`` 30 s in ``FEASIBILITY_WAITING_UPLOAD`` (manual study) or
  ``QUOTATION_WAITING_UPLOAD`` before its study and quotation appear, and 30 s in ``QUOTATION_WAITING_UPLOAD``
  after a study option is chosen. Their failures speak today's vocabulary: ``emulator:fail`` and
  ``emulator:fail-permanently`` end ``FAILED_PERMANENTLY``, tag ``emulator:placement-failed`` stops at
  ``PLACEMENT_FAILED``, a rejected quotation ends ``FAILED_PERMANENTLY`` with sub-status
  ``QUOTATION_REJECTED``. Cancelling (``CANCELED``) refunds the order in full.
* products whose collection is ``FEASIBILITY_STUDY_REQUIRED`` (``tasking/models.py``) always get a ``MANUAL``
  study.

Behaviour the UP42 documentation leaves open (our assumptions):

* Credits (``_charge`` is the one place an order spends; ``_refund`` the one it gives back): an archive order
  is charged exactly its estimate at placement (insufficient balance -> 402, nothing created); a tasking order
  is charged the quotation's ``creditsPrice`` when the quotation is accepted. A failed order is **refunded**
  in full (a positive ``ORDER`` record in the credit history).
* Another ``{workspace_id}`` than the project's is a **403** v1 error (as the other v1 routes). Unknown order:
  404 v1 error ``"Order <id> not found"``. Invalid body, unknown data product, unknown image, image of another
  collection or parameter errors: 400 v1 error listing them.
* Tags are stored exactly as sent; ``orders.responses.list_orders`` ``tags`` (repeated) matches orders with
  **any** of them. ``orders.responses.list_orders`` without ``format=paginated`` answers the plain list (the
  legacy form); ``size`` defaults to 50 (capped at 2000). ``orderDetails`` echoes the submitted ``params``;
  tasking orders carry their sub-status both as ``subStatus`` and inside ``orderDetails`` (null once
  terminal).
* A ``order.status`` event is emitted on creation and on every status change.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shapely.geometry import Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator import world
from up42_provider.emulator.clock import iso, parse_iso
from up42_provider.emulator.http import ApiError, bad_request
from up42_provider.emulator.tasking.models import FEASIBILITY_STUDY_REQUIRED, feasibility_integration

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

PLACED, BEING_FULFILLED, FULFILLED = "PLACED", "BEING_FULFILLED", "FULFILLED"
FAILED, FAILED_PERMANENTLY = "FAILED", "FAILED_PERMANENTLY"
# Only orders placed through today's generation pass through these (the 2023 one starts at PLACED).
CREATED, BEING_PLACED, PLACEMENT_FAILED, CANCELED = "CREATED", "BEING_PLACED", "PLACEMENT_FAILED", "CANCELED"
CANCELLABLE = frozenset({CREATED, PLACEMENT_FAILED})
TERMINAL = frozenset({FULFILLED, FAILED, FAILED_PERMANENTLY, CANCELED})
GEN_2023, GEN_CURRENT = "2023", "current"
ORDER_TYPES = ("ARCHIVE", "TASKING")
SORT_FIELDS = ("createdAt", "updatedAt", "type", "status", "dataProvider")
FAIL_TAGS = {"emulator:fail": FAILED, "emulator:fail-permanently": FAILED_PERMANENTLY}
# Today's vocabulary has no FAILED: both failure tags end FAILED_PERMANENTLY there, and one more tag
# stops the order at PLACEMENT_FAILED (where it waits to be cancelled).
FAIL_TAGS_CURRENT = {
    "emulator:fail": FAILED_PERMANENTLY,
    "emulator:fail-permanently": FAILED_PERMANENTLY,
    "emulator:placement-failed": PLACEMENT_FAILED,
}
FEASIBILITY_TAG = "emulator:feasibility"
FEASIBILITY_AREA_KM2 = 500.0
# Nominal seconds (API contract of the emulator, CONTRACT.md).
PLACED_SECONDS, FULFILMENT_SECONDS, ACQUISITION_SECONDS = 10.0, 60.0, 300.0
# Today's generation: how long a new order stays CREATED (cancellable) and BEING_PLACED.
CREATED_SECONDS, BEING_PLACED_SECONDS = 60.0, 5.0
# Today's generation: how long UP42 takes to upload a feasibility study or a quotation.
UPLOAD_SECONDS = 30.0
LIST_DEFAULT_SIZE, LIST_MAX_SIZE = 50, 2000
# (description, price factor) of the options of a manual feasibility study.
FEASIBILITY_OPTIONS = (
    ("Feasibility option A: standard tasking, acquisition attempts over the whole window", 1.0),
    ("Feasibility option B: priority tasking, first acquisition attempt within 48 hours", 1.35),
)
SYSTEM = {"id": "system", "type": "INTERNAL"}


@dataclass
class ProductFacts:
    """What an order needs to know about its data product (from the ``glossary.responses.data_products``
    item)."""

    id: str
    title: str
    type: str
    collection: str
    host: str
    provider: str
    producer: str


@dataclass
class OrderRecord:
    order: dict[str, Any]
    product: ProductFacts
    params: dict[str, Any]
    seq: int
    fail_status: str | None = None
    next_at: datetime | None = None
    feature: dict[str, Any] | None = None
    asset_id: str | None = None
    charged: int = 0
    base_price: int = 0
    quotation_id: str | None = None
    feasibility_id: str | None = None
    generation: str = GEN_2023  # the wire it was placed through (decides where its life cycle starts)
    display_name: str = ""
    budget_id: str | None = None
    charged_budget_id: str | None = None  # the budget the charge was booked on (a refund goes back there)
    acquiring_since: datetime | None = None  # tasking: when the acquisition started (coverage grows)
    upload: str | None = None  # today's tasking: "study" or "quotation" is being uploaded (next_at)
    quotation_factor: float = 1.0  # price factor of the chosen feasibility option

    @property
    def status(self) -> str:
        return self.order["status"]


@dataclass
class OrderRequest:
    """One order to create, already checked: a 2023 order body, or one valid feature of a batch."""

    facts: ProductFacts
    params: dict[str, Any]  # canonical: the geometry inside (``aoi`` / ``geometry``), as 2023 stored it
    tags: list[str]
    credits: int
    feature: dict[str, Any] | None  # the catalogue scene of an archive order
    size_km2: float = 0.0


def product_facts(data_product_id: str) -> tuple[dict[str, Any], ProductFacts]:
    product = world.data_product(data_product_id) if isinstance(data_product_id, str) else None
    if not product:
        raise bad_request(f"Data product {data_product_id} does not exist")
    collection = product.get("collection") or {}
    host = collection.get("host") or {}
    name = product.get("collectionName") or collection.get("name") or ""
    host_name = host.get("name") or collection.get("hostName") or world.host_of(name) or ""
    facts = ProductFacts(
        id=product["id"],
        title=(product.get("productConfiguration") or {}).get("title") or "",
        type=str(collection.get("type") or "ARCHIVE").upper(),
        collection=name,
        host=host_name,
        provider=host.get("title") or host_name,
        producer=collection.get("producerName")
        or (collection.get("producer") or {}).get("name")
        or host_name,
    )
    return product, facts


def parse_order_body(body: Any) -> tuple[str, dict[str, Any], list[str]]:
    if not isinstance(body, dict):
        raise bad_request("Order body must be a JSON object with 'dataProduct' and 'params'")
    data_product, params, tags = body.get("dataProduct"), body.get("params"), body.get("tags")
    errors = []
    if not isinstance(data_product, str) or not data_product:
        errors.append("'dataProduct' must be a data product id")
    if not isinstance(params, dict):
        errors.append("'params' must be an object")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        errors.append("'tags' must be a list of strings")
    if errors:
        raise bad_request("Invalid order: " + "; ".join(errors))
    assert isinstance(data_product, str) and isinstance(params, dict)
    return data_product, params, list(tags or [])


def default_display_name(params: dict[str, Any], data_product_id: str) -> str:
    """The name of an order placed without one (2023 orders): ``params.displayName`` or a made-up one."""
    name = params.get("displayName")
    return name if isinstance(name, str) and name else f"{data_product_id} order"


def _area_km2(geometry: Any) -> float:
    try:
        return float(world.area_km2(shape(geometry)))
    except Exception:
        return 0.0


class OrderStore:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.records: dict[str, OrderRecord] = {}
        self._active: dict[str, OrderRecord] = {}  # orders with a pending timed transition
        self._seq = 0

    # -- helpers ---------------------------------------------------------------------------------------------
    def _duration(self, nominal: float) -> timedelta:
        return timedelta(seconds=self._state.config.duration(nominal))

    def check_workspace(self, workspace_id: str) -> None:
        if workspace_id != self._state.config.workspace_id:
            raise ApiError(403, f"Access to workspace {workspace_id} is forbidden", title="Forbidden")

    def validate(self, body: Any) -> OrderRequest:
        """Everything 2023 placement and estimate check before anything happens (400 naming each problem)."""
        data_product_id, params, tags = parse_order_body(body)
        product, facts = product_facts(data_product_id)
        errors = self.param_errors(product, params)
        if errors:
            raise bad_request("Invalid order parameters: " + "; ".join(errors))
        return self.prepare(product, facts, params, tags)

    def param_errors(self, product: dict[str, Any], params: dict[str, Any]) -> list[str]:
        """Why ``params`` (canonical, geometry inside) cannot be ordered; empty when they can."""
        return list(world.validate_order_params(product, params, catalog=self._state.catalog))

    def prepare(
        self, product: dict[str, Any], facts: ProductFacts, params: dict[str, Any], tags: list[str]
    ) -> OrderRequest:
        """Price checked ``params`` and find their scene (400 when the scene or price is missing)."""
        catalog = self._state.catalog
        feature = None
        geometry_key = "aoi" if facts.type == "ARCHIVE" else "geometry"
        area = _area_km2(params.get(geometry_key))
        if facts.type == "ARCHIVE":
            scene = catalog.scene(params["id"]) if catalog is not None else None
            if scene is None:
                raise bad_request(f"Image '{params.get('id')}' not found in the catalog")
            feature = scene.feature()
            with contextlib.suppress(Exception):
                area = float(world.area_km2(shape(params["aoi"]).intersection(shape(scene.geometry))))
        try:
            credits = int(world.estimate_order_credits(product, params, catalog=catalog))
        except ValueError as exc:
            raise bad_request(f"Invalid order parameters: {exc}") from None
        spec = world.SPECS.get(facts.collection)
        size = max(area, spec.min_area_km2 if spec else 0.0)
        return OrderRequest(facts, params, tags, credits, feature, round(size, 2))

    def _emit(self, record: OrderRecord, when: datetime) -> None:
        order = record.order
        self._state.emit(
            "order.status",
            {
                "orderId": order["id"],
                "workspaceId": order["workspaceId"],
                "orderType": order["type"],
                "status": order["status"],
                "statusChangedAt": iso(when),
            },
        )

    def _set(
        self, record: OrderRecord, status: str, when: datetime, sub_status: Any = ..., by: Any = None
    ) -> None:
        order = record.order
        changed = order["status"] != status
        order["status"] = status
        order["updatedAt"] = iso(when)
        order["updatedBy"] = dict(by or SYSTEM)
        if sub_status is not ... and order["type"] == "TASKING":
            order["subStatus"] = sub_status
            order["orderDetails"]["subStatus"] = sub_status
        if changed:
            self._emit(record, when)

    def _refund(self, record: OrderRecord, when: datetime, reason: str = "Refund for failed order") -> None:
        amount, record.charged = record.charged, 0
        order_id = record.order["id"]
        details: dict[str, Any] = {"id": order_id}
        if record.charged_budget_id:
            details["budgetId"] = record.charged_budget_id
        self._state.credits.refund(amount, "ORDER", f"{reason} {order_id}", details)

    def _charge(self, record: OrderRecord, amount: int) -> None:
        """The one place an order spends credits, booked on its budget (checked first) if it has one."""
        order = record.order
        if record.budget_id:
            self._state.budgets.require(record.budget_id, amount)
        self._state.credits.charge(
            amount,
            "ORDER",
            f"Consumption for order {order['id']}",
            {
                "id": order["id"],
                "consumption": {
                    "accountId": self._state.config.account_id,
                    "workspaceId": order["workspaceId"],
                    "userId": order["userId"],
                    "orderId": order["id"],
                    "dataProductId": record.product.id,
                    "dataProductName": record.product.title,
                    "dataProvider": record.product.provider,
                    "creditsUsed": amount,
                },
                **({"budgetId": record.budget_id} if record.budget_id else {}),
            },
        )
        record.charged += amount
        record.charged_budget_id = record.budget_id

    # -- place / estimate ------------------------------------------------------------------------------------
    def estimate(self, body: Any) -> int:
        return self.validate(body).credits

    def place(self, workspace_id: str, body: Any) -> dict[str, Any]:
        """2023 placement: one order, PLACED at once."""
        self.check_workspace(workspace_id)
        with self._state.lock:
            request = self.validate(body)
            if request.facts.type != "TASKING":
                self._state.credits.require(request.credits)
            return self.public(self._create(workspace_id, request, GEN_2023))

    def place_batch(
        self, workspace_id: str, requests: list[OrderRequest], display_name: str, budget_id: str | None
    ) -> list[OrderRecord]:
        """Today's batch placement: all orders or none (402 before any when credits do not cover all)."""
        self.check_workspace(workspace_id)
        with self._state.lock:
            total = sum(r.credits for r in requests if r.facts.type != "TASKING")
            if budget_id:  # before any order exists: a refused budget places nothing
                self._state.budgets.require(budget_id, total)
            self._state.credits.require(total)
            return [
                self._create(workspace_id, r, GEN_CURRENT, display_name=display_name, budget_id=budget_id)
                for r in requests
            ]

    def _create(
        self,
        workspace_id: str,
        request: OrderRequest,
        generation: str,
        *,
        display_name: str | None = None,
        budget_id: str | None = None,
    ) -> OrderRecord:
        """Store a new order (under ``state.lock``, credits checked): 2023 at PLACED, today's at CREATED."""
        state = self._state
        facts, params, tags = request.facts, request.params, request.tags
        now = state.clock.now()
        user = {"id": state.user_id, "type": "USER"}
        current = generation == GEN_CURRENT
        order: dict[str, Any] = {
            "id": state.new_id(),
            "userId": state.user_id,
            "workspaceId": workspace_id,
            "dataProvider": facts.provider,
            "status": CREATED if current else PLACED,
            "type": facts.type,
            "dataProductId": facts.id,
            "tags": list(tags),
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "assets": [],
            "createdBy": dict(user),
            "updatedBy": dict(user),
            "orderDetails": dict(params),
        }
        self._seq += 1
        record = OrderRecord(order=order, product=facts, params=params, seq=self._seq, generation=generation)
        record.display_name = display_name or default_display_name(params, facts.id)
        record.budget_id = budget_id
        fail_tags = FAIL_TAGS_CURRENT if current else FAIL_TAGS
        record.fail_status = next((fail_tags[t] for t in tags if t in fail_tags), None)
        self.records[order["id"]] = record
        record.feature = request.feature
        if facts.type == "TASKING":
            record.base_price = request.credits
        else:
            self._charge(record, request.credits)
        if current:
            record.next_at = now + self._duration(CREATED_SECONDS)
            self._active[order["id"]] = record
        elif facts.type == "TASKING":
            sub = self._open_tasking(record, now)
            order["subStatus"] = sub
            order["orderDetails"]["subStatus"] = sub
        else:
            record.next_at = now + self._duration(PLACED_SECONDS)
            self._active[order["id"]] = record
        self._emit(record, now)
        return record

    # -- today's generation: update and cancellation ---------------------------------------------------------
    def record(self, order_id: str) -> OrderRecord:
        """The order ``order_id`` of any generation (404 problem when there is none)."""
        record = self.records.get(order_id)
        if record is None:
            raise ApiError(404, f"Order {order_id} not found", title="Resource does not exist.")
        return record

    def update(self, order_id: str, changes: dict[str, Any]) -> OrderRecord:
        """Apply a checked merge-patch (``tags`` and/or ``budgetId``; ``None`` tags clear them)."""
        state = self._state
        with state.lock:
            record = self.record(order_id)
            if "tags" in changes:
                record.order["tags"] = list(changes["tags"] or [])
            if "budgetId" in changes:
                record.budget_id = changes["budgetId"]
            if changes:
                record.order["updatedAt"] = iso(state.clock.now())
                record.order["updatedBy"] = {"id": state.user_id, "type": "USER"}
            return record

    def cancel(self, order_id: str) -> OrderRecord:
        """Cancel a CREATED or PLACEMENT_FAILED order and give its credits back (409 otherwise)."""
        state = self._state
        with state.lock:
            record = self.record(order_id)
            if record.status not in CANCELLABLE:
                raise ApiError(
                    409,
                    f"Order {order_id} cannot be canceled in status {record.status}; only CREATED or "
                    "PLACEMENT_FAILED orders can",
                    title="Conflict",
                )
            now = state.clock.now()
            self._refund(record, now, "Refund for canceled order")
            self._set(record, CANCELED, now, None, by={"id": state.user_id, "type": "USER"})
            record.next_at = None
            self._active.pop(order_id, None)
            return record

    @staticmethod
    def _needs_study(record: OrderRecord) -> bool:
        """Whether a tasking order gets a MANUAL feasibility study (options to choose from)."""
        geometry = record.params.get("geometry") or record.params.get("aoi")
        return (
            FEASIBILITY_TAG in record.order["tags"]
            or _area_km2(geometry) > FEASIBILITY_AREA_KM2
            or feasibility_integration(record.product.collection) == FEASIBILITY_STUDY_REQUIRED
        )

    def _open_tasking(self, record: OrderRecord, now: datetime) -> str:
        """Create the order's feasibility study (and quotation unless studied by hand); the sub-status."""
        tasking = self._state.tasking
        manual = self._needs_study(record)
        options = [text for text, _ in FEASIBILITY_OPTIONS] if manual else []
        study = tasking.create_feasibility(record.order, options, now, manual=manual)
        record.feasibility_id = study["id"]
        if manual:
            sub = "FEASIBILITY_WAITING_RESPONSE"
        else:
            quotation = tasking.create_quotation(record.order, record.base_price, now)
            record.quotation_id = quotation["id"]
            sub = "QUOTATION_WAITING_RESPONSE"
        return sub

    # -- callbacks of the tasking routes (under state.lock) --------------------------------------------------
    def feasibility_accepted(self, order_id: str, option_index: int, when: datetime) -> None:
        """A study option was chosen: issue the quotation for it."""
        record = self.records.get(order_id)
        if record is None or record.status in TERMINAL or record.quotation_id or record.upload:
            return
        factor = FEASIBILITY_OPTIONS[option_index][1] if 0 <= option_index < len(FEASIBILITY_OPTIONS) else 1.0
        record.quotation_factor = factor
        if record.generation == GEN_CURRENT:  # UP42 takes a while to upload the quotation
            record.upload = "quotation"
            record.next_at = when + self._duration(UPLOAD_SECONDS)
            self._active[order_id] = record
            self._set(record, record.status, when, "QUOTATION_WAITING_UPLOAD")
            return
        self._issue_quotation(record, when)

    def _issue_quotation(self, record: OrderRecord, when: datetime) -> None:
        price = round(record.base_price * record.quotation_factor)
        record.quotation_id = self._state.tasking.create_quotation(record.order, price, when)["id"]
        self._set(record, record.status, when, "QUOTATION_WAITING_RESPONSE")

    def quotation_decided(self, order_id: str, decision: str, price: int, when: datetime) -> None:
        """ACCEPTED: charge ``price`` (caller checked the balance) and start the acquisition."""
        record = self.records.get(order_id)
        if record is None or record.status in TERMINAL:
            return
        user = {"id": self._state.user_id, "type": "USER"}
        if decision != "ACCEPTED":
            if record.generation == GEN_CURRENT:
                self._set(record, FAILED_PERMANENTLY, when, "QUOTATION_REJECTED", by=user)
            else:
                self._set(record, FAILED, when, None, by=user)
            return
        self._charge(record, price)
        self._set(record, BEING_FULFILLED, when, "QUOTATION_ACCEPTED", by=user)
        record.acquiring_since = when
        record.next_at = when + self._duration(ACQUISITION_SECONDS)
        self._active[order_id] = record
        if record.fail_status is None:
            record.feature = self._tasking_feature(record, when)
            self._start_asset(record)

    def acquired(self, order_id: str) -> tuple[str, BaseGeometry, BaseGeometry]:
        """Type, target and covered part of an order: tasking acquisitions sweep west to east."""
        state = self._state
        with state.lock:
            record = self.record(order_id)
            target = tasking_footprint(record.params)
            if record.status == FULFILLED:
                fraction = 1.0
            elif record.status == BEING_FULFILLED and record.acquiring_since is not None:
                elapsed = (state.clock.now() - record.acquiring_since).total_seconds()
                fraction = min(1.0, elapsed / state.config.duration(ACQUISITION_SECONDS))
            else:
                fraction = 0.0
            west, south, east, north = target.bounds
            if fraction <= 0:
                covered: BaseGeometry = Polygon()
            elif fraction >= 1:
                covered = target
            else:
                covered = target.intersection(box(west, south, west + fraction * (east - west), north))
            return record.product.type, target, covered

    # -- progression -----------------------------------------------------------------------------------------
    def advance(self, now: datetime) -> None:
        for order_id, record in list(self._active.items()):
            while record.next_at is not None and record.next_at <= now and record.status not in TERMINAL:
                if not self._step(record, now):
                    break
            if record.next_at is None or record.status in TERMINAL:
                del self._active[order_id]

    def _step(self, record: OrderRecord, now: datetime) -> bool:
        """Apply the transition due at ``record.next_at``; False when it has to wait."""
        due = record.next_at
        assert due is not None
        if record.status == CREATED:  # today's generation only: the cancellable window is over
            self._set(record, BEING_PLACED, due)
            record.next_at = due + self._duration(BEING_PLACED_SECONDS)
            return True
        if record.status == BEING_PLACED:
            if record.fail_status == PLACEMENT_FAILED:
                self._set(record, PLACEMENT_FAILED, due)  # waits there until cancelled
                record.next_at = None
            elif record.product.type == "TASKING":  # UP42 prepares the study or the quotation first
                waiting = (
                    "FEASIBILITY_WAITING_UPLOAD" if self._needs_study(record) else "QUOTATION_WAITING_UPLOAD"
                )
                self._set(record, PLACED, due, waiting)
                record.upload = "study"
                record.next_at = due + self._duration(UPLOAD_SECONDS)
            else:
                self._set(record, PLACED, due)
                record.next_at = due + self._duration(PLACED_SECONDS)
            return True
        if record.upload == "study":  # then the decisions drive the order on
            record.upload, record.next_at = None, None
            self._set(record, PLACED, due, self._open_tasking(record, due))
            return True
        if record.upload == "quotation":
            record.upload, record.next_at = None, None
            self._issue_quotation(record, due)
            return True
        if record.status == PLACED:
            self._set(record, BEING_FULFILLED, due)
            record.next_at = due + self._duration(FULFILMENT_SECONDS)
            if record.fail_status is None:
                self._start_asset(record)
            return True
        if record.fail_status is not None:
            self._finish_failed(record, record.fail_status, due)
            return True
        assets = self._state.assets
        asset_id = record.asset_id
        build = assets.build_status(asset_id) if asset_id else "failed"
        if build == "building":
            return False
        if build == "failed" or not asset_id:  # no asset id: nothing was built
            self._finish_failed(
                record, FAILED_PERMANENTLY if record.generation == GEN_CURRENT else FAILED, now
            )
            return True
        built_at = assets.records[asset_id].built_at or now
        when = max(due, built_at)
        assets.publish(asset_id, when)
        record.order["assets"] = [asset_id]
        self._set(record, FULFILLED, when, None)
        record.next_at = None
        return True

    def _finish_failed(self, record: OrderRecord, status: str, when: datetime) -> None:
        if record.asset_id:
            self._state.assets.discard(record.asset_id)
            record.asset_id = None
        self._refund(record, when)
        self._set(record, status, when, None)
        record.next_at = None

    def _start_asset(self, record: OrderRecord) -> None:
        assert record.feature is not None
        aoi = record.params.get("aoi") or record.params.get("geometry")
        facts = record.product
        asset = self._state.assets.create(
            record.order,
            record.feature,
            aoi=aoi if isinstance(aoi, dict) else None,
            source=record.order["type"],
            collection_name=facts.collection,
            producer_name=(record.feature.get("properties") or {}).get("producer") or facts.producer,
            host=facts.host,
            title=record.params.get("displayName")
            if isinstance(record.params.get("displayName"), str)
            else None,
            # Today's deliveries are files (the item's asset the GeoTIFF); 2023's one ZIP archive.
            layout="files" if record.generation == GEN_CURRENT else "archive",
        )
        record.asset_id = asset["id"]

    def _tasking_feature(self, record: OrderRecord, now: datetime) -> dict[str, Any]:
        """The acquired scene of a tasking order: the ordered geometry, acquired inside the window."""
        params, facts = record.params, record.product
        rng = random.Random(f"tasking:{self._state.config.seed}:{record.order['id']}")
        geom = tasking_footprint(params)
        acquired = now
        for key, pick in (("acquisitionStart", max), ("acquisitionEnd", min)):
            with contextlib.suppress(KeyError, ValueError):
                acquired = pick(acquired, parse_iso(str(params[key])))
        platform, gsd = _platform_and_gsd(facts.collection)
        return {
            "type": "Feature",
            "bbox": list(geom.bounds),
            "geometry": mapping(geom),
            "properties": {
                "id": self._state.new_id(),
                "acquisitionDate": f"{acquired:%Y-%m-%dT%H:%M:%S}Z",
                "constellation": facts.collection,
                "collection": facts.collection,
                "providerName": facts.host,
                "producer": facts.producer,
                "cloudCoverage": round(rng.uniform(0, 8), 1),
                "resolution": gsd,
                "providerProperties": {"platform": platform},
            },
        }

    # -- reading ---------------------------------------------------------------------------------------------
    @staticmethod
    def public(record: OrderRecord) -> dict[str, Any]:
        order = dict(record.order)
        order["assets"] = list(order["assets"])
        order["tags"] = list(order["tags"])
        order["orderDetails"] = dict(order["orderDetails"])
        return order

    def get(self, workspace_id: str, order_id: str) -> dict[str, Any]:
        self.check_workspace(workspace_id)
        with self._state.lock:
            record = self.records.get(order_id)
            if record is None or record.order["workspaceId"] != workspace_id:
                raise ApiError(404, f"Order {order_id} not found", title="Not Found")
            return self.public(record)

    def select(
        self,
        keep: Callable[[OrderRecord], bool],
        view: Callable[[OrderRecord], dict[str, Any]],
        sort_field: str,
        descending: bool,
    ) -> list[dict[str, Any]]:
        """The orders ``keep`` accepts, rendered by ``view`` and sorted on a field of that view."""
        with self._state.lock:
            records = sorted((r for r in self.records.values() if keep(r)), key=lambda r: r.seq)
            orders = [view(r) for r in records]
        orders.sort(key=lambda o: str(o.get(sort_field) or ""), reverse=descending)
        return orders


def tasking_footprint(params: dict[str, Any]) -> BaseGeometry:
    """What a tasking order acquires: its geometry, or a ~5 km square around an ordered point."""
    try:
        geom = shape(params.get("geometry") or params.get("aoi"))
    except Exception:
        geom = box(13.35, 52.48, 13.45, 52.54)
    if geom.area == 0:
        c = geom.centroid
        geom = box(c.x - 0.025, c.y - 0.025, c.x + 0.025, c.y + 0.025)
    return geom


def _platform_and_gsd(collection: str) -> tuple[str, float]:
    """Satellite and resolution of a (tasking) collection, from the world's collection specs."""
    specs = world.SPECS
    spec = specs.get(collection)
    archive = specs.get(collection.removesuffix("-tasking"))
    satellites = (spec.satellites if spec else ()) or (archive.satellites if archive else ())
    resolution = spec.resolution if spec else (archive.resolution if archive else 0.5)
    return (satellites[0] if satellites else collection.upper()), float(resolution)
