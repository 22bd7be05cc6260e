"""Copy UP42 results to any bucket: the SDK's ``Job.upload_results_to_bucket`` generalised.

The SDK read a job's whole archive into memory and wrote it to Google Cloud Storage only.
Here the bytes stream, in parts, to any ``ObjectStoragePath`` (S3, GCS, Azure,
local ...): archives straight from UP42's signed URL through the download engine (verified,
resumed, fresh URL on expiry), files and folders written by earlier tasks through
:func:`up42_provider.transfer.upload_file` (multipart, atomic, size-checked).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from up42_provider.operators._common import as_bool
from up42_provider.operators._data import (
    UP42DataOperator,
    flat_uris,
    resolve_destination,
    run_all,
)
from up42_provider.transfer import download, filename_from_url, targets, upload_file
from up42_provider.transfer.archives import MANIFEST
from up42_provider.transfer.targets import child
from up42_provider.transfer.upload import iter_files
from up42_provider.utils.ids import parse_ids

if TYPE_CHECKING:
    from airflow.sdk import Context


def archive_suffix(name: str) -> str:
    """``.zip``, ``.tgz``, ``.tar.gz`` ... of a signed URL's file name (``.zip`` when unknown)."""
    lower = name.lower()
    for suffix in (".tar.gz", ".tar.bz2", ".tar.xz"):
        if lower.endswith(suffix):
            return suffix
    last = Path(lower).suffix
    return last if last in (".zip", ".tgz", ".tar", ".gz", ".tif", ".tiff") else ".zip"


def _is_dir(location: targets.Location) -> bool:
    return location.is_dir() if isinstance(location, Path) else bool(location.fs.isdir(location.path))


def common_root(locations: Sequence[targets.Location]) -> targets.Location:
    """The deepest folder containing every location (all local, or all on one object store)."""
    local = [loc for loc in locations if isinstance(loc, Path)]
    if len(local) == len(locations):
        return Path(os.path.commonpath([str(loc.absolute()) for loc in local]))
    if local:
        raise ValueError("source_uris mix local and object-storage paths: pass source_root explicitly")
    remote = [loc for loc in locations if not isinstance(loc, Path)]
    buckets = {(loc.protocol, loc.path.split("/", 1)[0]) for loc in remote}
    if len(buckets) > 1:
        raise ValueError("source_uris span several buckets: pass source_root explicitly")
    path = posixpath.commonpath([loc.path for loc in remote])
    return _remote(remote[0], path)


def _first_then(first: str, fresh: Callable[[], str]) -> Callable[[], str]:
    """A URL source that gives ``first`` once, then ``fresh()`` on every later call."""
    pending = [first]
    return lambda: pending.pop() if pending else fresh()


def _remote(example: Any, path: str) -> targets.Location:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"{example.protocol}://{path}", conn_id=example.conn_id)


def _relpath(location: targets.Location, root: targets.Location) -> str:
    if isinstance(location, Path) and isinstance(root, Path):
        rel = os.path.relpath(location.absolute(), root.absolute())
    else:
        rel = posixpath.relpath(location.path, root.path)  # type: ignore[union-attr]
    if rel == ".." or rel.startswith(("../", "..\\")):
        raise ValueError(
            f"{targets.public_uri(location)} is not below source_root {targets.public_uri(root)}"
        )
    return "" if rel == "." else rel.replace(os.sep, "/")


