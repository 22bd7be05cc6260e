"""Download UP42 order assets and job results (both API generations) to any ``ObjectStoragePath``.

Everything goes through the one download engine (:mod:`up42_provider.transfer`): streamed,
resumed, size- and checksum-verified, atomic, and a fresh signed URL is requested from UP42
whenever the current one expires. Re-runs are idempotent: kept archives are skipped by the
engine (``.up42-verified.json`` sidecar), unpacked archives by a small manifest
(``.up42-download.json``) in their folder, so a second run of a finished task downloads nothing.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from up42_provider.hooks.up42 import UP42Hook
from up42_provider.links import UP42JobLink, UP42OrderLink
from up42_provider.operators._common import as_bool, as_positive_int, reject_typos
from up42_provider.operators._data import (
    DEFAULT_MAX_WORKERS,
    UP42DataOperator,
    run_all,
    write_bytes,
)
from up42_provider.status import JobStatus
from up42_provider.transfer import download, download_and_extract, targets
from up42_provider.transfer.archives import read_manifest
from up42_provider.transfer.checksums import check_policy
from up42_provider.transfer.targets import child
from up42_provider.utils.ids import parse_ids

if TYPE_CHECKING:
    from airflow.sdk import Context

DATA_JSON = "data.json"
_FLAG_WORDS = frozenset({"true", "false", "1", "0", "yes", "no", "none", ""})  # job_tasks as a flag


@dataclass(frozen=True)
class Archive:
    """One archive to fetch: a UP42 asset, job or job task."""

    source: str  # "asset:<id>", "job:<id>", "jobtask:<job id>/<task id>"
    folder: targets.Location
    url: Callable[[], str]
    expected_size: int | None = None


@dataclass(frozen=True)
class Fetched:
    source: str
    uris: list[str]
    skipped: bool


def fetch_archive(archive: Archive, *, unpack: bool, keep_archive: bool, checksum: str = "auto") -> Fetched:
    """Download (and unpack) one archive unless a verified copy is already there."""
    if unpack:
        found = read_manifest(archive.folder, archive.source)
        if found is not None:
            return Fetched(archive.source, [targets.public_uri(u) for u in found], True)
    # Engine log lines name the UP42 source and where it goes, never a temporary file.
    options: dict[str, Any] = {
        "checksum": checksum,
        "label": f"{archive.source} -> {targets.public_uri(archive.folder)}",
    }
    if archive.expected_size:
        options["expected_size"] = archive.expected_size
    uris = download_and_extract(
        archive.url,
        archive.folder,
        unpack=unpack,
        keep_archive=keep_archive,
        manifest_key=archive.source if unpack else None,
        **options,
    )
    return Fetched(archive.source, [targets.public_uri(u) for u in uris], False)


def fetch_all(
    archives: Sequence[Archive],
    *,
    unpack: bool,
    keep_archive: bool,
    max_workers: int,
    log: Any,
    checksum: str = "auto",
) -> list[Fetched]:
    def one(archive: Archive) -> Fetched:
        result = fetch_archive(archive, unpack=unpack, keep_archive=keep_archive, checksum=checksum)
        log.info(
            "%s: %s %d file(s) in %s",
            archive.source,
            "already there, skipped" if result.skipped else "wrote",
            len(result.uris),
            targets.public_uri(archive.folder),
        )
        return result

    return run_all(one, archives, max_workers, "downloads")


# -- today's generation: deliveries and results are STAC items, each asset one file --------------
_MEDIA_SUFFIXES = {
    "image/tiff": ".tif",
    "image/jp2": ".jp2",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/json": ".json",
    "application/geo+json": ".geojson",
    "application/zip": ".zip",
    "application/xml": ".xml",
    "text/xml": ".xml",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
STORAGE_HREF = "/v2/assets/"


@dataclass(frozen=True)
class StacFile:
    """One STAC asset of UP42 storage to fetch as one file (nothing is unpacked, as in up42-py)."""

    source: str  # "asset:<asset id>/<asset key>", for logs
    location: targets.Location
    url: Callable[[], str]
    expected_size: int | None = None


def file_name(key: str, asset: Mapping[str, Any]) -> str:
    """A stable file name for a STAC asset, known before any request (so re-runs skip it):
    its title (else its key), made path-safe, plus the suffix of its media type."""
    stem = _UNSAFE.sub("_", str(asset.get("title") or key)).strip("._") or _UNSAFE.sub("_", key) or "asset"
    media = str(asset.get("type") or "").split(";", 1)[0].strip().lower()
    suffix = _MEDIA_SUFFIXES.get(media) or mimetypes.guess_extension(media) or ""
    return stem if stem.lower().endswith(suffix) else stem + suffix


def stac_files(
    items: Iterable[Mapping[str, Any]], folder: Callable[[Mapping[str, Any]], targets.Location], hook: Any
) -> list[StacFile]:
    """The storage files of ``items`` (``…/v2/assets/<id>`` hrefs), each below ``folder(item)``."""
    files: list[StacFile] = []
    for item in items:
        names: set[str] = set()
        for key, asset in sorted((item.get("assets") or {}).items()):
            href = str((asset or {}).get("href") or "")
            if STORAGE_HREF not in href:
                continue  # thumbnails or links elsewhere: not a storage file
            name = file_name(key, asset)
            if name in names:  # two assets titled alike: the key keeps them apart
                name = f"{_UNSAFE.sub('_', key)}_{name}"
            names.add(name)
            size = asset.get("file:size")
            files.append(
                StacFile(
                    f"asset:{href.rstrip('/').rsplit('/', 1)[-1]} ({key})",
                    child(folder(item), name),
                    url=partial(hook.get_asset_href_download_url, href),
                    expected_size=size if isinstance(size, int) and size > 0 else None,
                )
            )
    return files


def fetch_files(files: Sequence[StacFile], *, max_workers: int, log: Any, checksum: str) -> list[Fetched]:
    """Each file through the one engine: resumed, verified (``x-goog-hash``), atomic, skipped
    without any request when a verified copy is there."""

    def one(file: StacFile) -> Fetched:
        where = targets.public_uri(file.location)
        result = download(
            file.url,
            file.location,
            expected_size=file.expected_size,
            checksum=checksum,  # type: ignore[arg-type]  # checked in __init__
            label=f"{file.source} -> {where}",
        )
        log.info("%s: %s %s", file.source, "already there, skipped" if result.skipped else "wrote", where)
        return Fetched(file.source, [where], result.skipped)

    return run_all(one, files, max_workers, "downloads")


def merge_data_json(collections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One FeatureCollection of several jobs' ``data.json`` like the SDK's ``JobCollection``:
    ``properties.job_id`` added, ``up42.data_path`` prefixed with ``job_<id>/``."""
    features = []
    for job_id, collection in collections.items():
        for feature in collection.get("features") or []:
            properties = dict(feature.get("properties") or {})
            properties["job_id"] = job_id
            if properties.get("up42.data_path"):
                properties["up42.data_path"] = f"job_{job_id}/{properties['up42.data_path']}"
            features.append({**feature, "properties": properties})
    return {"type": "FeatureCollection", "features": features}


