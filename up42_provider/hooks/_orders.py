"""Orders of both generations: get, list and status in one shape (see :mod:`._shapes`).

2023: ``/workspaces/{id}/orders`` under the workspace. Today: orders v2 ``/v2/orders`` filtered by the hook's
workspace (the v2 list is account-wide otherwise). Both APIs sort by ``updatedAt`` on the server,
so ``updated_after`` stops the listing at the first older order; ``statuses`` is a server-side
filter today and a client-side one in 2023 (its list has no status filter).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping, Sequence
from typing import Any

from up42_provider.api.endpoints import V1, V2
from up42_provider.api.errors import UP42Error
from up42_provider.hooks._base import HookBase
from up42_provider.hooks._helpers import (
    ORDER_SORT_FIELDS,
    ORDER_TYPES,
    _choices,
    _require_id,
    _sort,
    _strings,
    _take,
    keep_one,
)
from up42_provider.hooks._pagination import aspring_pages, spring_pages
from up42_provider.hooks._shapes import normalize_order, parse_time, updated_since
from up42_provider.status import StatusVerdict, order_verdict
from up42_provider.utils.geometry import to_polygon_geojson

_V2_SORT_FIELDS = ("createdAt", "updatedAt", "type", "status")


class OrdersMixin(HookBase):
    def get_order(self, order_id: str) -> dict[str, Any]:
        """The order in the one shape of :func:`~._shapes.normalize_order` ."""
        order_id = _require_id(order_id, "order_id")
        if self.generation == "current":
            return normalize_order(self._call(V2.get_order, order_id=order_id), "current")
        return normalize_order(self._call(V1.get_order, order_id=order_id), "2023")

    async def aget_order(self, order_id: str) -> dict[str, Any]:
        """Async twin of :meth:`get_order` on the hook's pooled async client (for triggers)."""
        order_id = _require_id(order_id, "order_id")
        client = await self.aget_client()
        generation = await self.ageneration()
        endpoint = V2.get_order if generation == "current" else V1.get_order
        return normalize_order(await client.call(endpoint, order_id=order_id), generation)

    def _order_query(
        self,
        generation: str,
        order_type: str | None,
        tags: str | Iterable[str] | None,
        sortby: str,
        descending: bool,
        statuses: Iterable[str] | None,
        page_size: int | None,
        updated: bool,
    ) -> tuple[dict[str, Any], set[str] | None]:
        if updated:  # the early stop of updated_after needs newest-updated first
            sortby, descending = "updatedAt", True
        allowed = _V2_SORT_FIELDS if generation == "current" else ORDER_SORT_FIELDS
        params: dict[str, Any] = {"sort": _sort(sortby, descending, allowed)}
        if order_type is not None:
            params["type"] = _choices(order_type, ORDER_TYPES, "order_type")[0]  # type: ignore[index]
        if tags is not None:
            params["tags"] = _strings(tags)
        wanted = None if statuses is None else {str(s).strip().upper() for s in _strings(statuses) or []}
        size = self.page_size if page_size is None else int(page_size)
        if size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size!r}")
        if generation == "current":
            if wanted:
                params["status"] = sorted(wanted)
            params["size"] = size
        else:
            params["format"] = "paginated"
            params["size"] = size
        return params, wanted

    def iter_orders(
        self,
        *,
        order_type: str | None = None,
        tags: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
        updated_after: Any = None,
        statuses: str | Iterable[str] | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The workspace's orders (normalized), newest first by ``sortby``.

        ``updated_after`` (datetime or ISO text) sorts by ``updatedAt`` descending and stops at the
        first order not updated after it. ``statuses`` keeps only these status values.
        """
        after = parse_time(updated_after)
        generation = self.generation
        params, wanted = self._order_query(
            generation, order_type, tags, sortby, descending, statuses, page_size, after is not None
        )
        if generation == "current":
            params["workspaceId"] = self.get_conn().workspace_id

            def fetch(page: int | None) -> Any:
                return self._call(V2.get_orders, params={**params, "page": page or 0})

            pages = spring_pages(fetch, first_page_param=True)
        else:

            def fetch(page: int | None) -> Any:
                return self._call(V1.get_orders, params=params if page is None else {**params, "page": page})

            pages = spring_pages(fetch, first_page_param=False)
        for raw in pages:
            order = normalize_order(raw, generation)
            if not updated_since(order, after):
                return
            if wanted is None or str(order.get("status") or "").upper() in wanted:
                yield order

    async def aiter_orders(
        self,
        *,
        order_type: str | None = None,
        tags: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
        updated_after: Any = None,
        statuses: str | Iterable[str] | None = None,
        page_size: int | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Async twin of :meth:`iter_orders` (same arguments, same order, same shape)."""
        after = parse_time(updated_after)
        generation = await self.ageneration()
        client = await self.aget_client()
        params, wanted = self._order_query(
            generation, order_type, tags, sortby, descending, statuses, page_size, after is not None
        )
        if generation == "current":
            params["workspaceId"] = await client.aworkspace_id()
            endpoint = V2.get_orders
        else:
            endpoint = V1.get_orders

        async def fetch(page: int) -> Any:
            return await client.call(endpoint, params={**params, "page": page})

        async for raw in aspring_pages(fetch):
            order = normalize_order(raw, generation)
            if not updated_since(order, after):
                return
            if wanted is None or str(order.get("status") or "").upper() in wanted:
                yield order

    def get_orders(
        self,
        *,
        order_type: str | None = None,
        tags: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
        limit: int | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` orders of :meth:`iter_orders`."""
        return _take(
            self.iter_orders(
                order_type=order_type, tags=tags, sortby=sortby, descending=descending, **filters
            ),
            limit,
        )

    def order_status(self, order: dict[str, Any]) -> StatusVerdict:
        """``(status, terminal, failed, reason)`` of an order of this hook's generation."""
        generation = str(order.get("generation") or self.generation)
        return order_verdict(order.get("status"), generation)

    # ------------------------------------------------------------------ today's orders v2

    def _require_current(self, what: str) -> None:
        if self.generation != "current":
            raise ValueError(
                f"{what} needs today's UP42 API; connection {self.up42_conn_id!r} uses the 2023 one "
                "(set the account e-mail and password, or the extra api_generation='current')"
            )

    @staticmethod
    def order_v2_body(
        data_product_id: str,
        params: Mapping[str, Any],
        geometries: Sequence[Mapping[str, Any]],
        *,
        display_name: str,
        tags: Sequence[str] | None = None,
        budget_id: str | None = None,
    ) -> dict[str, Any]:
        """The orders v2 payload: one order per geometry, geometry outside ``params``."""
        if not geometries:
            raise ValueError("an order needs at least one geometry (a GeoJSON Polygon)")
        if not 1 <= len(display_name) <= 200:
            raise ValueError("display_name must have 1 to 200 characters")
        features = [
            {"type": "Feature", "properties": {}, "geometry": to_polygon_geojson(g)} for g in geometries
        ]
        body: dict[str, Any] = {
            "dataProduct": _require_id(data_product_id, "data_product_id"),
            "displayName": display_name,
            "params": dict(params),
            "featureCollection": {"type": "FeatureCollection", "features": features},
        }
        if tags:
            body["tags"] = list(tags)
        if budget_id:
            body["budgetId"] = budget_id
        return body

    def estimate_order_v2(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The price: ``{"summary": {"totalCredits", "totalSize", "unit"}, "results", "errors"}``."""
        self._require_current("estimate_order_v2")
        return self._call(V2.estimate_order, json=dict(body)) or {}

    def place_order_v2(
        self,
        body: Mapping[str, Any],
        *,
        tag: str | None = None,
        reuse_existing: bool = False,
        max_credits: float | None = None,
    ) -> list[dict[str, Any]]:
        """Price, then place today's orders exactly once; returns them normalized.

        The batch is priced first: per-feature errors, or a total above ``max_credits``, fail
        before anything is placed. Each feature is then placed as its own one-feature batch tagged
        ``<tag>-<index>``, so a lost answer is looked up by that tag (``_create_once``) and a
        duplicate can be cancelled (``cancel_order_v2``). A stable ``tag`` with ``reuse_existing``
        returns the orders an earlier task try placed.
        """
        self._require_current("place_order_v2")
        features = list(((body.get("featureCollection") or {}).get("features")) or [])
        if not features:
            raise ValueError("the order body needs featureCollection.features (one order per feature)")
        estimate = self.estimate_order_v2(body)
        if estimate.get("errors"):
            raise ValueError(f"UP42 cannot price this order, nothing was placed: {estimate['errors']}")
        total = (estimate.get("summary") or {}).get("totalCredits")
        if max_credits is not None and isinstance(total, int | float) and total > max_credits:
            raise ValueError(
                f"the order costs {total} credits, more than max_credits={max_credits}; nothing was placed"
            )
        if tag is not None and (not isinstance(tag, str) or not tag.strip()):
            raise ValueError("tag must be a non-empty string")
        base_tag = tag or f"airflow-{uuid.uuid4()}"
        return [
            self._place_one_v2(body, feature, f"{base_tag}-{index}", reuse_existing and tag is not None)
            for index, feature in enumerate(features)
        ]

    def _place_one_v2(
        self, body: Mapping[str, Any], feature: Any, tag: str, reuse_existing: bool
    ) -> dict[str, Any]:
        known = self.get_orders(tags=[tag], limit=self.page_size)
        if reuse_existing and known:
            first = keep_one(known)[0]
            self.log.info("Order with tag %r exists already: %s", tag, first.get("id"))
            return first
        known_ids = {str(o.get("id")) for o in known}
        one = {
            **copy.deepcopy(dict(body)),
            "featureCollection": {"type": "FeatureCollection", "features": [feature]},
            "tags": [*list(body.get("tags") or []), tag],
        }

        def create() -> dict[str, Any]:
            workspace = self.get_conn().workspace_id
            answer = self._call(V2.create_orders, params={"workspaceId": workspace}, json=one) or {}
            if answer.get("errors") or not answer.get("results"):
                raise UP42Error(
                    f"UP42 did not place the order: {answer.get('errors')}",
                    method="POST",
                    path=V2.create_orders.path,
                )
            return self.get_order(answer["results"][0]["id"])

        def find() -> list[dict[str, Any]]:
            return [o for o in self.get_orders(tags=[tag], limit=self.page_size) if o["id"] not in known_ids]

        return self._create_once(
            f"place order tagged {tag!r}", create, find, fetch=self.get_order, discard=self.cancel_order_v2
        )

    def cancel_order_v2(self, order_id: str) -> dict[str, Any]:
        """Cancel an order still ``CREATED`` or ``PLACEMENT_FAILED``."""
        self._require_current("cancel_order_v2")
        return self._call(V2.cancel_order, order_id=_require_id(order_id, "order_id")) or {}

    def update_order_v2(
        self, order_id: str, *, tags: Sequence[str] | None = None, budget_id: Any = ...
    ) -> dict[str, Any]:
        """Merge-patch: ``tags`` replaces the tags (``[]`` clears), ``budget_id=None`` clears the
        budget; what is not passed stays. Returns the normalized order."""
        self._require_current("update_order_v2")
        patch: dict[str, Any] = {}
        if tags is not None:
            patch["tags"] = list(tags)
        if budget_id is not ...:
            patch["budgetId"] = budget_id
        raw = self._call(V2.update_order, json=patch, order_id=_require_id(order_id, "order_id"))
        return normalize_order(raw or {}, "current")

    def get_order_coverage(self, order_id: str) -> Any:
        """What a tasking order has covered so far."""
        self._require_current("get_order_coverage")
        return self._call(V2.get_order_coverage, order_id=_require_id(order_id, "order_id"))
