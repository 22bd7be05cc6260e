"""Operations only today's UP42 API has: glossary entries, EULAs, processes, STAC writes, budgets.

Each goes through the hook's one client (``_call``), so errors are the same
``up42_provider.api.errors`` classes as everywhere else (a missing collection is a
``UP42NotFoundError``, not pystac-client's ``APIError``) and the one retry policy applies. STAC
listings follow UP42's ``next`` links; writes (item PATCH, collection DELETE) check everything
they need before the first one is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from up42_provider.api.endpoints import V2
from up42_provider.hooks._base import HookBase
from up42_provider.hooks._helpers import _require_id, _strings, _take
from up42_provider.hooks._pagination import link_pages
from up42_provider.utils.ids import id_from_href

TITLE, TAGS = "up42-user:title", "up42-user:tags"
_KEEP: Any = ...  # "argument not given": the value stays as it is


class CurrentApiMixin(HookBase):
    """Methods of :class:`~up42_provider.hooks.up42.UP42Hook` for today's generation only."""

    # ------------------------------------------------------------------ glossary and EULAs

    def get_collection_v2(self, name: str) -> dict[str, Any]:
        """One glossary collection by name (``phr``), with its providers and data products."""
        self._require_current("get_collection_v2")
        return self._call(V2.get_collection, name=_require_id(name, "name")) or {}

    def get_eula(self, eula_id: str) -> dict[str, Any]:
        """A EULA (``isAccepted`` says whether the account accepted it); ids come from
        ``dataProducts[].eulaId`` of the glossary or a process's ``eula-id`` parameter."""
        self._require_current("get_eula")
        return self._call(V2.get_eula, eula_id=_require_id(eula_id, "eula_id")) or {}

    # ----------------------------------------------------------------------------- processes

    def iter_processes(self) -> Iterator[dict[str, Any]]:
        """The processes the account can run (id, title, ...), following ``next`` links."""
        self._require_current("iter_processes")
        return link_pages(
            lambda: self._call(V2.get_processes),
            lambda href: self.get_conn().call_url(href, V2.get_processes),
            "processes",
        )

    def get_processes(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Up to ``limit`` processes of :meth:`iter_processes`."""
        return _take(self.iter_processes(), limit)

    # --------------------------------------------------------------------------- STAC storage

    def get_stac_collection(self, collection_id: str) -> dict[str, Any]:
        """A storage STAC collection (an order's delivery or a job's results); a URL works too."""
        self._require_current("get_stac_collection")
        cid = id_from_href(collection_id, name="collection_id")
        return self._call(V2.get_stac_collection, collection_id=cid) or {}

    def get_order_stac_items(self, order_id: str) -> list[dict[str, Any]]:
        """The storage STAC items an order delivered (today's orders carry no ``assets`` list)."""
        self._require_current("get_order_stac_items")
        return list(self.iter_order_items(order_id))

    def update_stac_item(
        self,
        collection_id: str,
        item_id: str,
        *,
        title: str | None = _KEEP,
        tags: Sequence[str] | None = _KEEP,
    ) -> dict[str, Any]:
        """Set an item's user title and tags (merge-patch: what is not passed stays, ``None`` or
        ``[]`` clears). Returns the full updated item, ``self`` link included."""
        self._require_current("update_stac_item")
        patch: dict[str, Any] = {}
        if title is not _KEEP:
            if title is not None and not isinstance(title, str):
                raise ValueError(f"title must be a string or None, got {title!r}")
            patch[TITLE] = title
        if tags is not _KEEP:
            patch[TAGS] = None if tags is None else _strings(tags)
        if not patch:
            raise ValueError("update_stac_item needs title= and/or tags=")
        return (
            self._call(
                V2.update_stac_item,
                json=patch,
                collection_id=id_from_href(collection_id, name="collection_id"),
                item_id=_require_id(item_id, "item_id"),
            )
            or {}
        )

    def delete_stac_collection(self, collection_id: str) -> None:
        """Delete a storage collection with all its items and files (cannot be undone)."""
        self._require_current("delete_stac_collection")
        self._call(V2.delete_stac_collection, collection_id=id_from_href(collection_id, name="collection_id"))

    def delete_stac_items(self, item_ids: str | Iterable[str]) -> list[str]:
        """Delete items by id, as up42-py's ``BulkDeletion``: UP42 deletes whole collections only,
        so every item of each collection concerned must be named. All checks run before the first
        deletion; returns the deleted collection ids."""
        self._require_current("delete_stac_items")
        wanted = {_require_id(i, "item_id") for i in _strings(item_ids) or []}
        if not wanted:
            raise ValueError("name at least one STAC item id to delete")
        found = {f["id"]: f.get("collection") for f in self.iter_storage_stac({"ids": sorted(wanted)})}
        missing = sorted(wanted - set(found))
        if missing:
            raise ValueError(f"no storage STAC item(s) {missing}; nothing was deleted")
        collections = sorted({str(c) for c in found.values()})
        for cid in collections:
            others = sorted({i["id"] for i in self.iter_stac_items(cid)} - wanted)
            if others:
                raise ValueError(
                    f"collection {cid} also holds item(s) {others}; UP42 deletes whole collections "
                    "only: name all its items (nothing was deleted)"
                )
        for cid in collections:
            self.delete_stac_collection(cid)
        return collections

    def delete_job_results(self, job_id: str) -> str | None:
        """Delete the storage collection a processing job wrote; returns its id (None: no results)."""
        job = self.get_job(job_id)
        collection = ((job.get("results") or {}).get("collection")) or None
        if collection is None:
            return None
        cid = id_from_href(collection, name="collection_id")
        self.delete_stac_collection(cid)
        return cid

    # --------------------------------------------------------------------------------- budgets

    def get_budget_usage(self, budget_id: str) -> dict[str, Any]:
        """``{"budgetId", "consumedCredits"}`` of one budget."""
        self._require_current("get_budget_usage")
        return self._call(V2.get_budget_usage, budget_id=_require_id(budget_id, "budget_id")) or {}

    def get_budget_settings(self) -> dict[str, Any]:
        """``{"enforcementEnabled", "budgetSettingId"}``: whether spending beyond budgets is refused."""
        self._require_current("get_budget_settings")
        return self._call(V2.get_budget_settings) or {}
