"""Download quicklooks (small preview images) of catalog scenes and of job results as a task."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from up42_provider.api.errors import UP42NotFoundError
from up42_provider.operators._data import (
    UP42DataOperator,
    read_json,
    run_all,
    write_bytes,
)
from up42_provider.transfer import targets
from up42_provider.transfer.targets import child
from up42_provider.utils.ids import parse_ids

if TYPE_CHECKING:
    from airflow.sdk import Context


def scene_features(value: Any, conn_id: str | None = None) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Image ids and (when known) their features from what a search task returns.

    Accepts a FeatureCollection, a Feature, a list of features or ids, one id, JSON text of these,
    or the ``{"uri", "count", "image_ids"}`` answer of a search with ``output_path`` (a GeoJSON
    file there is read for the footprints).
    """
    if value is None or value == "":
        return [], {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):
            return scene_features(json.loads(text), conn_id)
        return [text], {}
    if isinstance(value, Mapping):
        if value.get("type") == "FeatureCollection":
            return scene_features(list(value.get("features") or []), conn_id)
        if value.get("type") == "Feature":
            image_id = (value.get("properties") or {}).get("id") or value.get("id")  # host / STAC
            return ([str(image_id)], {str(image_id): dict(value)}) if image_id else ([], {})
        if "image_ids" in value:
            uri = str(value.get("uri") or "")
            if uri.lower().endswith((".geojson", ".json")):
                try:
                    return scene_features(read_json(uri, conn_id), conn_id)
                except (OSError, ValueError):
                    pass  # the ids alone still work
            return scene_features(list(value.get("image_ids") or []), conn_id)
        raise ValueError("image_ids: a dict must be a FeatureCollection, a Feature or a search result")
    ids: list[str] = []
    features: dict[str, dict[str, Any]] = {}
    for item in value:
        more_ids, more_features = scene_features(item, conn_id)
        ids.extend(more_ids)
        features.update(more_features)
    return list(dict.fromkeys(ids)), features


