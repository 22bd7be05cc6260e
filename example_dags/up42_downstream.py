"""React to new UP42 imagery: a DAG scheduled on the Asset the archive download emits.

``up42_archive_imagery`` downloads its deliveries to ``<output folder>/deliveries`` and emits an Airflow
Asset event for that folder. This DAG is scheduled on the same Asset URI, so Airflow starts it after
every successful download - no sensor, no polling:

1. ``find_imagery`` reads what the triggering Asset events delivered (their ``extra`` carries the
   destination and the asset ids: each asset is in ``<destination>/asset_<id>/``) - or everything below
   ``imagery_folder`` when you trigger the DAG by hand - and lists the GeoTIFFs there (any
   ``ObjectStoragePath``: local, ``s3://``, ``gs://``, ...).
2. ``raster_statistics`` opens each GeoTIFF (rasterio, imported inside the task) and computes a few
   numbers per band - size, CRS, mean, share of valid pixels - the place where real analytics (NDVI,
   change detection, ...) would go.
3. ``write_report`` stores them as ``<report_folder>/report_<run id>.json`` (XCom stays small).

If you change the archive DAG's ``output_folder``, schedule this DAG on that folder's URI instead
(``file:///...`` for local folders, ``s3://bucket/prefix`` without connection id for S3). Outputs
default to ``$UP42_EXAMPLE_OUTPUT`` (default ``<tmp>/up42-example-output``), as in the archive DAG.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, Param, dag, task

OUTPUT = Path(os.environ.get("UP42_EXAMPLE_OUTPUT") or Path(tempfile.gettempdir(), "up42-example-output"))
# Must equal the Asset the archive DAG's download emits for its default destination.
DELIVERIES_URI = (OUTPUT.absolute() / "archive" / "deliveries").as_uri()
DELIVERIES = Asset(DELIVERIES_URI)
RASTERS = (".tif", ".tiff")
MAX_FILES = 50


@dag(
    dag_id="up42_downstream",
    schedule=[DELIVERIES],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["up42", "example"],
    params={
        "imagery_folder": Param(
            DELIVERIES_URI, type="string", description="Folder to read when triggered by hand."
        ),
        "report_folder": Param(
            (OUTPUT.absolute() / "downstream").as_uri(), type="string", description="Where reports go."
        ),
    },
)
def up42_downstream() -> None:
    @task
    def find_imagery(**context: Any) -> list[str]:
        """GeoTIFFs below the folders named by the triggering Asset events (or the Param)."""
        from airflow.sdk import ObjectStoragePath

        folders = []
        for events in (context.get("triggering_asset_events") or {}).values():
            for event in events:
                extra = event.extra or {}
                print(f"Asset event from {event.source_dag_id}.{event.source_task_id}: {extra}")
                destination = str(extra.get("destination") or event.asset.uri).rstrip("/")
                # Only what this event delivered: the download writes each asset to asset_<id>/.
                new = [f"{destination}/asset_{asset_id}" for asset_id in extra.get("asset_ids") or []]
                folders += new or [destination]
        if not folders:
            folders = [context["params"]["imagery_folder"]]
        files = []
        for folder in dict.fromkeys(folders):
            root = ObjectStoragePath(folder)
            files += sorted(str(p) for p in root.rglob("*") if p.name.lower().endswith(RASTERS))
        if not files:
            raise ValueError(f"No GeoTIFF below {', '.join(folders)}: has the archive DAG run?")
        print(f"{len(files)} GeoTIFF(s): {files[:MAX_FILES]}")
        return files[:MAX_FILES]

    @task
    def raster_statistics(files: list[str]) -> list[dict[str, Any]]:
        """Per-band statistics of each GeoTIFF, read lazily (overview-sized window)."""
        import numpy as np
        import rasterio
        from airflow.sdk import ObjectStoragePath

        stats = []
        for uri in files:
            with ObjectStoragePath(uri).open("rb") as handle, rasterio.open(handle) as raster:
                data = raster.read(
                    out_shape=(raster.count, min(raster.height, 512), min(raster.width, 512)), masked=True
                )
                bands = [
                    {
                        "mean": round(float(np.ma.mean(band)), 3),
                        "valid": round(float(1 - np.ma.getmaskarray(band).mean()), 3),
                    }
                    for band in data
                ]
                stats.append(
                    {
                        "file": uri,
                        "crs": str(raster.crs),
                        "size": [raster.width, raster.height],
                        "bounds": [round(v, 6) for v in raster.bounds],
                        "bands": bands,
                    }
                )
                means = [b["mean"] for b in bands]
                print(f"{uri}: {raster.width}x{raster.height} px, {raster.crs}, band means {means}")
        return stats

    @task
    def write_report(stats: list[dict[str, Any]], **context: Any) -> str:
        """One JSON report per run."""
        from airflow.sdk import ObjectStoragePath

        folder = ObjectStoragePath(context["params"]["report_folder"])
        folder.mkdir(parents=True, exist_ok=True)
        name = "report_" + "".join(c if c.isalnum() or c in "-_." else "_" for c in context["run_id"])
        report = folder / f"{name}.json"
        report.write_text(json.dumps({"run_id": context["run_id"], "rasters": stats}, indent=1))
        print(f"Report of {len(stats)} raster(s): {report}")
        return str(report)

    write_report(raster_statistics(find_imagery()))


up42_downstream()
