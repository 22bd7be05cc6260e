"""Where processing meets storage: the one place that reads input items and writes result items.

Inputs are storage STAC items named by their ``self`` href (:meth:`AssetStore.find_item`); their
raster is the item's GeoTIFF blob (:meth:`AssetStore.raster_key`, inside the ZIP for a 2023
delivery). Results are computed while the job runs (``processing.rasters``) and then become a new
STAC collection through :meth:`AssetStore.add_results`, whose items carry ``up42-system:job_id``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rasterio
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator.geo import parse_datetime
from up42_provider.emulator.processing import rasters
from up42_provider.emulator.storage.models import GEOTIFF, ResultFile, ResultItem

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

log = logging.getLogger("up42_provider.emulator.processing")

# Algorithms whose result has twice the input's resolution.
_FINER = frozenset({"upsample", "pansharpen"})
# Input item properties a result item keeps.
_KEPT = ("gsd", "platform", "proj:epsg", "up42-product:collection_name")


@dataclass
class InputItem:
    """A storage item given as a processing input, with the blob key of its GeoTIFF."""

    item_id: str
    collection_id: str
    item: dict[str, Any]
    raster_key: str
    state: EmulatorState

    @property
    def geometry(self) -> BaseGeometry:
        return shape(self.item["geometry"])

    @property
    def bands(self) -> list[str]:
        """Band descriptions of the raster (built first when nobody downloaded it yet)."""
        path = self.state.blobs.ensure_sync(self.raster_key).path
        with rasterio.open(path) as src:
            return [d or f"band{i}" for i, d in enumerate(src.descriptions, start=1)]


def find_item(state: EmulatorState, href: str) -> InputItem | None:
    """The visible storage item at ``href`` (its ``self`` link, absolute or as a path) with a raster."""
    record = state.assets.find_item(href)
    key = state.assets.raster_key(record) if record is not None else None
    if record is None or key is None:
        return None
    return InputItem(record.item["id"], record.collection_id, record.item, key, state)


@dataclass
class ResultBuild:
    """The result file of one job, computed in a worker thread while the job runs."""

    key: str
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
    """Compute the job's result GeoTIFF (of the first item; on the second's grid if any) in the background."""
    key = f"processing:{job_id}:0"
    settings = {k: v for k, v in params.items() if k in ("greyWeights", "sensitivity")}
    build = ResultBuild(key, list(items), algorithm)

    async def run() -> None:
        try:
            sources = [str((await state.blobs.ensure(i.raster_key)).path) for i in items]

            def build_file(path: Path) -> None:
                rasters.derive(algorithm, path, sources, settings)

            filename = f"{items[0].item_id}_{algorithm.replace(':', '_')}.tif"
            state.blobs.register(key, filename, GEOTIFF, build_file)
            await state.blobs.ensure(key)
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


def publish(state: EmulatorState, build: ResultBuild, job_id: str, title: str) -> str:
    """Put the built result into storage as one STAC collection; returns the collection id."""
    blob = state.blobs.get(build.key)
    assert blob is not None, "publish only a ready build"
    source = build.sources[0]
    props = source.item["properties"]
    kept = {k: props[k] for k in _KEPT if props.get(k) is not None}
    gsd = kept.get("gsd")
    if isinstance(gsd, int | float) and build.algorithm in _FINER:
        kept["gsd"] = gsd / 2
    when = props.get("datetime") or props.get("start_datetime")
    workspace_id = props.get("up42-system:workspace_id") or state.config.workspace_id
    computed = blob.path

    def copy(path: Path) -> None:
        shutil.copyfile(computed, path)

    item = ResultItem(
        geometry=source.item["geometry"],
        datetime=parse_datetime(when) if when else state.clock.now(),
        files=[ResultFile("data", blob.filename, GEOTIFF, copy, roles=("data",), title=title)],
        properties=kept,
        title=blob.filename.rsplit(".", 1)[0],
    )
    collection = state.assets.add_results(job_id=job_id, workspace_id=workspace_id, title=title, items=[item])
    return collection.id
