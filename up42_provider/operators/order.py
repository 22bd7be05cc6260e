"""Place UP42 orders (archive images from a search, or tasking) as a task, exactly once."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from up42_provider.links import UP42OrderLink
from up42_provider.operators._aoi import resolve_aoi
from up42_provider.operators._common import XCOM_ORDER_IDS, UP42BaseOperator, order_tag
from up42_provider.status import classify_order_status
from up42_provider.utils import parameters as P
from up42_provider.waiters import UP42OrderFailedError, WaitResult
from up42_provider.waiting import resumed, wait_or_defer

if TYPE_CHECKING:
    from airflow.sdk import Context

QUOTATION_DECISIONS = ("ACCEPTED", "REJECTED")


def extract_image_ids(value: Any) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Image ids (and footprints, when known) from what a search task returns.

    Accepts a FeatureCollection, a Feature, a list of features or ids, one id, the
    ``{"uri", "count", "image_ids"}`` answer of a search with ``output_path``, or JSON text of these.
    """
    if value is None:
        return [], {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):
            try:
                return extract_image_ids(json.loads(text))
            except json.JSONDecodeError:
                raise ValueError(
                    "image_ids looks like JSON but does not parse: pass the search task's output "
                    "(e.g. image_ids=search.output), a list of ids or one id"
                ) from None
        return ([text] if text else []), {}
    if isinstance(value, Mapping):
        if value.get("type") == "FeatureCollection":
            return extract_image_ids(list(value.get("features") or []))
        if value.get("type") == "Feature":
            return extract_image_ids([value])
        if "image_ids" in value:
            return extract_image_ids(list(value.get("image_ids") or []))
        raise ValueError(
            "image_ids dict is neither a FeatureCollection, a Feature nor a search result with "
            "'image_ids': pass the search task's output"
        )
    if isinstance(value, Sequence):
        ids: list[str] = []
        footprints: dict[str, dict[str, Any]] = {}
        for item in value:
            if isinstance(item, str) and item.strip():
                ids.append(item.strip())
            elif isinstance(item, Mapping):
                image_id = (item.get("properties") or {}).get("id") or item.get("id")
                if not image_id:
                    raise ValueError(f"a feature in image_ids has no properties.id: {str(item)[:120]}")
                ids.append(str(image_id))
                if item.get("geometry"):
                    footprints[str(image_id)] = item["geometry"]
            else:
                raise ValueError(f"image_ids items must be ids or features, got {item!r}")
        return list(dict.fromkeys(ids)), footprints
    raise ValueError(f"image_ids must be ids or search results, got {type(value).__name__}")


def pick_option(options: Sequence[Mapping[str, Any]], choice: Any) -> Mapping[str, Any]:
    """A feasibility option by 0-based index, id or exact description."""
    listing = "; ".join(f"[{i}] {o.get('id')}: {o.get('description')}" for i, o in enumerate(options))
    if isinstance(choice, int) and not isinstance(choice, bool):
        if 0 <= choice < len(options):
            return options[choice]
    elif isinstance(choice, str):
        for option in options:
            if choice in (option.get("id"), option.get("description")):
                return option
        if choice.strip().isdigit() and int(choice) < len(options):
            return options[int(choice)]
    raise ValueError(f"feasibility_option {choice!r} matches none of the options: {listing}")


