"""Storage records and the one store that holds every asset, STAC item and STAC collection.

One account storage under both generations: the 2023 asset listing and metadata calls and today's
STAC storage API read the same records, so a 2023 order's delivery is an item of today's
``/v2/assets/stac/`` too (same account, same bucket), and a title set through one generation is
what the other shows. Each record is one asset (``asset`` is its 2023 object) and one STAC item.

Other domains add to storage only through these public methods of :class:`AssetStore`:

* order deliveries: :meth:`AssetStore.create` registers the delivery of a fulfilled scene (invisible
  until :meth:`AssetStore.publish`; :meth:`AssetStore.build_status` says when its archive is built,
  :meth:`AssetStore.discard` forgets it when the order fails). ``layout="archive"`` (2023 orders)
  gives the item one ``data`` asset, the ZIP; ``layout="files"`` (orders v2) gives it an ``image``
  GeoTIFF asset and keeps the ZIP as the collection's "Original Delivery" asset.
* processing results: :meth:`AssetStore.add_results` adds a visible STAC collection of
  :class:`ResultItem` items (``up42-system:job_id`` on each), whose files are built lazily.
  :meth:`AssetStore.find_item` resolves an input item's ``self`` href and
  :meth:`AssetStore.raster_key` names its GeoTIFF, from which results are derived.

Every STAC asset href is ``<base>/v2/assets/<file id>``; ``/v2/assets/<file id>/download-url`` and
``GET /v2/assets/<file id>`` serve it (:meth:`AssetStore.file`). For an order delivery the archive's
file id is the asset id (the 2023 contract).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator.clock import iso
from up42_provider.emulator.http import ApiError
from up42_provider.emulator.stac_query import as_datetime

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

log = logging.getLogger("up42_provider.emulator.storage")

NOT_FOUND = "Resource does not exist."
STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
    "https://api.up42.com/stac-extensions/up42-product/v1.0.0/schema.json",
]
GEOTIFF = "image/tiff; application=geotiff"
METADATA_VERSION = "1.0"
# Platform names by collection when the scene does not say (STAC ``platform``).
_PLATFORMS = {
    "phr": "PHR-1A",
    "pneo": "PNEO-3",
    "spot": "SPOT-7",
    "sentinel-2": "SENTINEL-2A",
    "capella-space": "CAPELLA",
}
_ITEM_PATH = re.compile(r"/v2/assets/stac/collections/(?P<collection>[^/]+)/items/(?P<item>[^/?#]+)/?$")
_FILE_NS = uuid.UUID("0b9e3d0c-58a6-4f0e-8f4d-4a3c1f6f5e21")

Builder = Callable[[Path], Any]


def not_found() -> ApiError:
    return ApiError(404, NOT_FOUND, title=NOT_FOUND)


@dataclass
class StoredFile:
    """One downloadable file of an item: a STAC asset whose href is ``/v2/assets/<id>``."""

    id: str
    name: str  # the STAC asset key ("data", "image", ...)
    blob_key: str
    media_type: str
    roles: list[str]
    title: str | None = None
    filename: str = ""


@dataclass
class AssetRecord:
    """One asset: its 2023 object, its STAC item (hrefs added per request), files and build progress."""

    asset: dict[str, Any]
    item: dict[str, Any]
    collection_id: str
    blob_key: str
    visible: bool = False
    ready: bool = False
    error: str | None = None
    built_at: datetime | None = None
    files: list[StoredFile] = field(default_factory=list)
    user_title: str | None = None  # ``up42-user:title``; the 2023 ``title`` falls back to the name
    listed: bool = True  # in the 2023 asset listing (processing results are not)
    raster: StoredFile | None = None  # the item's GeoTIFF (inside the ZIP for a 2023 delivery)


@dataclass
class StacCollection:
    id: str
    order_id: str | None
    title: str
    description: str
    created_at: datetime
    asset_ids: list[str] = field(default_factory=list)
    workspace_id: str = ""
    job_id: str | None = None
    original: StoredFile | None = None  # the delivery ZIP of a ``files`` layout order


@dataclass
class ResultFile:
    """A file of a processing result item; ``build(path)`` writes it on first download."""

    name: str  # STAC asset key, e.g. "image"
    filename: str  # plain file name, its extension is the download's
    media_type: str
    build: Builder
    roles: Sequence[str] = ("data",)
    title: str | None = None


@dataclass
class ResultItem:
    """One item of a processing results collection (footprint, time, extra properties, files)."""

    geometry: dict[str, Any]
    datetime: datetime
    files: Sequence[ResultFile]
    properties: dict[str, Any] = field(default_factory=dict)
    title: str | None = None


def stac_time(ts: datetime) -> str:
    """STAC datetime format as the real items show it (``2021-05-31T09:51:52.100000+00:00``)."""
    return ts.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _archive_seed(config_seed: int, asset_id: str) -> int:
    return (config_seed * 1_000_003 + int(asset_id.replace("-", "")[:12], 16)) % (2**31)


def _footprint(geometry: dict[str, Any] | None, aoi: dict[str, Any] | None) -> BaseGeometry | None:
    """The delivered footprint: the scene clipped to the ordered AOI (the scene if they miss)."""
    try:
        scene = shape(geometry) if geometry else None
    except Exception:
        scene = None
    try:
        clip = shape(aoi) if aoi else None
    except Exception:
        clip = None
    if scene is None:
        return clip
    if clip is not None and clip.area > 0:
        part = scene.intersection(clip)
        if not part.is_empty and part.area > 0:
            return part
    return scene


class AssetStore:
    """All assets of the account (one workspace in the emulator) and their STAC view."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.records: dict[str, AssetRecord] = {}
        self.collections: dict[str, StacCollection] = {}
        self._collection_of_order: dict[str, str] = {}
        self._files: dict[str, tuple[str, StoredFile]] = {}  # file id -> (asset id, file)
        self._builds: set[concurrent.futures.Future[None]] = set()

    @property
    def account_id(self) -> str:
        return str(self._state.config.account_id)

    def advance(self, now: datetime) -> None:
        """Storage has no timed transitions: archives finish building on their own."""

    # -- order deliveries -------------------------------------------------------------------------
    def create(
        self,
        order: dict[str, Any],
        feature: dict[str, Any],
        *,
        aoi: dict[str, Any] | None = None,
        source: str = "ARCHIVE",
        collection_name: str | None = None,
        producer_name: str | None = None,
        host: str | None = None,
        title: str | None = None,
        layout: str = "archive",
    ) -> dict[str, Any]:
        """Register the delivery of ``order`` for the scene ``feature`` (a catalog search feature,
        ``catalog.responses.search``).

        The archive starts building at once in a worker thread; the asset is invisible until
        :meth:`publish`. ``layout`` is ``archive`` (the item's asset is the ZIP) or ``files`` (the
        item's asset is the scene's GeoTIFF, the ZIP is the collection's original delivery).
        Returns the (live) asset object.
        """
        if layout not in ("archive", "files"):
            raise ValueError(f"unknown delivery layout {layout!r}")
        state = self._state
        props = feature.get("properties") or {}
        scene_id = str(props.get("id") or props.get("sceneId") or state.new_id())
        acquired = as_datetime(props.get("acquisitionDate")) or state.clock.now()
        collection_name = collection_name or props.get("collection") or props.get("constellation") or ""
        producer_name = producer_name or props.get("producer") or props.get("providerName") or ""
        platform = str(
            props.get("platform")
            or (props.get("providerProperties") or {}).get("platform")
            or _PLATFORMS.get(collection_name, collection_name.upper())
        )
        footprint = _footprint(feature.get("geometry"), aoi)
        asset_id = state.new_id()
        name = f"{re.sub(r'[^A-Za-z0-9]+', '', platform)}_{acquired:%Y%m%dT%H%M%S}_{scene_id.split('-')[0]}"
        blob_key = f"asset:{asset_id}"
        now = state.clock.now()
        asset = {
            "id": asset_id,
            "accountId": state.config.account_id,
            "workspaceId": order["workspaceId"],
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "name": name,
            "title": title or name,
            "tags": list(order.get("tags") or []),
            "size": 0,
            "order": {
                "id": order["id"],
                "status": order.get("status", "BEING_FULFILLED"),
                "hostId": host or "",
            },
            "source": source,
            "productId": order.get("dataProductId"),
            "contentType": "application/zip",
            "producerName": producer_name,
            "collectionName": collection_name,
            "geospatialMetadataExtraction": "SUCCESSFUL",
        }
        archive = StoredFile(
            asset_id,
            "data",
            blob_key,
            "application/zip",
            ["data", "original"],
            "Original Delivery",
            f"{name}.zip",
        )
        with state.lock:
            collection_id = self._collection_for(order, now)
            item = {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": state.new_id(),
                "collection": collection_id,
                "stac_extensions": list(STAC_EXTENSIONS),
                "geometry": mapping(footprint) if footprint is not None else feature.get("geometry"),
                "bbox": list(footprint.bounds) if footprint is not None else feature.get("bbox"),
                "properties": {
                    "up42-system:asset_id": asset_id,
                    "up42-system:workspace_id": order["workspaceId"],
                    "up42-system:account_id": state.config.account_id,
                    "up42-system:source": source,
                    "up42-system:metadata_version": METADATA_VERSION,
                    "up42-order:id": order["id"],
                    "up42-product:product_id": order.get("dataProductId"),
                    "datetime": stac_time(acquired),
                    "start_datetime": stac_time(acquired),
                    "end_datetime": stac_time(acquired),
                    "gsd": props.get("resolution"),
                    "platform": platform,
                    "constellation": props.get("constellation") or collection_name,
                    "proj:epsg": 4326,
                    "eo:cloud_cover": props.get("cloudCoverage"),
                    "up42-product:collection_name": collection_name,
                },
            }
            image = StoredFile(
                str(uuid.uuid5(_FILE_NS, f"{asset_id}/image")),
                "image",
                f"asset:{asset_id}:image",
                GEOTIFF,
                ["data"],
                name,
                f"{name}.tif",
            )
            record = AssetRecord(asset, item, collection_id, blob_key, user_title=title, raster=image)
            if layout == "archive":
                record.files = [archive]
            else:
                record.files = [image]
                self.collections[collection_id].original = archive
                self._files[archive.id] = (asset_id, archive)
            for stored in record.files:
                self._files[stored.id] = (asset_id, stored)
            self.records[asset_id] = record
            self.collections[collection_id].asset_ids.append(asset_id)
        self._register_blob(record, feature, aoi or feature.get("geometry"))
        self._register_image(record, feature, aoi or feature.get("geometry"))
        return asset

    def _collection_for(self, order: dict[str, Any], now: datetime) -> str:
        collection_id = self._collection_of_order.get(order["id"])
        if collection_id is None:
            collection_id = self._state.new_id()
            self._collection_of_order[order["id"]] = collection_id
            self.collections[collection_id] = StacCollection(
                id=collection_id,
                order_id=order["id"],
                title=f"Order {order['id']}",
                description=f"Delivery of order {order['id']} ({order.get('type', 'ARCHIVE').lower()})",
                created_at=now,
                workspace_id=order["workspaceId"],
            )
        return collection_id

    def _register_blob(
        self, record: AssetRecord, feature: dict[str, Any], aoi: dict[str, Any] | None
    ) -> None:
        state = self._state
        seed = _archive_seed(state.config.seed, record.asset["id"])
        pad = int(state.config.asset_size_mb * 2**20)
        archive_feature = {**feature, "properties": dict(feature.get("properties") or {})}

        def build(path: Path) -> None:
            from up42_provider.emulator.media.products import write_order_archive

            write_order_archive(path, archive_feature, aoi, seed, pad_bytes=pad)

        state.blobs.register(record.blob_key, f"{record.asset['name']}.zip", "application/zip", build)
        self._start_build(record)

    def _register_image(
        self, record: AssetRecord, feature: dict[str, Any], aoi: dict[str, Any] | None
    ) -> None:
        """The scene's GeoTIFF as its own file: the raster of the archive, built on first download."""
        state = self._state
        seed = _archive_seed(state.config.seed, record.asset["id"])
        scene = {**feature, "properties": dict(feature.get("properties") or {})}
        image = record.raster
        assert image is not None

        def build(path: Path) -> None:
            from up42_provider.emulator.media import products

            geometry = products.clip_geometry(scene, aoi)
            products.write_cog(path, geometry, products.derive_seed(seed, "scene", products.scene_id(scene)))

        state.blobs.register(image.blob_key, image.filename, GEOTIFF, build)

    def _start_build(self, record: AssetRecord) -> None:
        loop = self._state.loop
        if loop is not None and not loop.is_closed():
            future = asyncio.run_coroutine_threadsafe(self._build(record), loop)
            self._builds.add(future)
            future.add_done_callback(self._builds.discard)
        else:  # no running app (library use): build inline
            asyncio.run(self._build(record))

    async def _build(self, record: AssetRecord) -> None:
        try:
            blob = await self._state.blobs.ensure(record.blob_key)
        except Exception as exc:  # the order fails when its delivery cannot be produced
            log.exception("building asset archive %s failed", record.blob_key)
            with self._state.lock:
                record.error = f"{type(exc).__name__}: {exc}"
            return
        with self._state.lock:
            record.asset["size"] = int(blob.size)
            record.ready = True
            record.built_at = self._state.clock.now()

    async def wait_for_builds(self, timeout: float = 60.0) -> None:
        """Shutdown hook: let running archive builds finish before the data directory goes away."""
        pending = [asyncio.wrap_future(f) for f in list(self._builds)]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # -- life cycle of a delivery (used by orders) ------------------------------------------------
    def build_status(self, asset_id: str) -> str:
        """``building``, ``ready`` or ``failed``."""
        record = self.records[asset_id]
        if record.error:
            return "failed"
        return "ready" if record.ready else "building"

    def publish(self, asset_id: str, when: datetime, order_status: str = "FULFILLED") -> dict[str, Any]:
        """Make the asset visible (listing, metadata, STAC), created at ``when``."""
        with self._state.lock:
            record = self.records[asset_id]
            record.asset["createdAt"] = record.asset["updatedAt"] = iso(when)
            record.asset["order"]["status"] = order_status
            record.visible = True
            return record.asset

    def discard(self, asset_id: str) -> None:
        """Forget an unpublished asset (its order failed)."""
        with self._state.lock:
            record = self.records.pop(asset_id, None)
            if record is not None:
                collection = self.collections.get(record.collection_id)
                if collection is not None and asset_id in collection.asset_ids:
                    collection.asset_ids.remove(asset_id)
                for stored in record.files:
                    self._files.pop(stored.id, None)

    # -- processing results -----------------------------------------------------------------------
    def add_results(
        self,
        *,
        job_id: str,
        workspace_id: str,
        title: str,
        items: Sequence[ResultItem],
        description: str | None = None,
        source: str = "ANALYTICS",
    ) -> StacCollection:
        """Add a visible results collection of a processing job, one asset per item.

        Each item carries ``up42-system:job_id``; its files are registered as blobs and built on
        first download (the first file of each item is also built at once so ``size`` is known).
        Returns the collection (its ``id`` is what the job's ``collection`` link names).
        """
        if not items:
            raise ValueError("a results collection needs at least one item")
        state = self._state
        now = state.clock.now()
        with state.lock:
            collection = StacCollection(
                id=state.new_id(),
                order_id=None,
                title=title,
                description=description or f"Results of processing job {job_id}",
                created_at=now,
                workspace_id=workspace_id,
                job_id=job_id,
            )
            self.collections[collection.id] = collection
        for result in items:
            asset_id = state.new_id()
            footprint = shape(result.geometry)
            files = [
                StoredFile(
                    asset_id if i == 0 else str(uuid.uuid5(_FILE_NS, f"{asset_id}/{f.name}")),
                    f.name,
                    f"result:{asset_id}:{f.name}",
                    f.media_type,
                    list(f.roles),
                    f.title,
                    f.filename,
                )
                for i, f in enumerate(result.files)
            ]
            name = result.title or result.files[0].filename.rsplit(".", 1)[0]
            asset = {
                "id": asset_id,
                "accountId": state.config.account_id,
                "workspaceId": workspace_id,
                "createdAt": iso(now),
                "updatedAt": iso(now),
                "name": name,
                "title": name,
                "tags": [],
                "size": 0,
                "order": None,
                "source": source,
                "productId": None,
                "contentType": result.files[0].media_type,
                "producerName": "",
                "collectionName": "",
                "geospatialMetadataExtraction": "SUCCESSFUL",
            }
            when = stac_time(result.datetime)
            item = {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": state.new_id(),
                "collection": collection.id,
                "stac_extensions": list(STAC_EXTENSIONS),
                "geometry": mapping(footprint),
                "bbox": list(footprint.bounds),
                "properties": {
                    "datetime": when,
                    "start_datetime": when,
                    "end_datetime": when,
                    **result.properties,
                    "up42-system:asset_id": asset_id,
                    "up42-system:workspace_id": workspace_id,
                    "up42-system:account_id": state.config.account_id,
                    "up42-system:job_id": job_id,
                    "up42-system:source": source,
                    "up42-system:metadata_version": METADATA_VERSION,
                },
            }
            raster = next((f for f in files if f.media_type == GEOTIFF), None)
            record = AssetRecord(
                asset,
                item,
                collection.id,
                files[0].blob_key,
                visible=True,
                files=files,
                listed=False,
                raster=raster,
            )
            with state.lock:
                self.records[asset_id] = record
                collection.asset_ids.append(asset_id)
                for stored in files:
                    self._files[stored.id] = (asset_id, stored)
            for stored, spec in zip(files, result.files, strict=True):
                state.blobs.register(stored.blob_key, stored.filename, spec.media_type, spec.build)
            self._start_build(record)
        return collection

    # -- queries ----------------------------------------------------------------------------------
    def visible(self) -> list[AssetRecord]:
        with self._state.lock:
            return [r for r in self.records.values() if r.visible]

    def get(self, asset_id: str) -> AssetRecord:
        """A visible asset by id (404 otherwise)."""
        with self._state.lock:
            record = self.records.get(asset_id)
        if record is None or not record.visible:
            raise not_found()
        return record

    def file(self, file_id: str) -> tuple[AssetRecord, StoredFile]:
        """The visible file behind a STAC asset href ``/v2/assets/<file_id>`` (404 otherwise)."""
        with self._state.lock:
            found = self._files.get(file_id)
            record = self.records.get(found[0]) if found else None
        if found is None or record is None or not record.visible:
            raise not_found()
        return record, found[1]

    def find_item(self, href: str) -> AssetRecord | None:
        """The visible record behind an item's ``self`` href (any host), or None.

        Processing inputs name items by that href; a validation answers "does not exist" on None.
        """
        match = _ITEM_PATH.search(urlsplit(href).path if "://" in href else href)
        if match is None:
            return None
        try:
            return self.item(match["collection"], match["item"])
        except ApiError:
            return None

    def raster_key(self, record: AssetRecord) -> str | None:
        """Blob key of the item's GeoTIFF (build it with ``blobs.ensure``/``ensure_sync``), if any.

        A 2023 delivery has one too: the raster of its ZIP, produced on demand.
        """
        return record.raster.blob_key if record.raster is not None else None

    def visible_collections(self) -> list[StacCollection]:
        with self._state.lock:
            return [
                c
                for c in sorted(self.collections.values(), key=lambda c: (c.created_at, c.id))
                if any(self.records[a].visible for a in c.asset_ids if a in self.records)
            ]

    def collection(self, collection_id: str) -> StacCollection:
        """A collection with at least one visible item (404 otherwise)."""
        with self._state.lock:
            found = self.collections.get(collection_id)
            if found is not None and any(
                self.records[a].visible for a in found.asset_ids if a in self.records
            ):
                return found
        raise not_found()

    def collection_records(self, collection_id: str) -> list[AssetRecord]:
        with self._state.lock:
            collection = self.collections.get(collection_id)
            if collection is None:
                return []
            return [
                self.records[a] for a in collection.asset_ids if a in self.records and self.records[a].visible
            ]

    def item(self, collection_id: str, item_id: str) -> AssetRecord:
        """The visible record whose STAC item is ``item_id`` in ``collection_id`` (404 otherwise)."""
        for record in self.collection_records(self.collection(collection_id).id):
            if record.item["id"] == item_id:
                return record
        raise not_found()

    # -- changes ------------------------------------------------------------------------------------
    def update_metadata(
        self,
        record: AssetRecord,
        *,
        title: str | None = None,
        tags: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        clear_title: bool = False,
    ) -> dict[str, Any]:
        """Set the user title and tags of an asset (both generations' edits land here).

        ``None`` keeps a value; ``clear_title`` removes the user title (the 2023 ``title`` then
        shows the asset's name again). Returns a copy of the 2023 asset object.
        """
        state = self._state
        with state.lock:
            asset = record.asset
            if clear_title:
                record.user_title = None
                asset["title"] = asset["name"]
            elif title is not None:
                record.user_title = title
                asset["title"] = title
            if tags is not None:
                asset["tags"] = list(dict.fromkeys(tags))
            if extra:
                asset.setdefault("metadata", {}).update(extra)
            asset["updatedAt"] = iso(state.clock.now())
            return dict(asset)

    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection with all its items, assets and files (their signed URLs then 404)."""
        collection = self.collection(collection_id)
        with self._state.lock:
            gone = [a for a in collection.asset_ids if a in self.records and self.records[a].visible]
            records = [self.records.pop(a) for a in gone]
            # Deliveries still being built stay (their order is still running) in a now hidden collection.
            collection.asset_ids = [a for a in collection.asset_ids if a not in gone]
            files = [f for r in records for f in r.files]
            if not collection.asset_ids:
                self.collections.pop(collection.id, None)
                if collection.order_id is not None:
                    self._collection_of_order.pop(collection.order_id, None)
                if collection.original is not None:
                    files.append(collection.original)
            for stored in files:
                self._files.pop(stored.id, None)
        for key in {f.blob_key for f in files}:
            self._state.blobs.remove(key)