class UP42DownloadQuicklooksOperator(UP42DataOperator):
    """Save the quicklooks of catalog scenes and/or of jobs as image files.

    Catalog scenes (``V1.get_catalog_quicklook``) are written as
    ``<destination>/quicklook_<image id>.jpg``; job quicklooks (``V1.get_job_task_quicklooks`` and
    ``V1.get_job_task_quicklook``, produced by the data-block tasks) as
    ``<destination>/job_<job id>/quicklook_<quicklook id>`` - the SDK's names. A scene or task
    without a quicklook is skipped with a warning (``fail_on_missing`` to fail instead). Files
    already present are not fetched again. Returns the URIs of the files and emits an Airflow
    Asset for ``destination``.

    :param image_ids: image id(s), or the output of ``UP42SearchCatalogOperator`` (a
        FeatureCollection, or ``{"uri", "count", "image_ids"}`` with ``output_path``).
    :param collection: catalog collection of the images (e.g. ``"phr"``); not needed for search
        features, which name their provider host.
    :param job_ids: job id(s) (``UP42RunJobOperator`` / ``UP42RunParallelJobsOperator`` output).
    :param fail_on_missing: raise when a quicklook does not exist.
    :param plot_quicklooks_to: URI of a PNG mosaic of the quicklooks (``plots`` extra).
    :param map_quicklooks_to: URI of an interactive HTML map with the catalog quicklooks laid
        over their footprints (folium; needs search features, not bare ids).
    :param destination: see :class:`~up42_provider.operators._data.UP42DataOperator`.
    """

    template_fields: Sequence[str] = (
        "image_ids",
        "collection",
        "job_ids",
        "destination",
        "destination_conn_id",
        "max_workers",
        "plot_quicklooks_to",
        "map_quicklooks_to",
        "up42_conn_id",
    )

    def __init__(
        self,
        *,
        image_ids: Any = None,
        collection: str | None = None,
        job_ids: Any = None,
        fail_on_missing: bool = False,
        plot_quicklooks_to: str | None = None,
        map_quicklooks_to: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_ids = image_ids
        self.collection = collection
        self.job_ids = job_ids
        self.fail_on_missing = fail_on_missing
        self.plot_quicklooks_to = plot_quicklooks_to
        self.map_quicklooks_to = map_quicklooks_to

    def execute(self, context: Context) -> list[str]:
        from up42_provider import plots

        if self.plot_quicklooks_to:
            plots.require("matplotlib")
        if self.map_quicklooks_to:
            plots.require("folium")
        root = self.root()
        ids, features = scene_features(self.image_ids)  # a search file URI names its own connection
        job_ids = parse_ids(self.job_ids, name="job_ids", required=False)
        if job_ids and self.hook.generation == "current":
            raise ValueError(
                "job quicklooks belong to 2023 workflow jobs; today's processing jobs have none "
                "(download their results with UP42DownloadJobResultsOperator)"
            )
        if not ids and not job_ids:
            raise ValueError("nothing to download: pass image_ids (e.g. the search task's output) or job_ids")
        # (what, target file, fetch) for every quicklook; fetch returns None when there is none
        plan: list[tuple[str, targets.Location, Any]] = []
        hosts: dict[str, str] = {}
        for image_id in ids:
            host = self._host(features.get(image_id), hosts)
            plan.append(
                (
                    f"image {image_id}",
                    child(root, f"quicklook_{image_id}.jpg"),
                    lambda i=image_id, h=host: self.hook.download_catalog_quicklook(i, host=h),
                )
            )
        for job_id in job_ids:
            for task in self.hook.get_job_tasks(job_id):
                for quicklook_id in self.hook.get_job_task_quicklooks(job_id, task["id"]):
                    plan.append(
                        (
                            f"job {job_id} task {task['id']} quicklook {quicklook_id}",
                            child(root, f"job_{job_id}", f"quicklook_{quicklook_id}"),
                            lambda j=job_id, t=task["id"], q=quicklook_id: self._job_quicklook(j, t, q),
                        )
                    )
        results = run_all(self._save, plan, self.workers(), "quicklook downloads")
        uris = [uri for uri in results if uri]
        missing = [what for (what, _, _), uri in zip(plan, results, strict=True) if not uri]
        if missing:
            message = f"No quicklook for {len(missing)} of {len(plan)}: {', '.join(missing[:20])}"
            if self.fail_on_missing:
                raise ValueError(message)
            self.log.warning("%s (skipped)", message)
        self.log.info("%d quicklook(s) in %s", len(uris), targets.public_uri(root))
        rendered = []
        if self.plot_quicklooks_to and uris:
            rendered.append(
                plots.plot_quicklooks(
                    uris,
                    self.plot_quicklooks_to,
                    conn_id=self.storage_conn_id,
                    search_results=list(features.values()),
                )
            )
        if self.map_quicklooks_to and uris:
            collection = {"type": "FeatureCollection", "features": list(features.values())}
            rendered.append(
                plots.map_quicklooks(uris, collection, self.map_quicklooks_to, conn_id=self.storage_conn_id)
            )
        self.publish(
            context,
            {
                "image_ids": ids,
                "job_ids": job_ids,
                "files": len(uris),
                "missing": len(missing),
                "plots": rendered,
            },
        )
        return uris

    def _host(self, feature: Mapping[str, Any] | None, cache: dict[str, str]) -> str:
        properties = (feature or {}).get("properties") or {}
        if properties.get("providerName"):
            return str(properties["providerName"])
        collection = self.collection or properties.get("collection")
        if not collection:
            raise ValueError(
                "collection is required for bare image ids (e.g. collection='phr'); search "
                "features name their host themselves"
            )
        if collection not in cache:
            cache[collection] = self.hook.get_catalog_host(collection)
        return cache[collection]

    def _job_quicklook(self, job_id: str, task_id: str, quicklook_id: str) -> bytes | None:
        try:
            return self.hook.download_job_task_quicklook(job_id, task_id, quicklook_id)
        except UP42NotFoundError:
            return None

    def _save(self, entry: tuple[str, targets.Location, Any]) -> str | None:
        what, location, fetch = entry
        if targets.size_of(location):
            self.log.info("%s: %s already there, skipped", what, targets.public_uri(location))
            return targets.public_uri(location)
        data = fetch()
        if not data:
            return None
        return write_bytes(location, data)


__all__ = ["UP42DownloadQuicklooksOperator", "scene_features"]
