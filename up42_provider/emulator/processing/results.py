"""Where processing meets storage: the one place that reads input items and writes result items.

Inputs are storage STAC items named by their ``self`` href; results are a new STAC collection in the
same storage store (``state.assets``) whose items carry ``up42-system:job_id`` and whose assets are
GeoTIFF blobs computed from the input's file (``processing.rasters``). Result assets are listed with
``source`` ``ANALYTICS`` by the 2023 asset listing too: one storage under both generations.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rasterio
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator.clock import iso
from up42_provider.emulator.processing import rasters

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

log = logging.getLogger("up42_provider.emulator.processing")

_ITEM_HREF = re.compile(r"/v2/assets/stac/collections/(?P<collection>[^/?#]+)/items/(?P<item>[^/?#]+)/?$")
GEOTIFF = "image/tiff; application=geotiff"
# Algorithms whose result has twice the input's resolution.
_FINER = frozenset({"upsample", "pansharpen"})


@dataclass
class InputItem:
    """A storage item given as a processing input, with the GDAL path of its raster."""

    item_id: str
    collection_id: str
    item: dict[str, Any]
    raster_path: str

    @property
    def geometry(self) -> BaseGeometry:
        return shape(self.item["geometry"])

    @property
    def bands(self) -> list[str]:
        with rasterio.open(self.raster_path) as src:
            return [d or f"band{i}" for i, d in enumerate(src.descriptions, start=1)]


def _raster_path(path: Path) -> str | None:
    """The GeoTIFF of a delivery: the file itself, or the first ``.tif`` inside a ZIP delivery."""
    if path.suffix.lower() in (".tif", ".tiff"):
        return str(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = next((n for n in archive.namelist() if n.lower().endswith((".tif", ".tiff"))), None)
        return f"/vsizip/{path}/{member}" if member else None
    return None


def find_item(state: EmulatorState, href: str) -> InputItem | None:
    """The visible storage item at ``href`` (its ``self`` link, absolute or as a path) with a raster."""
    match = _ITEM_HREF.search(href.split("?", 1)[0])
    if match is None:
        return None
    store = state.assets
    for record in store.collection_records(match["collection"]):
        if record.item["id"] == match["item"]:
            blob = state.blobs.get(record.blob_key)
            path = _raster_path(blob.path) if blob is not None else None
            if path is None:
                return None
            return InputItem(record.item["id"], record.collection_id, record.item, path)
    return None


@dataclass
class ResultBuild:
    """The result files of one job, computed in a worker thread while the job runs."""

    collection_id: str
    keys: list[str]
    sources: list[InputItem]
    algorithm: str
    ready: bool = False
    error: str | None = None
    built_at: datetime | None = None


def start_build(
    state: EmulatorState,
    job_id: str,
    algorithm: str,
    items: list[InputItem],
    params: Mapping[str, Any],
    pending: set[concurrent.futures.Future[None]],
) -> ResultBuild:
    """Register the job's result GeoTIFF (of the first item; on the second's grid if any) and start it."""
    key = f"processing:{job_id}:0"
    sources = [i.raster_path for i in items]
    settings = {k: v for k, v in params.items() if k in ("greyWeights", "sensitivity")}

    def build_file(path: Path) -> None:
        rasters.derive(algorithm, path, sources, settings)

    state.blobs.register(key, f"{items[0].item_id}_{algorithm.replace(':', '_')}.tif", GEOTIFF, build_file)
    build = ResultBuild(state.new_id(), [key], list(items), algorithm)

    async def run() -> None:
        try:
            for blob_key in build.keys:
                await state.blobs.ensure(blob_key)
        except Exception as exc:  # the job fails with the reason
            log.exception("computing processing result %s failed", key)
            with state.lock:
                build.error = f"Could not compute the result: {type(exc).__name__}: {exc}"
            return
        with state.lock:
            build.ready, build.built_at = True, state.clock.now()

    loop = state.loop
    if loop is not None and not loop.is_closed():
        future = asyncio.run_coroutine_threadsafe(run(), loop)
        pending.add(future)
        future.add_done_callback(pending.discard)
    else:  # no running app (library use): compute inline
        asyncio.run(run())
    return build


def publish(state: EmulatorState, build: ResultBuild, job_id: str, title: str, at: datetime) -> str:
    """Put the built results into storage as one STAC collection; returns the collection id."""
    # Imported here: the storage routes module imports the state, which imports this package.
    from up42_provider.emulator.storage.models import AssetRecord, StacCollection

    store = state.assets
    source = build.sources[0]
    workspace_id = source.item["properties"].get("up42-system:workspace_id") or state.config.workspace_id
    with state.lock:
        collection = StacCollection(
            id=build.collection_id,
            order_id="",
            title=title,
            description=f"Results of processing job {job_id}",
            created_at=at,
        )
        store.collections[collection.id] = collection
        for key in build.keys:
            blob = state.blobs.get(key)
            assert blob is not None
            asset_id = state.new_id()
            props = source.item["properties"]
            gsd = props.get("gsd")
            if isinstance(gsd, int | float) and build.algorithm in _FINER:
                gsd = gsd / 2
            item = {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": state.new_id(),
                "collection": collection.id,
                "stac_extensions": list(source.item.get("stac_extensions") or []),
                "geometry": json.loads(json.dumps(source.item["geometry"])),
                "bbox": list(source.item.get("bbox") or source.geometry.bounds),
                "properties": {
                    "datetime": props.get("datetime"),
                    "start_datetime": props.get("start_datetime"),
                    "end_datetime": props.get("end_datetime"),
                    "gsd": gsd,
                    "platform": props.get("platform"),
                    "proj:epsg": props.get("proj:epsg"),
                    "up42-system:asset_id": asset_id,
                    "up42-system:workspace_id": workspace_id,
                    "up42-system:job_id": job_id,
                    "up42-system:source": "PROCESSING",
                    "up42-product:collection_name": props.get("up42-product:collection_name"),
                    "up42-user:title": None,
                    "up42-user:tags": [],
                },
            }
            asset = {
                "id": asset_id,
                "accountId": state.config.account_id,
                "workspaceId": workspace_id,
                "createdAt": iso(at),
                "updatedAt": iso(at),
                "name": blob.filename.rsplit(".", 1)[0],
                "title": title,
                "tags": [],
                "size": int(blob.size),
                "order": {"id": "", "status": None, "hostId": ""},
                "source": "ANALYTICS",
                "productId": None,
                "contentType": GEOTIFF,
                "producerName": "UP42",
                "collectionName": props.get("up42-product:collection_name") or "",
                "geospatialMetadataExtraction": "SUCCESSFUL",
                "jobId": job_id,
            }
            record = AssetRecord(asset, item, collection.id, key, visible=True, ready=True, built_at=at)
            store.records[asset_id] = record
            collection.asset_ids.append(asset_id)
    return collection.id
