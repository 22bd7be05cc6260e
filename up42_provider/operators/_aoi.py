"""AOIs as DAG authors have them: GeoJSON, WKT, bbox, local vector files and object-storage URIs.

Local inputs go straight to :func:`~up42_provider.utils.geometry.to_polygon_geojson`; a URI
(``s3://``, ``gs://``, ``file://``, ...) is read through Airflow's ``ObjectStoragePath`` (so its
connection and credentials apply) into a temporary file with the same suffix first. A Shapefile
from object storage must be zipped (``.zip``): a lone ``.shp`` lacks its side-car files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from up42_provider.utils.geometry import to_polygon_geojson

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_uri(value: Any) -> bool:
    from airflow.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath):
        return True
    return isinstance(value, str) and bool(_URI.match(value.strip()))


def resolve_aoi(aoi: Any, *, name: str = "aoi", allow_point: bool = False) -> dict[str, Any]:
    """One validated GeoJSON Polygon (or Point) in EPSG:4326; ``ValueError`` naming ``name``."""
    try:
        if is_uri(aoi):
            return _from_uri(aoi, allow_point=allow_point)
        return to_polygon_geojson(aoi, allow_point=allow_point)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _from_uri(uri: Any, *, allow_point: bool) -> dict[str, Any]:
    from airflow.sdk import ObjectStoragePath

    path = uri if isinstance(uri, ObjectStoragePath) else ObjectStoragePath(str(uri).strip())
    suffix = "".join(Path(path.name).suffixes[-2:]) or ".geojson"
    try:
        exists = path.exists()
    except Exception as exc:  # credentials, unknown scheme, unreachable store
        raise ValueError(f"cannot read AOI file {path} ({exc}): check the URI and its connection") from None
    if not exists:
        raise ValueError(f"AOI file {path} does not exist: check the URI")
    with tempfile.TemporaryDirectory(prefix="up42-aoi-") as tmp:
        local = os.path.join(tmp, f"aoi{suffix}")
        with path.open("rb") as source, open(local, "wb") as target:
            shutil.copyfileobj(source, target)
        return to_polygon_geojson(Path(local), allow_point=allow_point)
