"""Storage: assets and the storage STAC API."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from up42_provider.api.endpoints import V1, V2
from up42_provider.api.redact import redact_url
from up42_provider.hooks._base import HookBase
from up42_provider.hooks._helpers import (
    ASSET_SOURCES,
    STORAGE_STAC_LIMIT,
    _choices,
    _require_id,
    _strings,
    _take,
)
from up42_provider.hooks._pagination import next_link, spring_pages
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import to_polygon_geojson
from up42_provider.utils.ids import id_from_href


class StorageMixin(HookBase):
    """Methods of :class:`~up42_provider.hooks.up42.UP42Hook` (relies on its ``_call``/``get_conn``)."""

    # ------------------------------------------------------------------------------------ storage

    def iter_assets(
        self,
        *,
        created_after: P.TimeInput | None = None,
        created_before: P.TimeInput | None = None,
        acquired_after: P.TimeInput | None = None,
        acquired_before: P.TimeInput | None = None,
        geometry: Any = None,
        workspace_id: str | None = None,
        collection_names: str | Iterable[str] | None = None,
        producer_names: str | Iterable[str] | None = None,
        tags: str | Iterable[str] | None = None,
        sources: str | Iterable[str] | None = None,
        search: str | None = None,
        custom_filter: Mapping[str, Any] | None = None,
        sortby: str = "createdAt",
        descending: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """``V1.get_assets`` (Spring pages), filtered by a ``V1.search_storage_stac`` search when
        acquisition, geometry or a CQL2 ``custom_filter`` is given (as up42-py's ``Storage.get_assets``)."""
        params: dict[str, Any] = {"sort": f"{sortby},{'desc' if descending else 'asc'}"}
        if created_before is not None:
            params["createdBefore"] = P.format_timestamp(created_before, field="created_before")
        if created_after is not None:
            params["createdAfter"] = P.format_timestamp(created_after, field="created_after")
        if workspace_id is not None:
            params["workspaceId"] = workspace_id
        if collection_names is not None:
            params["collectionNames"] = ",".join(_strings(collection_names) or [])
        if producer_names is not None:
            params["producerNames"] = ",".join(_strings(producer_names) or [])
        if tags is not None:
            params["tags"] = _strings(tags)
        if sources is not None:
            params["sources"] = ",".join(_choices(sources, ASSET_SOURCES, "sources") or [])
        if search is not None:
            params["search"] = search
        params["size"] = self.page_size
        stac_ids: set[str] | None = None
        if any(v is not None for v in (acquired_after, acquired_before, geometry, custom_filter)):
            body = self.storage_stac_search_parameters(
                acquired_after=acquired_after,
                acquired_before=acquired_before,
                geometry=geometry,
                custom_filter=custom_filter,
            )
            stac_ids = {
                f.get("properties", {}).get("up42-system:asset_id") for f in self.iter_storage_stac(body)
            }

        def fetch(page: int | None) -> Any:
            return self._call(V1.get_assets, params=params if page is None else {**params, "page": page})

        items = spring_pages(fetch, first_page_param=False)
        if stac_ids is None:
            return items
        return (a for a in items if a.get("id") in stac_ids)

    def get_assets(self, *, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """``V1.get_assets`` (+``V1.search_storage_stac``): see :meth:`iter_assets` for the filters."""
        return _take(self.iter_assets(**filters), limit)

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        """``V1.get_asset``: asset metadata."""
        return self._call(V1.get_asset, asset_id=_require_id(asset_id, "asset_id"))

    def update_asset_metadata(
        self, asset_id: str, title: str | None = None, tags: Sequence[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """``V1.update_asset_metadata``: both ``title`` and ``tags`` are always sent (``None`` when not
        given), as up42-py does."""
        body = {"title": title, "tags": _strings(tags), **kwargs}
        return self._call(V1.update_asset_metadata, json=body, asset_id=_require_id(asset_id, "asset_id"))

    def get_asset_download_url(self, asset_id: str) -> str:
        """``V1.get_asset_download_url``: a short-lived signed URL of the asset archive."""
        data = (
            self._call(V1.get_asset_download_url, json={}, asset_id=_require_id(asset_id, "asset_id")) or {}
        )
        return data["url"]

    def get_asset_href_download_url(self, href: str) -> str:
        """The signed URL behind a STAC asset ``href`` of UP42 storage (``.../v2/assets/<asset id>``),
        as today's items link their files; the same call as :meth:`get_asset_download_url`."""
        marker = "/v2/assets/"
        path = urlsplit(str(href)).path.rstrip("/")
        if marker not in path:
            raise ValueError(
                f"not a UP42 storage asset href (…/v2/assets/<asset id>): {redact_url(str(href))}"
            )
        return self.get_asset_download_url(path.rsplit(marker, 1)[1])

    @staticmethod
    def storage_stac_search_parameters(
        *,
        acquired_after: P.TimeInput | None = None,
        acquired_before: P.TimeInput | None = None,
        geometry: Any = None,
        custom_filter: Mapping[str, Any] | None = None,
        limit: int = STORAGE_STAC_LIMIT,
    ) -> dict[str, Any]:
        """The ``V1.search_storage_stac`` body of up42-py's ``Storage.get_assets``."""
        after = (
            P.format_timestamp(acquired_after, field="acquired_after") if acquired_after is not None else None
        )
        before = (
            P.format_timestamp(acquired_before, field="acquired_before")
            if acquired_before is not None
            else None
        )
        if after and before and after > before:
            raise ValueError(f"acquired_after {after} is after acquired_before {before}: swap them")
        body: dict[str, Any] = {"max_items": 100, "limit": limit}
        if geometry is not None:
            body["intersects"] = to_polygon_geojson(geometry)
        if custom_filter is not None:
            if not isinstance(custom_filter, Mapping):
                raise ValueError("custom_filter must be a CQL2-JSON dict, e.g. {'op': '=', 'args': [...]}")
            body["filter"] = dict(custom_filter)
        body["datetime"] = f"{after or '..'}/{before or '..'}" if (after or before) else None
        return body

    def iter_storage_stac(
        self, search_parameters: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """``V1.search_storage_stac``: storage STAC items; follows the ``next`` link's ``body.token``."""
        body = copy.deepcopy(dict(search_parameters or {}))
        if body.get("intersects") is not None:
            body["intersects"] = to_polygon_geojson(body["intersects"])
        return self._stac_pages(body)

    def _stac_pages(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        tokens: set[Any] = set()
        while True:
            page = self._call(self._stac_search_endpoint(), json=body) or {}
            features = page.get("features") or []
            yield from features
            link = next_link(page.get("links"))
            token = ((link or {}).get("body") or {}).get("token")
            if not features or token is None or token in tokens:
                return
            tokens.add(token)
            body = {**body, "token": token}

    def _stac_search_endpoint(self) -> Any:
        return V2.search_storage_stac if self.generation == "current" else V1.search_storage_stac

    def search_storage_stac(
        self, search_parameters: Mapping[str, Any] | None = None, *, limit: int | None = STORAGE_STAC_LIMIT
    ) -> dict[str, Any]:
        """``V1.search_storage_stac``: a FeatureCollection of the storage STAC items matching the search."""
        return {
            "type": "FeatureCollection",
            "features": _take(self.iter_storage_stac(search_parameters), limit),
        }

    def get_asset_stac_info(self, asset_id: str) -> dict[str, Any]:
        """``V1.search_storage_stac`` filtered on one asset (up42-py's ``Asset.stac_info``; one page, without
        links)."""
        body = {
            "max_items": 50,
            "limit": 50,
            "filter": {"op": "=", "args": [{"property": "asset_id"}, _require_id(asset_id, "asset_id")]},
        }
        page = dict(self._call(V1.search_storage_stac, json=body) or {})
        page.pop("links", None)
        return page

    def iter_order_items(self, order_id: str) -> Iterator[dict[str, Any]]:
        """Today's deliveries of an order: the storage STAC items whose ``order_id`` matches."""
        body = {
            "filter": {"op": "=", "args": [{"property": "order_id"}, _require_id(order_id, "order_id")]},
            "filter-lang": "cql2-json",
            "limit": STORAGE_STAC_LIMIT,
        }
        return self._stac_pages(body)

    def iter_stac_items(self, collection_id: str) -> Iterator[dict[str, Any]]:
        """Today's items of one storage STAC collection (``V2.get_stac_items``), following the ``next`` links.

        ``collection_id`` may be the collection's URL, as a job's ``results.collection`` gives it.
        """
        self._require_current("iter_stac_items")
        collection_id = id_from_href(collection_id, name="collection_id")
        client = self.get_conn()
        page = self._call(V2.get_stac_items, collection_id=collection_id, params={"limit": 100}) or {}
        seen: set[str] = set()
        while True:
            features = page.get("features") or []
            yield from features
            link = next_link(page.get("links"))
            if link is None or not features or link["href"] in seen:
                return
            seen.add(link["href"])
            page = client.call_url(link["href"], V2.get_stac_items) or {}

    def iter_job_result_items(self, job: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Today's results of a processing job: the items of its ``results.collection``.

        A job without one (not finished, or failed) has no results and yields nothing.
        """
        results = job.get("results") if isinstance(job, Mapping) else None
        href = (results or {}).get("collection") if isinstance(results, Mapping) else None
        if not href:
            return iter(())
        return self.iter_stac_items(str(href))

    def get_storage_stac_root(self) -> dict[str, Any]:
        """``V1.get_storage_stac_root``: the storage STAC API landing page (today's path has a trailing
        slash)."""
        current = self.generation == "current"
        return self._call(V2.get_storage_stac_root if current else V1.get_storage_stac_root)

    def stac_client(self, *, catalog: bool = False) -> Any:
        """A ``pystac_client.Client`` on the storage STAC API (or, today, ``catalog=True``: the
        catalog STAC API) whose requests go through the hook's client (:class:`._stac_io.HookStacIO`).

        The token is read from the hook's cache for every request, so a client kept for longer than
        a token lives keeps working (both UP42 SDKs sent a fixed header); timeouts, retries and
        logging are those of every other hook call.
        """
        import pystac_client

        client = self.get_conn()
        current = client.settings.generation == "current"
        if catalog and not current:
            raise ValueError("the catalog STAC API belongs to today's UP42 API; use search() for 2023")
        if current:
            endpoint = V2.get_catalog_stac_root if catalog else V2.get_storage_stac_root
        else:
            endpoint = V1.get_storage_stac_root

        from up42_provider.hooks._stac_io import HookStacIO

        url = f"{client.settings.base_url}{endpoint.path}"
        return pystac_client.Client.open(url, stac_io=HookStacIO(client), timeout=client.settings.timeout)