class UP42PlaceOrderOperator(UP42BaseOperator):
    """Place UP42 orders, at most once per task instance, and optionally wait for delivery.

    Three ways to say what to order (exactly one):

    * **archive** - ``data_product_id`` and ``image_ids`` (the output of
      ``UP42SearchCatalogOperator``: a FeatureCollection, a list of ids, ...): one order per image,
      clipped to ``aoi`` (default: each image's footprint when features are given);
    * **tasking** - ``data_product_id``, ``tasking_name``, ``acquisition_start``/``acquisition_end``
      and ``aoi`` (Polygon or Point): one tasking order;
    * **explicit** - ``order_parameters``: one or a list of full order bodies
      ``{"dataProduct", "params", "tags"?}`` (see ``UP42Hook.construct_*_order_parameters``).

    ``order_params`` adds schema parameters to every order (e.g. ``{"acquisitionMode": "MONO"}``);
    required parameters still missing fail the task with their allowed values, before any order.

    Credits: every order is estimated first; if the sum exceeds ``max_credits`` the task fails with
    nothing placed. Tasking quotations are checked against ``max_credits`` before being accepted.

    Idempotency: the ``i``-th order of a task instance carries the tag
    ``airflow-<hash(dag id, task id, run id, map index, i)>``; a retry (or a lost HTTP answer)
    finds the order placed before instead of placing another. An order that ended FAILED stays
    the task's order (the task fails without retries) unless ``replace_failed_orders``.

    Tasking decisions: ``feasibility_option`` (0-based index, option id or description) chooses
    a manual feasibility study's option; ``quotation_decision`` ``"ACCEPTED"``/``"REJECTED"``
    decides the quotation as soon as UP42 issues it (the task polls for it); ``None`` leaves
    either to a human in the UP42 console while the task waits.

    Returns the list of order ids (XCom). Link: "UP42 Order".

    :param data_product_id: UP42 data product id, or ``"<collection>/<product>"`` such as
        ``"phr/Display"`` (resolved by ``UP42Hook.resolve_data_product``; a miss lists the choices).
    :param image_ids: images to order (archive).
    :param aoi: clip AOI (archive) or tasking geometry; any form ``UP42SearchCatalogOperator`` takes.
    :param tasking_name: display name of a tasking order.
    :param acquisition_start: start of the tasking window.
    :param acquisition_end: end of the tasking window (date-only: end of that day).
    :param order_parameters: explicit order body or list of bodies.
    :param order_params: extra ``params`` merged into every order.
    :param tags: tags added to every order.
    :param max_credits: upper bound of the credits all orders of this task may cost.
    :param quotation_decision: ``"ACCEPTED"``, ``"REJECTED"`` or None (leave to a human).
    :param feasibility_option: option to choose in a manual feasibility study, or None.
    :param replace_failed_orders: on a retry, place a new order for one that FAILED.
    :param wait_for_completion: wait until every order is FULFILLED (default True).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks.
    :param timeout: seconds to wait (also for a quotation to appear).
    :param up42_conn_id: Airflow connection of type ``up42``.
    """

    template_fields: Sequence[str] = (
        "data_product_id",
        "image_ids",
        "aoi",
        "tasking_name",
        "acquisition_start",
        "acquisition_end",
        "order_parameters",
        "order_params",
        "tags",
        "max_credits",
        "quotation_decision",
        "feasibility_option",
        "up42_conn_id",
    )
    operator_extra_links = (UP42OrderLink(),)

    def __init__(
        self,
        *,
        data_product_id: str | None = None,
        image_ids: Any = None,
        aoi: Any = None,
        tasking_name: str | None = None,
        acquisition_start: Any = None,
        acquisition_end: Any = None,
        order_parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        order_params: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        max_credits: int | None = None,
        quotation_decision: str | None = None,
        feasibility_option: int | str | None = None,
        replace_failed_orders: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_product_id = data_product_id
        self.image_ids = image_ids
        self.aoi = aoi
        self.tasking_name = tasking_name
        self.acquisition_start = acquisition_start
        self.acquisition_end = acquisition_end
        self.order_parameters = order_parameters
        self.order_params = order_params
        self.tags = tags
        self.max_credits = max_credits
        self.quotation_decision = quotation_decision
        self.feasibility_option = feasibility_option
        self.replace_failed_orders = replace_failed_orders

    # ------------------------------------------------------------------------------ validation

    @property
    def is_tasking(self) -> bool:
        return bool(self.tasking_name or self.acquisition_start or self.acquisition_end)

    def _check_arguments(self) -> None:
        modes = [
            name
            for name, given in (
                ("image_ids", self.image_ids not in (None, "", [])),
                ("tasking_name/acquisition_start/acquisition_end", self.is_tasking),
                ("order_parameters", self.order_parameters not in (None, "", [])),
            )
            if given
        ]
        if len(modes) != 1:
            raise ValueError(
                "Say what to order in exactly one way: image_ids (archive), tasking_name + "
                "acquisition_start + acquisition_end + aoi (tasking) or order_parameters; got "
                + (", ".join(modes) or "none of them")
            )
        if self.order_parameters in (None, "", []) and not self.data_product_id:
            raise ValueError("data_product_id is required (find it with UP42Hook.get_data_products())")
        if (self.quotation_decision is not None or self.feasibility_option is not None) and (
            self.image_ids not in (None, "", [])
        ):
            raise ValueError("quotation_decision and feasibility_option apply to tasking orders only")
        if self.quotation_decision is not None:
            decision = str(self.quotation_decision).strip().upper()
            if decision not in QUOTATION_DECISIONS:
                raise ValueError(
                    f"quotation_decision {self.quotation_decision!r} is invalid: use 'ACCEPTED', "
                    "'REJECTED' or None (a human decides in the UP42 console)"
                )
            self.quotation_decision = decision
        if self.max_credits is not None:
            try:
                self.max_credits = int(self.max_credits)
            except (TypeError, ValueError):
                raise ValueError(f"max_credits must be a whole number, got {self.max_credits!r}") from None
            if self.max_credits < 0:
                raise ValueError(f"max_credits must not be negative, got {self.max_credits}")
        if self.tags is not None and (
            isinstance(self.tags, str) or not all(isinstance(t, str) and t for t in self.tags)
        ):
            raise ValueError(f"tags must be a list of non-empty strings, got {self.tags!r}")
        if self.order_params is not None and not isinstance(self.order_params, Mapping):
            raise ValueError(f"order_params must be a dict of order parameters, got {self.order_params!r}")

    def _local_bodies(self) -> list[dict[str, Any]]:
        """Order bodies built and validated without any request (schema parameters come later)."""
        tags = list(self.tags or [])
        extra = dict(self.order_params or {})
        if self.order_parameters not in (None, "", []):
            raw = self.order_parameters
            if isinstance(raw, str):
                try:
                    raw = json.loads(raw)
                except json.JSONDecodeError:
                    raise ValueError("order_parameters is text but not JSON: pass a dict or list") from None
            items = [raw] if isinstance(raw, Mapping) else list(raw)
            bodies = []
            for index, item in enumerate(items):
                if not isinstance(item, Mapping) or not item.get("dataProduct"):
                    raise ValueError(f"order_parameters[{index}] lacks 'dataProduct' (the data product id)")
                if not isinstance(item.get("params"), Mapping):
                    raise ValueError(f"order_parameters[{index}] lacks 'params' (a dict)")
                body = {**item, "params": {**item["params"], **extra}}
                for key, allow_point in (("aoi", False), ("geometry", True)):
                    if body["params"].get(key) is not None:
                        body["params"][key] = resolve_aoi(
                            body["params"][key],
                            name=f"order_parameters[{index}].params.{key}",
                            allow_point=allow_point,
                        )
                if tags:
                    body["tags"] = list(dict.fromkeys([*(body.get("tags") or []), *tags]))
                bodies.append(body)
            return bodies
        if self.is_tasking:
            if self.aoi is None:
                raise ValueError("a tasking order needs aoi (a Polygon or Point to acquire)")
            geometry = resolve_aoi(self.aoi, allow_point=True)
            body = P.tasking_order_parameters(
                {},
                str(self.data_product_id),
                str(self.tasking_name or ""),
                self.acquisition_start,
                self.acquisition_end,
                geometry,
                tags=tags or None,
            )
            body["params"].update(extra)
            return [body]
        ids, footprints = extract_image_ids(self.image_ids)
        if not ids:
            raise ValueError("image_ids is empty: the search found nothing to order")
        clip = resolve_aoi(self.aoi) if self.aoi is not None else None
        bodies = []
        for image_id in ids:
            aoi = clip or footprints.get(image_id)
            body = P.catalog_order_parameters(
                {}, str(self.data_product_id), image_id, aoi=aoi, tags=tags or None
            )
            body["params"].update(extra)
            bodies.append(body)
        return bodies

    def _complete_with_schema(self, bodies: list[dict[str, Any]]) -> None:
        """``V1.get_data_product_schema`` per data product: fail with the allowed values of every missing
        parameter."""
        schemas: dict[str, dict[str, Any]] = {}
        problems = []
        for index, body in enumerate(bodies):
            product = body["dataProduct"]
            if product not in schemas:
                schemas[product] = self.hook.get_data_product_schema(product)
            missing = P.missing_order_parameters(body, schemas[product])
            if missing:
                options = "; ".join(f"{name}: {json.dumps(allowed)}" for name, allowed in missing.items())
                problems.append(f"order {index} lacks {', '.join(missing)} ({options})")
        if problems:
            raise ValueError(
                "Order parameters are incomplete - add them via order_params: " + " | ".join(problems)
            )

    def _check_credits(self, bodies: list[dict[str, Any]]) -> None:
        estimates = [self.hook.estimate_order(body) for body in bodies]
        total = sum(estimates)
        self.log.info("The %d order(s) are estimated at %d credits: %s", len(bodies), total, estimates)
        if self.max_credits is not None and total > self.max_credits:
            raise AirflowFailException(
                f"The {len(bodies)} order(s) would cost {total} credits, more than max_credits="
                f"{self.max_credits}; nothing was ordered. Raise max_credits or order fewer images."
            )

    # ------------------------------------------------------------------------------- execution

    def execute(self, context: Context) -> list[str]:
        self._check_arguments()
        if self.data_product_id:
            self.data_product_id = self.hook.resolve_data_product(self.data_product_id)
        bodies = self._local_bodies()
        self._complete_with_schema(bodies)
        if self.hook.generation == "current":
            orders = self._place_current(context, bodies)
        else:
            self._check_credits(bodies)
            orders = []
            for index, body in enumerate(bodies):
                orders.append(self._place(body, order_tag(context, index)))
        for index, order in enumerate(orders):
            self.log.info("Order %d/%d: %s (%s)", index + 1, len(orders), order["id"], order.get("status"))
        order_ids = [o["id"] for o in orders]
        self.push_link_ids(context, XCOM_ORDER_IDS, order_ids)
        tasking = [o["id"] for o in orders if str(o.get("type", "")).upper() == "TASKING"]
        if tasking:
            self._decide(tasking)
        if not self.wait_for_completion:
            return order_ids
        result = wait_or_defer(
            self,
            context,
            "order",
            order_ids,
            hook=self.hook,
            deferrable=self.deferrable,
            poll_interval=self.poll_interval,
            end_time=self.end_time(),
            resume={"order_ids": order_ids},
        )
        return self._finish(result, order_ids)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, order_ids: list[str] | None = None
    ) -> list[str]:
        """Resume after the trigger fired: success returns the ids, anything else fails."""
        return self._finish(
            WaitResult.from_event(event), list(resumed(context, "order_ids", order_ids) or [])
        )

    def _finish(self, result: WaitResult, order_ids: list[str]) -> list[str]:
        if result.status == "failure":
            self._raise_on_failure(True, result.message)
        result.raise_for_status()
        self.log.info("Orders fulfilled: %s", ", ".join(order_ids))
        return order_ids

    def _v2_bodies(self, context: Context, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Today's order payloads: the geometry leaves ``params`` for the one-feature collection."""
        ti = context["ti"]
        v2 = []
        for index, body in enumerate(bodies):
            params = dict(body["params"])
            geometry = params.pop("aoi", None) or params.pop("geometry", None)
            if geometry is None:
                raise ValueError(
                    f"order {index} has no geometry: today's UP42 orders need one per order - pass aoi, "
                    "or the search's features as image_ids (their footprints are used)"
                )
            name = str(params.pop("displayName", None) or f"{ti.dag_id}.{ti.task_id} {index + 1}")[:200]
            v2.append(
                self.hook.order_v2_body(
                    str(body["dataProduct"]), params, [geometry], display_name=name, tags=body.get("tags")
                )
            )
        return v2

    def _place_current(self, context: Context, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Price every order first (nothing is placed when the total exceeds ``max_credits`` or UP42
        cannot price one), then place each exactly once under its task-instance tag."""
        v2 = self._v2_bodies(context, bodies)
        totals = []
        for index, body in enumerate(v2):
            estimate = self.hook.estimate_order_v2(body)
            if estimate.get("errors"):
                raise AirflowFailException(
                    f"UP42 cannot price order {index}: {estimate['errors']}; nothing was ordered."
                )
            totals.append((estimate.get("summary") or {}).get("totalCredits") or 0)
        total = sum(totals)
        self.log.info("The %d order(s) are estimated at %s credits: %s", len(v2), total, totals)
        if self.max_credits is not None and total > self.max_credits:
            raise AirflowFailException(
                f"The {len(v2)} order(s) would cost {total} credits, more than max_credits="
                f"{self.max_credits}; nothing was ordered. Raise max_credits or order fewer images."
            )
        orders = []
        for index, body in enumerate(v2):
            tag = order_tag(context, index)
            (order,) = self.hook.place_order_v2(body, tag=tag, reuse_existing=True)
            if self.replace_failed_orders and classify_order_status(order.get("status")) == "failure":
                self.log.warning(
                    "Order %s (tag %s) had %s; placing it again", order["id"], tag, order["status"]
                )
                (order,) = self.hook.place_order_v2(body, tag=tag, reuse_existing=False)
            orders.append(order)
        return orders

    def _place(self, body: dict[str, Any], tag: str) -> dict[str, Any]:
        order = self.hook.place_order(body, tag=tag, reuse_existing=True)
        if self.replace_failed_orders and classify_order_status(order.get("status")) == "failure":
            self.log.warning("Order %s (tag %s) had %s; placing it again", order["id"], tag, order["status"])
            order = self.hook.place_order(body, tag=tag, reuse_existing=False)
        return order

    def _raise_on_failure(self, failed: Any, message: str) -> None:
        if not failed:
            return
        if self.replace_failed_orders:
            raise UP42OrderFailedError(message + "\nA retry places the failed orders again.")
        raise AirflowFailException(
            message + "\nRetrying would reuse the failed order; set replace_failed_orders=True to re-order."
        )

    # -------------------------------------------------------------------------------- tasking

    def _decide(self, order_ids: list[str]) -> None:
        """Take the tasking decisions this task was given, as UP42 asks for them.

        UP42 uploads a manual feasibility study some time after the order is placed and the
        quotation after the study is decided, so both are polled for (until ``timeout``): a
        study waiting for a choice gets ``feasibility_option``, a quotation ``quotation_decision``.
        A retry finds the choice already made and goes on waiting for the quotation.
        """
        if self.feasibility_option is None and self.quotation_decision is None:
            return
        deadline = self.end_time()
        pending, quotations = list(order_ids), []
        while True:
            waiting: dict[str, str] = {}
            for order_id in pending:
                found = self.hook.get_quotations(order_id=order_id)
                if found:
                    quotations.extend(found)
                    continue
                if self.feasibility_option is not None and self._choose_feasibility(order_id):
                    waiting[order_id] = "feasibility option chosen"
                    continue
                order = self.hook.get_order(order_id)
                if classify_order_status(order.get("status")) != "running":
                    continue  # failed or done without a quotation: the wait reports it
                waiting[order_id] = str(order.get("subStatus") or order.get("status"))
            if not waiting:
                break
            listing = ", ".join(f"{k} ({v})" for k, v in waiting.items())
            if deadline is not None and time.time() > deadline:
                raise TimeoutError(f"No quotation issued within timeout for order(s): {listing}")
            self.log.info("Waiting for UP42 to issue quotations: %s", listing)
            pending = list(waiting)
            time.sleep(self.poll_interval)
        if self.quotation_decision is not None:
            self._decide_quotations(quotations)

    def _choose_feasibility(self, order_id: str) -> bool:
        """Choose ``feasibility_option`` in the order's undecided studies; whether there was one."""
        studies = self.hook.get_feasibility(order_id=order_id, decision="NOT_DECIDED")
        for study in studies:
            option = pick_option(study.get("options") or [], self.feasibility_option)
            self.log.info("Order %s: choosing feasibility option %s", order_id, option.get("id"))
            self.hook.choose_feasibility(study["id"], option["id"])
        return bool(studies)

    def _decide_quotations(self, quotations: list[dict[str, Any]]) -> None:
        """Accept or reject the undecided quotations; accepting checks ``max_credits`` first."""
        undecided = [q for q in quotations if q.get("decision") == "NOT_DECIDED"]
        if self.quotation_decision == "ACCEPTED":
            accepted = [q for q in quotations if q.get("decision") == "ACCEPTED"]
            total = sum(int(q.get("creditsPrice") or 0) for q in [*accepted, *undecided])
            if self.max_credits is not None and total > self.max_credits:
                for quotation in undecided:
                    self.log.warning("Leaving quotation %s undecided", quotation["id"])
                raise AirflowFailException(
                    f"Accepting the quotations would cost {total} credits, more than max_credits="
                    f"{self.max_credits}; nothing was accepted (decide in the UP42 console)."
                )
        for quotation in undecided:
            self.log.info(
                "Quotation %s of order %s (%s credits): %s",
                quotation["id"],
                quotation.get("orderId"),
                quotation.get("creditsPrice"),
                self.quotation_decision,
            )
            self.hook.decide_quotation(quotation["id"], str(self.quotation_decision))
