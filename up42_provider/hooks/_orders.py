"""Orders of both generations: get, list and status in one shape (see :mod:`._shapes`).

2023: E25/E26 under the workspace. Today: orders v2 ``/v2/orders`` filtered by the hook's
workspace (the v2 list is account-wide otherwise). Both APIs sort by ``updatedAt`` on the server,
so ``updated_after`` stops the listing at the first older order; ``statuses`` is a server-side
filter today and a client-side one in 2023 (E26 has none).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from up42_provider.api.endpoints import V1, V2
from up42_provider.hooks._base import HookBase
from up42_provider.hooks._helpers import (
    ORDER_SORT_FIELDS,
    ORDER_TYPES,
    _choices,
    _require_id,
    _sort,
    _strings,
    _take,
)
from up42_provider.hooks._pagination import aspring_pages, spring_pages
from up42_provider.hooks._shapes import normalize_order, parse_time, updated_since
from up42_provider.status import StatusVerdict, order_verdict

_V2_SORT_FIELDS = ("createdAt", "updatedAt", "type", "status")


class OrdersMixin(HookBase):
    def get_order(self, order_id: str) -> dict[str, Any]:
        """The order in the one shape of :func:`~._shapes.normalize_order` (2023 E25, today N08)."""
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
    ) -> AsyncIterator[dict[str, Any]]:
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