class UP42UploadToBucketOperator(UP42DataOperator):
    """Upload job result archives, asset archives, or files/folders to object storage.

    What is uploaded (any combination):

    :param job_ids: jobs whose result archive goes to ``<destination>/<job id><extension>``
        (the SDK's blob name without its ``version/folder`` prefix - put those in
        ``destination``). Accepts ``UP42RunJobOperator`` / ``UP42RunParallelJobsOperator`` output.
    :param order_ids: orders (must be FULFILLED) whose asset archives go to
        ``<destination>/asset_<asset id><archive suffix>``.
    :param asset_ids: assets, like ``order_ids``.
    :param source_uris: files or folders written before (e.g. the URIs returned by
        ``UP42DownloadAssetsOperator``, or its destination folder), local paths or
        ``ObjectStoragePath`` URIs. Folder layout is kept below ``source_root``: by default one
        folder's contents land directly in ``destination``, and several items keep their paths
        relative to their common parent folder.
    :param source_root: the folder ``source_uris`` are made relative to.
    :param source_conn_id: connection of the source object store (if not in the URIs).
    :param extension: suffix of job archive names (default ``.tgz``).
    :param include_sidecars: also copy the ``.up42-verified.json`` sidecars and download
        manifests (default False: they describe the download, not the data).
    :param overwrite: False skips files whose copy already has the source's size.
    :param destination: see :class:`~up42_provider.operators._data.UP42DataOperator`
        (``destination_conn_id``, ``max_workers``, ``emit_asset``, ``asset_alias``).

    Archives are verified against UP42's checksums and skipped on a re-run (a
    ``.up42-verified.json`` sidecar next to them). Returns the URIs written (XCom) and emits an
    Airflow Asset for ``destination``.
    """

    template_fields: Sequence[str] = (
        "job_ids",
        "order_ids",
        "asset_ids",
        "source_uris",
        "source_root",
        "source_conn_id",
        "destination",
        "destination_conn_id",
        "extension",
        "max_workers",
        "up42_conn_id",
    )

    def __init__(
        self,
        *,
        job_ids: Any = None,
        order_ids: Any = None,
        asset_ids: Any = None,
        source_uris: Any = None,
        source_root: str | None = None,
        source_conn_id: str | None = None,
        extension: str = ".tgz",
        include_sidecars: bool = False,
        overwrite: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_ids = job_ids
        self.order_ids = order_ids
        self.asset_ids = asset_ids
        self.source_uris = source_uris
        self.source_root = source_root
        self.source_conn_id = source_conn_id
        self.extension = extension
        self.include_sidecars = include_sidecars
        self.overwrite = overwrite

    # -- what to copy ------------------------------------------------------------------------------
    def _archives(self, root: targets.Location) -> list[tuple[str, targets.Location, Callable[[], str]]]:
        hook = self.hook
        plan: list[tuple[str, targets.Location, Callable[[], str]]] = []
        if (self.job_ids or self.order_ids or self.asset_ids) and hook.generation == "current":
            raise ValueError(
                "job_ids/order_ids/asset_ids copy 2023 archives; today's deliveries and results are "
                "STAC files: download them (UP42DownloadAssetsOperator / UP42DownloadJobResultsOperator) "
                "and pass their output as source_uris"
            )
        for job_id in parse_ids(self.job_ids, name="job_ids", required=False):
            plan.append(
                (
                    f"job {job_id}",
                    child(root, f"{job_id}{self.extension}"),
                    partial(hook.get_job_results_url, job_id),
                )
            )
        asset_ids = parse_ids(self.asset_ids, name="asset_ids", required=False)
        for order_id in parse_ids(self.order_ids, name="order_ids", required=False):
            asset_ids.extend(a["id"] for a in hook.get_order_assets(order_id))
        for asset_id in dict.fromkeys(asset_ids):
            # The archive suffix (.zip / .tgz) is only known from the signed URL: fetch one now and
            # hand it to the engine as its first URL (it asks again only if that one expires).
            first = hook.get_asset_download_url(asset_id)
            suffix = archive_suffix(filename_from_url(first, "asset"))
            plan.append(
                (
                    f"asset {asset_id}",
                    child(root, f"asset_{asset_id}{suffix}"),
                    _first_then(first, partial(hook.get_asset_download_url, asset_id)),
                )
            )
        return plan

    def _files(self, root: targets.Location) -> list[tuple[targets.Location, targets.Location]]:
        items = [
            resolve_destination(uri, self.source_conn_id)
            for uri in flat_uris(self.source_uris, "source_uris")
        ]
        if not items:
            return []
        include_sidecars = as_bool(self.include_sidecars, "include_sidecars")
        if self.source_root:
            base = resolve_destination(self.source_root, self.source_conn_id)
        elif len(items) == 1 and _is_dir(items[0]):
            base = items[0]
        else:
            base = common_root([item.parent for item in items])
        pairs = []
        for item in items:
            for file, rel_in_item, _size in iter_files(item):
                if not include_sidecars and (
                    file.name == MANIFEST
                    or (file.name.endswith(targets.SIDECAR_SUFFIX) and file.name != targets.SIDECAR_SUFFIX)
                ):
                    continue
                pairs.append((file, child(root, _relpath(file, base) or rel_in_item)))
        return pairs

    # -- run ---------------------------------------------------------------------------------------
    def execute(self, context: Context) -> list[str]:
        root = self.root()
        overwrite = as_bool(self.overwrite, "overwrite")
        archives = self._archives(root)
        files = self._files(root)
        if not archives and not files:
            raise ValueError("nothing to upload: pass job_ids, order_ids, asset_ids or source_uris")
        self.log.info(
            "Uploading %d archive(s) and %d file(s) to %s",
            len(archives),
            len(files),
            targets.public_uri(root),
        )

        def copy_archive(entry: tuple[str, targets.Location, Callable[[], str]]) -> tuple[str, bool]:
            what, target, url = entry
            result = download(url, target)
            where = targets.public_uri(result.uri)
            self.log.info("%s: %s %s", what, "already there" if result.skipped else "uploaded", where)
            return where, result.skipped

        def copy_file(entry: tuple[targets.Location, targets.Location]) -> tuple[str, bool]:
            source, target = entry
            if not overwrite and targets.size_of(target) == targets.size_of(source):
                return targets.public_uri(target), True
            return targets.public_uri(upload_file(source, target)), False

        workers = self.workers()
        done = run_all(copy_archive, archives, workers, "archive uploads")
        done += run_all(copy_file, files, workers, "file uploads")
        uris = [uri for uri, _ in done]
        self.publish(context, {"files": len(uris), "skipped": sum(skipped for _, skipped in done)})
        return uris


__all__ = ["UP42UploadToBucketOperator", "archive_suffix", "common_root"]