class _DownloadOperator(UP42DataOperator):
    """Options shared by the asset and job-result downloads (see the subclasses)."""

    def __init__(
        self,
        *,
        destination: Any = None,
        destination_conn_id: str | None = None,
        unpack: bool | str = True,
        keep_archive: bool | str = False,
        plot_results_to: str | None = None,
        map_results_to: str | None = None,
        checksum: str = "auto",
        max_workers: int | str = DEFAULT_MAX_WORKERS,
        emit_asset: bool = True,
        asset_alias: str | None = None,
        up42_conn_id: str = UP42Hook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        reject_typos(type(self), kwargs)
        super().__init__(
            destination=destination,
            destination_conn_id=destination_conn_id,
            max_workers=max_workers,
            emit_asset=emit_asset,
            asset_alias=asset_alias,
            up42_conn_id=up42_conn_id,
            **kwargs,
        )
        try:
            check_policy(checksum)
        except ValueError as exc:
            raise ValueError(f"{self.task_id}: {exc}") from None
        self.checksum = checksum
        self.unpack = unpack
        self.keep_archive = keep_archive
        self.plot_results_to = plot_results_to
        self.map_results_to = map_results_to

    def _check_plot_libraries(self) -> None:
        """Fail before downloading anything when a requested plot cannot be drawn."""
        from up42_provider import plots

        if self.plot_results_to:
            plots.require("matplotlib", "rasterio")
        if self.map_results_to:
            plots.require("folium")

    def _render_plots(self, uris: Sequence[str]) -> list[str]:
        from up42_provider import plots

        written = []
        conn_id = self.storage_conn_id
        if self.plot_results_to:
            written.append(plots.plot_results(uris, self.plot_results_to, conn_id=conn_id))
        if self.map_results_to:
            written.append(plots.map_results(uris, self.map_results_to, conn_id=conn_id))
        for uri in written:
            self.log.info("Rendered %s", uri)
        return written

    def _fetch(self, archives: Sequence[Archive], unpack: bool, keep_archive: bool) -> list[Fetched]:
        return fetch_all(
            archives,
            unpack=unpack,
            keep_archive=keep_archive,
            max_workers=self.workers(),
            log=self.log,
            checksum=self.checksum,
        )

    def _flags(self) -> tuple[bool, bool]:
        return as_bool(self.unpack, "unpack"), as_bool(self.keep_archive, "keep_archive")

    def _fetch_files(self, files: Sequence[StacFile]) -> list[Fetched]:
        return fetch_files(files, max_workers=self.workers(), log=self.log, checksum=self.checksum)

    def _finish(
        self, context: Context, ids: dict[str, list[str]], fetched: list[Fetched], uris: list[str]
    ) -> None:
        plots = self._render_plots(uris)
        self.publish(
            context,
            {
                **ids,
                "files": len(uris),
                "downloaded": sum(not r.skipped for r in fetched),
                "skipped": sum(r.skipped for r in fetched),
                "plots": plots,
            },
        )


class UP42DownloadAssetsOperator(_DownloadOperator):
    """Download UP42 storage assets (order deliveries) to object storage or a local folder.

    Each asset lands in ``<destination>/asset_<asset id>/``: unpacked (the default; the
    ``output/`` prefix stripped as the SDK does, giving ``data.json`` and
    ``<item id>/<item id>_0-0.tif``) or as the archive itself (``unpack=False``). Returns the
    list of written file URIs (XCom) and emits an Airflow Asset for ``destination`` (see
    :class:`~up42_provider.operators._data.UP42DataOperator` for scheduling on it).

    Today's generation (a connection with the account e-mail): an order's deliveries are STAC
    items in storage; every storage asset of an item is one file (nothing to unpack, as up42-py),
    written to ``<destination>/asset_<asset id>/<asset title><suffix of its media type>`` (the
    name is known before any request, so a re-run skips verified files without one).
    ``unpack``/``keep_archive`` and ``asset_filters`` apply to 2023 archives only.

    Returned URIs are ``file:///abs/path`` or ``<scheme>://<bucket>/<key>``, never with the
    connection id: pass the connection on to readers (upload ``source_conn_id``).

    Pick the assets with any combination of:

    :param order_ids: order id(s), typically ``UP42PlaceOrderOperator(...).output``; the orders
        must be FULFILLED.
    :param asset_ids: asset id(s).
    :param asset_filters: keyword filters of ``UP42Hook.get_assets`` (``tags``,
        ``collection_names``, ``created_after``, ``acquired_after``, ``geometry``, ...); with
        ``asset_limit`` as an upper bound. Use it for "everything delivered with tag X".
    :param unpack: extract the archives (default) or keep them as downloaded.
    :param keep_archive: when unpacking, also keep the archive next to its files.
    :param plot_results_to: URI of a PNG rendering the downloaded rasters with their footprints
        (needs the ``plots`` extra: matplotlib, rasterio).
    :param map_results_to: URI of an interactive HTML map of the footprints (folium).
    :param checksum: what is verified besides the size: ``auto`` (CRC32C of GCS's ``x-goog-hash``,
        at wire speed; MD5 when that is all the server sends), ``md5`` or ``all`` (MD5 as well,
        bound to ~600 MB/s by one core).
    :param destination: see :class:`~up42_provider.operators._data.UP42DataOperator`, with
        ``destination_conn_id``, ``max_workers`` (archives in parallel), ``emit_asset``,
        ``asset_alias``, ``up42_conn_id``.
    """

    operator_extra_links = (UP42OrderLink(),)
    template_fields: Sequence[str] = (
        "order_ids",
        "asset_ids",
        "asset_filters",
        "asset_limit",
        "destination",
        "destination_conn_id",
        "unpack",
        "keep_archive",
        "max_workers",
        "plot_results_to",
        "map_results_to",
        "up42_conn_id",
    )

    def __init__(
        self,
        *,
        order_ids: Any = None,
        asset_ids: Any = None,
        asset_filters: Mapping[str, Any] | None = None,
        asset_limit: int | str | None = None,
        destination: Any = None,
        destination_conn_id: str | None = None,
        unpack: bool | str = True,
        keep_archive: bool | str = False,
        plot_results_to: str | None = None,
        map_results_to: str | None = None,
        checksum: str = "auto",
        max_workers: int | str = DEFAULT_MAX_WORKERS,
        emit_asset: bool = True,
        asset_alias: str | None = None,
        up42_conn_id: str = UP42Hook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        reject_typos(type(self), kwargs)
        super().__init__(
            destination=destination,
            destination_conn_id=destination_conn_id,
            unpack=unpack,
            keep_archive=keep_archive,
            plot_results_to=plot_results_to,
            map_results_to=map_results_to,
            checksum=checksum,
            max_workers=max_workers,
            emit_asset=emit_asset,
            asset_alias=asset_alias,
            up42_conn_id=up42_conn_id,
            **kwargs,
        )
        self.order_ids = order_ids
        self.asset_ids = asset_ids
        self.asset_filters = asset_filters
        self.asset_limit = asset_limit

    def select_assets(self) -> list[dict[str, Any]]:
        """Asset metadata (id, name, size, ...) of everything asked for, without duplicates."""
        hook = self.hook
        order_ids = parse_ids(self.order_ids, name="order_ids", required=False)
        asset_ids = parse_ids(self.asset_ids, name="asset_ids", required=False)
        filters = self.asset_filters
        if isinstance(filters, str):
            filters = json.loads(filters) if filters.strip() else None
        if not (order_ids or asset_ids or filters):
            raise ValueError(
                "nothing to download: pass order_ids (e.g. the order task's output), asset_ids or "
                "asset_filters"
            )
        assets: dict[str, dict[str, Any]] = {}
        for order_id in order_ids:
            for asset in hook.get_order_assets(order_id):
                assets.setdefault(asset["id"], asset)
        for asset_id in asset_ids:
            if asset_id not in assets:
                assets[asset_id] = hook.get_asset(asset_id)
        if filters:
            if not isinstance(filters, Mapping):
                raise ValueError("asset_filters must be a dict of UP42Hook.get_assets keyword filters")
            limit = as_positive_int(self.asset_limit, "asset_limit")
            for asset in hook.get_assets(limit=limit, **dict(filters)):
                assets.setdefault(asset["id"], asset)
        return list(assets.values())

    def select_items(self) -> list[dict[str, Any]]:
        """Today's STAC items of everything asked for (orders' deliveries, assets), without duplicates."""
        order_ids = parse_ids(self.order_ids, name="order_ids", required=False)
        asset_ids = parse_ids(self.asset_ids, name="asset_ids", required=False)
        if self.asset_filters:
            raise ValueError(
                "asset_filters is the 2023 asset list; today's storage is searched by order_ids or "
                "asset_ids (use UP42Hook.search_storage_stac for other STAC filters)"
            )
        if not (order_ids or asset_ids):
            raise ValueError(
                "nothing to download: pass order_ids (e.g. the order task's output) or asset_ids"
            )
        items: dict[str, dict[str, Any]] = {}
        for order_id in order_ids:
            found = list(self.hook.iter_order_items(order_id))
            if not found:
                raise ValueError(
                    f"order {order_id} has no deliveries in UP42 storage yet: wait until it is FULFILLED "
                    "(UP42WaitForOrderSensor) before downloading"
                )
            for item in found:
                items.setdefault(str(item.get("id")), item)
        for asset_id in asset_ids:
            body = {
                "filter": {"op": "=", "args": [{"property": "asset_id"}, asset_id]},
                "filter-lang": "cql2-json",
            }
            found = self.hook.search_storage_stac(body)["features"]
            if not found:
                raise ValueError(f"asset {asset_id} is not in UP42 storage")
            for item in found:
                items.setdefault(str(item.get("id")), item)
        return list(items.values())

    def _execute_current(self, context: Context) -> list[str]:
        self._check_plot_libraries()
        root = self.root()
        items = self.select_items()

        def folder(item: Mapping[str, Any]) -> targets.Location:
            properties = item.get("properties") or {}
            return child(root, f"asset_{properties.get('up42-system:asset_id') or item.get('id')}")

        files = stac_files(items, folder, self.hook)
        self.log.info(
            "Downloading %d file(s) of %d item(s) to %s", len(files), len(items), targets.public_uri(root)
        )
        fetched = self._fetch_files(files)
        uris = [uri for result in fetched for uri in result.uris]
        asset_ids = [str((i.get("properties") or {}).get("up42-system:asset_id")) for i in items]
        self._finish(context, {"asset_ids": asset_ids}, fetched, uris)
        return uris

    def execute(self, context: Context) -> list[str]:
        if self.hook.generation == "current":
            return self._execute_current(context)
        unpack, keep_archive = self._flags()
        self._check_plot_libraries()
        root = self.root()
        assets = self.select_assets()
        self.log.info("Downloading %d asset(s) to %s", len(assets), targets.public_uri(root))
        hook = self.hook
        archives = [
            Archive(
                f"asset:{asset['id']}",
                child(root, f"asset_{asset['id']}"),
                # A fresh signed URL each time the engine asks (first use, and after expiry).
                url=partial(hook.get_asset_download_url, asset["id"]),
                expected_size=int(asset["size"]) if str(asset.get("size") or "").isdigit() else None,
            )
            for asset in assets
        ]
        fetched = self._fetch(archives, unpack, keep_archive)
        uris = [uri for result in fetched for uri in result.uris]
        self._finish(context, {"asset_ids": [a["id"] for a in assets]}, fetched, uris)
        return uris


class UP42DownloadJobResultsOperator(_DownloadOperator):
    """Download the results of UP42 jobs (or of their tasks) to object storage or a local folder.

    Per job: ``<destination>/job_<job id>/`` with the unpacked result archive (``data.json`` and
    the files it references) or the ``.tgz`` plus ``data.json`` (``unpack=False``). With
    ``job_tasks`` each selected task's results go to ``job_<job id>/jobtask_<task id>/`` (the
    SDK's layout). With ``merge`` a combined ``<destination>/data.json`` is written like the
    SDK's ``JobCollection.download_results(merge=True)``: every feature gets
    ``properties.job_id`` and its ``up42.data_path`` prefixed with ``job_<job id>/``.
    Returns the written file URIs (the merged ``data.json`` last) and emits an Airflow Asset.

    Today's generation: a processing job's results are the items of its STAC collection; each
    storage asset is one file in ``<destination>/job_<job id>/`` and ``merge`` writes
    ``<destination>/data.json``, a FeatureCollection of the items with ``properties.job_id``.
    Jobs count as succeeded when ``successful`` or ``captured``; ``job_tasks`` is 2023 only.

    :param job_ids: job id(s): ``UP42RunJobOperator(...).output``, or the output of
        ``UP42RunParallelJobsOperator`` (its ``succeeded`` jobs are taken).
    :param job_tasks: False (default) for the job's final results; True for every task's
        results; or a list of task ids, task names (``"tiling:1"``) or block names.
    :param only_succeeded: skip (with a warning) jobs that did not succeed, like the SDK; False
        fails on them instead. Fails when no job is left.
    :param merge: write the merged ``data.json`` (job results only).
    :param unpack: extract the archives (default) or keep the ``.tgz``.
    :param keep_archive: when unpacking, also keep the archive.
    :param plot_results_to: PNG of the result rasters with footprints (``plots`` extra).
    :param map_results_to: interactive HTML map of the result footprints (folium).
    :param checksum: ``auto`` (CRC32C), ``md5`` or ``all``; see
        :class:`UP42DownloadAssetsOperator`.
    """

    operator_extra_links = (UP42JobLink(),)
    template_fields: Sequence[str] = (
        "job_ids",
        "job_tasks",
        "destination",
        "destination_conn_id",
        "unpack",
        "keep_archive",
        "merge",
        "only_succeeded",
        "max_workers",
        "plot_results_to",
        "map_results_to",
        "up42_conn_id",
    )

    def __init__(
        self,
        *,
        job_ids: Any = None,
        job_tasks: bool | str | Sequence[str] = False,
        only_succeeded: bool | str = True,
        merge: bool | str = True,
        destination: Any = None,
        destination_conn_id: str | None = None,
        unpack: bool | str = True,
        keep_archive: bool | str = False,
        plot_results_to: str | None = None,
        map_results_to: str | None = None,
        checksum: str = "auto",
        max_workers: int | str = DEFAULT_MAX_WORKERS,
        emit_asset: bool = True,
        asset_alias: str | None = None,
        up42_conn_id: str = UP42Hook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        reject_typos(type(self), kwargs)
        super().__init__(
            destination=destination,
            destination_conn_id=destination_conn_id,
            unpack=unpack,
            keep_archive=keep_archive,
            plot_results_to=plot_results_to,
            map_results_to=map_results_to,
            checksum=checksum,
            max_workers=max_workers,
            emit_asset=emit_asset,
            asset_alias=asset_alias,
            up42_conn_id=up42_conn_id,
            **kwargs,
        )
        self.job_ids = job_ids
        self.job_tasks = job_tasks
        self.only_succeeded = only_succeeded
        self.merge = merge
        self._jobs: dict[str, dict[str, Any]] = {}

    def select_jobs(self) -> list[str]:
        ids = parse_ids(self.job_ids, name="job_ids", required=False)
        if not ids:
            raise ValueError("nothing to download: pass job_ids (e.g. the job task's output)")
        only_succeeded = as_bool(self.only_succeeded, "only_succeeded")
        keep, bad = [], []
        for job_id in ids:
            job = self.hook.get_job(job_id)
            status = str(job.get("status"))
            if self.hook.generation == "current":
                _status, terminal, failed, _reason = self.hook.job_status(job)
                succeeded = bool(terminal and not failed)
            else:
                succeeded = status == JobStatus.SUCCEEDED.value
            if succeeded:
                keep.append(job_id)
                self._jobs[job_id] = job
            else:
                bad.append(f"{job_id} ({status})")
        if bad and not only_succeeded:
            raise ValueError(f"jobs did not succeed: {', '.join(bad)}; their results cannot be downloaded")
        if bad:
            self.log.warning("Skipping jobs that did not succeed: %s", ", ".join(bad))
        if not keep:
            raise ValueError(f"no succeeded job among {', '.join(ids)}: nothing to download")
        return keep

    def _task_filter(self) -> Callable[[Mapping[str, Any]], bool] | None:
        value = self.job_tasks
        if (
            value is None
            or isinstance(value, bool)
            or (isinstance(value, str) and value.strip().lower() in _FLAG_WORDS)
        ):
            return (lambda task: True) if as_bool(value, "job_tasks") else None
        wanted = set(parse_ids(value, name="job_tasks", required=False))

        def match(task: Mapping[str, Any]) -> bool:
            name = str(task.get("name") or "")
            block = str((task.get("block") or {}).get("name") or name.split(":", 1)[0])
            return bool(wanted & {str(task.get("id")), name, block})

        return match

    def _execute_current(self, context: Context) -> list[str]:
        """Today: a job's results are the items of its STAC collection, one file per asset."""
        if self._task_filter() is not None:
            raise ValueError("job_tasks belongs to 2023 workflow jobs; today's processing jobs have no tasks")
        merge = as_bool(self.merge, "merge")
        self._check_plot_libraries()
        root = self.root()
        job_ids = self.select_jobs()
        items = {job_id: list(self.hook.iter_job_result_items(self._jobs[job_id])) for job_id in job_ids}

        def job_folder(job_id: str) -> Callable[[Mapping[str, Any]], targets.Location]:
            return lambda _item: child(root, f"job_{job_id}")

        files = [
            file for job_id in job_ids for file in stac_files(items[job_id], job_folder(job_id), self.hook)
        ]
        self.log.info(
            "Downloading %d result file(s) of %d job(s) to %s",
            len(files),
            len(job_ids),
            targets.public_uri(root),
        )
        fetched = self._fetch_files(files)
        uris = [uri for result in fetched for uri in result.uris]
        if merge:
            merged = {
                "type": "FeatureCollection",
                "features": [
                    {**item, "properties": {**(item.get("properties") or {}), "job_id": job_id}}
                    for job_id in job_ids
                    for item in items[job_id]
                ],
            }
            uris.append(write_bytes(child(root, DATA_JSON), json.dumps(merged, indent=1).encode()))
            self.log.info(
                "Merged STAC items of %d job(s): %d feature(s)", len(job_ids), len(merged["features"])
            )
        self._finish(context, {"job_ids": job_ids}, fetched, uris)
        return uris

    def execute(self, context: Context) -> list[str]:
        if self.hook.generation == "current":
            return self._execute_current(context)
        unpack, keep_archive = self._flags()
        merge = as_bool(self.merge, "merge")
        self._check_plot_libraries()
        root = self.root()
        hook = self.hook
        job_ids = self.select_jobs()
        task_filter = self._task_filter()
        archives: list[Archive] = []
        for job_id in job_ids:
            folder = child(root, f"job_{job_id}")
            if task_filter is None:
                archives.append(
                    Archive(f"job:{job_id}", folder, url=partial(hook.get_job_results_url, job_id))
                )
                continue
            tasks = [t for t in hook.get_job_tasks(job_id) if task_filter(t)]
            if not tasks:
                self.log.warning("Job %s has no task matching job_tasks=%r", job_id, self.job_tasks)
            archives.extend(
                Archive(
                    f"jobtask:{job_id}/{task['id']}",
                    child(folder, f"jobtask_{task['id']}"),
                    url=partial(hook.get_job_task_results_url, job_id, task["id"]),
                )
                for task in tasks
            )
        self.log.info("Downloading %d result archive(s) to %s", len(archives), targets.public_uri(root))
        fetched = self._fetch(archives, unpack, keep_archive)
        uris = [uri for result in fetched for uri in result.uris]
        if not unpack:  # the archive alone is opaque: put its data.json next to it
            uris.extend(self._write_data_json(archives))
        if merge and task_filter is None:
            merged = merge_data_json({job_id: hook.get_job_results_json(job_id) for job_id in job_ids})
            uris.append(write_bytes(child(root, DATA_JSON), json.dumps(merged, indent=1).encode()))
            self.log.info(
                "Merged data.json of %d job(s): %d feature(s)", len(job_ids), len(merged["features"])
            )
        self._finish(context, {"job_ids": job_ids}, fetched, uris)
        return uris

    def _write_data_json(self, archives: Sequence[Archive]) -> list[str]:
        written = []
        for archive in archives:
            kind, _, ids = archive.source.partition(":")
            job_id, _, task_id = ids.partition("/")
            if kind == "job":
                collection = self.hook.get_job_results_json(job_id)
            else:
                collection = self.hook.get_job_task_results_json(job_id, task_id)
            location = child(archive.folder, DATA_JSON)
            written.append(write_bytes(location, json.dumps(collection, indent=1).encode()))
        return written


__all__ = [
    "UP42DownloadAssetsOperator",
    "UP42DownloadJobResultsOperator",
    "merge_data_json",
]
