"""Catalog, orders and tasking (``V1`` endpoints; today's variants where the generation differs)."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from up42_provider.api.endpoints import V1, V2
from up42_provider.api.errors import UP42Error, UP42NotFoundError
from up42_provider.hooks._helpers import (
    FEASIBILITY_DECISIONS,
    ORDER_TYPES,
    QUOTATION_DECISIONS,
    SEARCH_ALL,
    SEARCH_CAP,
    _choices,
    _require_id,
    _strings,
    _take,
    keep_one,
)
from up42_provider.hooks._orders import OrdersMixin
from up42_provider.hooks._pagination import next_link, spring_pages
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import to_polygon_geojson
from up42_provider.utils.ids import is_uuid


class CatalogMixin(OrdersMixin):
    """Methods of :class:`~up42_provider.hooks.up42.UP42Hook` (relies on its ``_call``/``get_conn``)."""

    search_cap: int = SEARCH_CAP  # features a search without any limit stops at

    # ----------------------------------------------------------------------------------- catalog

    def get_collections(self, collection_type: str | None = None) -> list[dict[str, Any]]:
        """``V1.get_collections``: collections, optionally only ``ARCHIVE`` (catalog) or ``TASKING`` ones.

        Without ``collection_type`` both kinds are listed (each entry carries its ``type``): the
        hook serves catalog and tasking alike, where up42-py's ``Catalog`` shows ARCHIVE only.
        """
        _choices(collection_type, ORDER_TYPES, "collection_type")
        items = self._call(V1.get_collections) or []
        if collection_type is not None:
            items = [c for c in items if c.get("type") == collection_type]
        return items

    def resolve_data_product(self, value: str) -> str:
        """A data product id from its UUID, or from ``"<collection>/<product title>"`` (e.g.
        ``"phr/Display"``, the titles the console shows); a miss lists what the collection offers."""
        text = str(value or "").strip()
        if is_uuid(text):
            return text
        if text.count("/") != 1:
            raise ValueError(
                f"data_product_id {value!r} is neither a data product id (UUID) nor "
                "'<collection>/<product>' such as 'phr/Display'"
            )
        collection, title = (part.strip() for part in text.split("/"))
        offered: dict[str, str] = {}
        collections: set[str] = set()
        for entry in self.get_data_products(basic=True).values():
            collections.add(str(entry["collection"]))
            if entry["collection"] == collection:
                offered.update(entry["data_products"])
        if not offered:
            raise ValueError(
                f"data_product_id {value!r}: no collection {collection!r}; collections: {sorted(collections)}"
            )
        matches = [v for k, v in offered.items() if k.lower() == title.lower()]
        if not matches:
            raise ValueError(
                f"data_product_id {value!r}: collection {collection!r} has no product {title!r}; "
                f"its products: {sorted(offered)}"
            )
        return str(matches[0])

    def get_data_products(self, collection_type: str | None = None, basic: bool = False) -> Any:
        """``V1.get_data_products``: integrated data products; ``basic`` gives up42-py's
        ``{title: {"collection", "host", "data_products": {configuration title: id}}}``.

        Without ``collection_type`` archive and tasking products are both listed (unlike up42-py's
        ``Catalog``); pass ``"ARCHIVE"`` or ``"TASKING"`` for one kind.
        """
        _choices(collection_type, ORDER_TYPES, "collection_type")
        products = [
            p
            for p in self._call(V1.get_data_products) or []
            if (p.get("collection") or {}).get("isIntegrated", True)
            and (p.get("productConfiguration") or {}).get("isIntegrated", True)
            and (collection_type is None or (p.get("collection") or {}).get("type") == collection_type)
        ]
        if not basic:
            return products
        result: dict[Any, Any] = {}  # keyed by collection title (None when UP42 gives none)
        for p in products:
            collection = p.get("collection") or {}
            entry = result.setdefault(
                collection.get("title"),
                {
                    "collection": p.get("collectionName"),
                    "host": (collection.get("host") or {}).get("name"),
                    "data_products": {},
                },
            )
            entry["data_products"][(p.get("productConfiguration") or {}).get("title")] = p.get("id")
        return result

    def get_data_product_schema(self, data_product_id: str) -> dict[str, Any]:
        """``V1.get_data_product_schema``: JSON Schema of the order ``params`` for a data product."""
        return self._call(
            V1.get_data_product_schema, data_product_id=_require_id(data_product_id, "data_product_id")
        )

    def iter_collections_v2(self, collection_type: str | None = None) -> Iterator[dict[str, Any]]:
        """Today's glossary (``V2.get_collections``): collections with their ``dataProducts`` and
        ``providers``; ``collection_type`` (``ARCHIVE``/``TASKING``) is filtered client-side."""
        if self.generation != "current":
            raise ValueError("the v2 glossary belongs to today's UP42 API; use get_collections() for 2023")
        wanted = (
            None if collection_type is None else _choices(collection_type, ORDER_TYPES, "collection_type")
        )

        def fetch(page: int | None) -> Any:
            return self._call(V2.get_collections, params={"page": page or 0})

        return (
            c for c in spring_pages(fetch, first_page_param=True) if wanted is None or c.get("type") in wanted
        )

    def get_catalog_host(self, collections: str | Iterable[str]) -> str:
        """The provider host serving ``collections`` (all must share one), from
        ``V1.get_collections`` (``V1.get_data_products`` fallback)."""
        names = _strings(collections) or []
        if not names:
            raise ValueError("name at least one collection, e.g. ['phr']")
        if self._hosts is None and self.generation == "current":
            # Today: the glossary; the host is the provider whose roles include HOST.
            glossary = list(self.iter_collections_v2())
            self._hosts = {}
            for c in glossary:
                host = next(
                    (p["name"] for p in c.get("providers") or [] if "HOST" in (p.get("roles") or [])), None
                )
                if c.get("name") and host:
                    self._hosts[c["name"]] = host
            self._tasking_collections = {c["name"] for c in glossary if c.get("type") == "TASKING"}
        if self._hosts is None:
            collections_ = self._call(V1.get_collections) or []
            self._hosts = {
                c["name"]: c["hostName"] for c in collections_ if c.get("name") and c.get("hostName")
            }
            self._tasking_collections = {c["name"] for c in collections_ if c.get("type") == "TASKING"}
        tasking = [n for n in names if n in self._tasking_collections]
        if tasking:
            raise ValueError(
                f"collection(s) {tasking} are TASKING collections (new acquisitions), not catalog archives; "
                "search ARCHIVE collections (get_collections('ARCHIVE')) or order tasking instead"
            )
        if self.generation == "2023" and any(n not in self._hosts for n in names):  # data products too
            for p in self._call(V1.get_data_products) or []:
                collection = p.get("collection") or {}
                host = (collection.get("host") or {}).get("name") or collection.get("hostName")
                if p.get("collectionName") and host:
                    self._hosts.setdefault(p["collectionName"], host)
        unknown = [n for n in names if n not in self._hosts]
        if unknown:
            raise ValueError(f"unknown collection(s) {unknown}; see get_collections() for valid names")
        found = {self._hosts[n] for n in names}
        if len(found) > 1:
            raise ValueError(
                f"collections {names} are served by different hosts ({', '.join(sorted(found))}); "
                "search them separately"
            )
        return found.pop()

    def iter_search(
        self,
        search_parameters: Mapping[str, Any],
        *,
        host: str | None = None,
        limit: int | Literal["all"] | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """``V1.search_catalog``: catalog features; the same body is POSTed to each absolute ``next`` link.

        ``limit`` defaults to the body's ``limit`` (up42-py semantics). Without either the search
        stops at :attr:`search_cap` features (500, where the 2023 SDK stops) and says so in the
        log, so a forgotten limit never pages through thousands of scenes; ``limit="all"`` asks
        for every match. Pages hold ``page_size`` features (default: the limit, at most 500).
        """
        body = self._search_body(search_parameters)
        wanted = limit if limit is not None else body.get("limit")
        capped = wanted is None
        if capped:
            wanted = self.search_cap
        elif wanted == SEARCH_ALL:
            wanted = None
        elif isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
            raise ValueError(f"limit must be a positive integer or {SEARCH_ALL!r}, got {wanted!r}")
        if page_size is not None and (
            isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1
        ):
            raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
        body["limit"] = min(page_size or wanted or P.MAX_SEARCH_PAGE, P.MAX_SEARCH_PAGE)
        host = host or self.get_catalog_host(body.get("collections") or [])
        items = self._search_pages(body, host)
        if wanted is None:
            return items
        if not capped:
            return itertools.islice(items, wanted)
        return self._capped(items, wanted)

    def _capped(self, items: Iterator[dict[str, Any]], cap: int) -> Iterator[dict[str, Any]]:
        count = 0
        for item in itertools.islice(items, cap):
            count += 1
            yield item
        if count >= cap:
            self.log.warning(
                "Catalog search stopped at %d features, the default cap (no limit given); there may "
                "be more: pass limit=<n>, or limit='all' for every match",
                cap,
            )

    @staticmethod
    def _search_body(search_parameters: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(search_parameters, Mapping):
            raise ValueError("search_parameters must be a dict (see utils.parameters.search_parameters)")
        body = copy.deepcopy(dict(search_parameters))
        if body.get("intersects") is not None:
            body["intersects"] = to_polygon_geojson(body["intersects"])
        if not body.get("collections"):
            raise ValueError("search_parameters need 'collections', e.g. ['phr']")
        return body

    def _search_pages(self, body: dict[str, Any], host: str) -> Iterator[dict[str, Any]]:
        client = self.get_conn()
        page = client.call(V1.search_catalog, json=body, host=host) or {}
        seen: set[str] = set()
        while True:
            yield from page.get("features") or []
            link = next_link(page.get("links"), positional=True)
            if link is None or not page.get("features") or link["href"] in seen:
                return
            seen.add(link["href"])
            page = client.call_url(link["href"], V1.search_catalog, json=body) or {}

    def search(
        self,
        search_parameters: Mapping[str, Any],
        *,
        host: str | None = None,
        limit: int | Literal["all"] | None = None,
        page_size: int | None = None,
    ) -> dict[str, Any]:
        """``V1.search_catalog``: a FeatureCollection of up to ``limit`` features (see
        :meth:`iter_search`)."""
        features = list(self.iter_search(search_parameters, host=host, limit=limit, page_size=page_size))
        return {"type": "FeatureCollection", "features": features}

    def iter_search_catalog_stac(
        self, search_parameters: Mapping[str, Any], *, limit: int | Literal["all"] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Today's STAC catalog search (``/v2/catalog/search``), following ``next`` links (their
        ``body`` carries the token). Items have the image id as their STAC ``id``.

        ``limit`` as in :meth:`iter_search`: default :attr:`search_cap`, ``"all"`` for every match.
        """
        if self.generation != "current":
            raise ValueError("the STAC catalog belongs to today's UP42 API; use search() for 2023")
        body = self._search_body(search_parameters)
        wanted = limit if limit is not None else body.pop("max_items", None)
        if wanted == SEARCH_ALL:
            wanted = None
        elif wanted is None:
            wanted = self.search_cap
        elif isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
            raise ValueError(f"limit must be a positive integer or {SEARCH_ALL!r}, got {wanted!r}")
        body["limit"] = min(int(body.get("limit") or wanted or P.MAX_SEARCH_PAGE), P.MAX_SEARCH_PAGE)
        items = self._catalog_stac_pages(body)
        return items if wanted is None else itertools.islice(items, wanted)

    def _catalog_stac_pages(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        client = self.get_conn()
        page = client.call(V2.search_catalog_stac, json=body) or {}
        seen: set[str] = set()
        while True:
            features = page.get("features") or []
            yield from features
            link = next_link(page.get("links"))
            if link is None or not features:
                return
            follow = {**body, **(link.get("body") or {})}
            key = f"{link['href']} {follow.get('token')}"
            if key in seen:
                return
            seen.add(key)
            page = client.call_url(link["href"], V2.search_catalog_stac, json=follow) or {}

    def download_catalog_quicklook(
        self, image_id: str, *, collection: str | None = None, host: str | None = None
    ) -> bytes | None:
        """``V1.get_catalog_quicklook``: the JPEG quicklook of a catalog image, or None when UP42 has none
        (404)."""
        if host is None:
            if collection is None:
                raise ValueError("pass the image's collection (e.g. 'phr') or its host")
            host = self.get_catalog_host(collection)
        endpoint = V2.get_catalog_quicklook if self.generation == "current" else V1.get_catalog_quicklook
        try:
            return self._call(endpoint, host=host, image_id=_require_id(image_id, "image_id"))
        except UP42NotFoundError:
            self.log.warning("UP42 has no quicklook for image %s", image_id)
            return None

    # ------------------------------------------------------------------------------------- orders

    def construct_catalog_order_parameters(
        self, data_product_id: str, image_id: str, aoi: Any = None, tags: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """``V1.get_data_product_schema`` +
        :func:`~up42_provider.utils.parameters.catalog_order_parameters`."""
        schema = self.get_data_product_schema(data_product_id)
        return P.catalog_order_parameters(schema, data_product_id, image_id, aoi=aoi, tags=tags)

    def construct_tasking_order_parameters(
        self,
        data_product_id: str,
        name: str,
        acquisition_start: P.TimeInput,
        acquisition_end: P.TimeInput,
        geometry: Any,
        tags: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """``V1.get_data_product_schema`` +
        :func:`~up42_provider.utils.parameters.tasking_order_parameters`."""
        schema = self.get_data_product_schema(data_product_id)
        return P.tasking_order_parameters(
            schema, data_product_id, name, acquisition_start, acquisition_end, geometry, tags=tags
        )

    @staticmethod
    def _order_body(order_parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the order body locally (geometry, required keys) before any request."""
        if not isinstance(order_parameters, Mapping):
            raise ValueError("order_parameters must be a dict with 'dataProduct' and 'params'")
        body = copy.deepcopy(dict(order_parameters))
        if not body.get("dataProduct"):
            raise ValueError("order_parameters lack 'dataProduct' (the data product id)")
        params = body.get("params")
        if not isinstance(params, Mapping):
            raise ValueError("order_parameters lack 'params' (see construct_*_order_parameters)")
        params = dict(params)
        if params.get("aoi") is not None:
            params["aoi"] = to_polygon_geojson(params["aoi"])
        if params.get("geometry") is not None:
            params["geometry"] = to_polygon_geojson(params["geometry"], allow_point=True)
        body["params"] = params
        return body

    def estimate_order(self, order_parameters: Mapping[str, Any]) -> int:
        """``V1.estimate_order``: the order's price in credits."""
        data = self._call(V1.estimate_order, json=self._order_body(order_parameters)) or {}
        return int(data["credits"])

    def place_order(
        self,
        order_parameters: Mapping[str, Any],
        *,
        tag: str | None = None,
        reuse_existing: bool = False,
    ) -> dict[str, Any]:
        """``V1.create_order`` then ``V1.get_order``: place an order, idempotently.

        ``tag`` (generated when not given) is added to the order's ``tags`` as client token: when
        the answer is lost (time-out, broken connection, 5xx) the order is looked up by that tag
        (``V1.get_orders``) for the hook's settle window and returned if UP42 created it; only then is the
        request sent once more (see ``UP42Hook._create_once``; duplicates land in ``"duplicates"``).
        Pass a tag that is stable across Airflow task retries together with ``reuse_existing=True`` to get
        the order a previous try placed instead of a second one.
        """
        body = self._order_body(order_parameters)
        if tag is not None and (not isinstance(tag, str) or not tag.strip()):
            raise ValueError("tag must be a non-empty string")
        known_ids: set[str] = set()
        if tag is None:
            tag = f"airflow-{uuid.uuid4()}"
        else:
            known = self.get_orders(tags=[tag], limit=self.page_size)
            if reuse_existing and known:
                first = keep_one(known)[0]
                self.log.info("Order with tag %r exists already: %s", tag, first.get("id"))
                return first
            known_ids = {str(o.get("id")) for o in known}
        body = P.with_tag(body, tag)

        def create() -> dict[str, Any]:
            data = self._call(V1.create_order, json=body) or {}
            if not data.get("id"):
                raise UP42Error(f"Order was not placed: {data}", method="POST", path=V1.create_order.path)
            return self.get_order(data["id"])

        def find() -> list[dict[str, Any]]:
            orders = self.get_orders(tags=[tag], limit=self.page_size)
            return [o for o in orders if o.get("id") not in known_ids]

        # The 2023 order API has no cancellation: a duplicate order is reported, not cancelled.
        return self._create_once(
            f"place order tagged {tag!r}", create, find, fetch=self.get_order, discard=None
        )

    def get_order_assets(self, order_id: str) -> list[dict[str, Any]]:
        """``V1.get_order`` then ``V1.get_asset`` per asset; raises if the order is not fulfilled yet."""
        order = self.get_order(order_id)
        if order.get("status") != "FULFILLED":
            raise ValueError(f"Order {order_id} is {order.get('status')}, not FULFILLED: wait for it first")
        return [self.get_asset(asset_id) for asset_id in order.get("assets") or []]

    # ------------------------------------------------------------------------------------ tasking

    def _iter_tasking(
        self,
        endpoint: Any,
        allowed_decisions: Sequence[str],
        *,
        item_id: str | None,
        workspace_id: str | None,
        order_id: str | None,
        decision: str | Iterable[str] | None,
        sortby: str,
        descending: bool,
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"sort": f"{sortby},{'desc' if descending else 'asc'}"}
        if item_id is not None:
            params["id"] = item_id
        if workspace_id is not None:
            params["workspaceId"] = workspace_id
        if order_id is not None:
            params["orderId"] = order_id
        decisions = _choices(decision, allowed_decisions, "decision")
        if decisions:
            params["decision"] = decisions

        def fetch(page: int | None) -> Any:
            return self._call(endpoint, params={"page": page, **params})

        return spring_pages(fetch, first_page_param=True)

    def iter_quotations(
        self,
        quotation_id: str | None = None,
        workspace_id: str | None = None,
        order_id: str | None = None,
        decision: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """``V1.get_quotations`` (Spring pages): tasking quotations."""
        return self._iter_tasking(
            V1.get_quotations,
            QUOTATION_DECISIONS,
            item_id=quotation_id,
            workspace_id=workspace_id,
            order_id=order_id,
            decision=decision,
            sortby=sortby,
            descending=descending,
        )

    def get_quotations(self, *args: Any, limit: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        return _take(self.iter_quotations(*args, **kwargs), limit)

    def decide_quotation(self, quotation_id: str, decision: str) -> dict[str, Any]:
        """``V1.decide_quotation``: accept or reject a quotation (only undecided ones)."""
        if decision not in ("ACCEPTED", "REJECTED"):
            raise ValueError(f"decision must be ACCEPTED or REJECTED, got {decision!r}")
        return self._call(
            V1.decide_quotation,
            json={"decision": decision},
            quotation_id=_require_id(quotation_id, "quotation_id"),
        )

    def iter_feasibility(
        self,
        feasibility_id: str | None = None,
        workspace_id: str | None = None,
        order_id: str | None = None,
        decision: str | Iterable[str] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Feasibility studies (2023 ``/v2/tasking/feasibility``, today ``.../feasibility-studies``)."""
        return self._iter_tasking(
            V2.get_feasibility if self.generation == "current" else V1.get_feasibility,
            FEASIBILITY_DECISIONS,
            item_id=feasibility_id,
            workspace_id=workspace_id,
            order_id=order_id,
            decision=decision,
            sortby=sortby,
            descending=descending,
        )

    def get_feasibility(self, *args: Any, limit: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        return _take(self.iter_feasibility(*args, **kwargs), limit)

    def choose_feasibility(self, feasibility_id: str, accepted_option_id: str) -> dict[str, Any]:
        """Accept one option of an undecided feasibility study (path per generation)."""
        return self._call(
            V2.choose_feasibility if self.generation == "current" else V1.choose_feasibility,
            json={"acceptedOptionId": _require_id(accepted_option_id, "accepted_option_id")},
            feasibility_id=_require_id(feasibility_id, "feasibility_id"),
        )
