"""Reading inputs and writing renderings for the plots, on the local disk or any ObjectStoragePath."""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from up42_provider.transfer import targets

RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt")
EXTRA = "plots"  # pip install 'airflow-provider-up42[plots]'


def require(*modules: str) -> None:
    """Import-check optional libraries; raise one ImportError naming the extra to install."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"{', '.join(missing)} not installed: pip install 'airflow-provider-up42[{EXTRA}]'"
            + (" rasterio" if "rasterio" in missing else "")
        )


def location(uri: Any, conn_id: str | None = None) -> targets.Location:
    if conn_id and isinstance(uri, str) and "://" in uri:
        from airflow.sdk import ObjectStoragePath

        return targets.resolve(ObjectStoragePath(uri, conn_id=conn_id))
    return targets.resolve(uri)


def read_bytes(uri: Any, conn_id: str | None = None) -> bytes:
    loc = location(uri, conn_id)
    if isinstance(loc, Path):
        return loc.read_bytes()
    return bytes(loc.fs.cat_file(loc.path))


def write_output(output: Any, data: bytes, conn_id: str | None = None) -> str:
    """Write a rendering atomically; returns its URI."""
    loc = location(output, conn_id)
    writer = targets.open_writer(loc, size_hint=len(data))
    try:
        writer.write(data)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return targets.uri(loc)


def features_of(value: Any, conn_id: str | None = None) -> list[dict[str, Any]]:
    """Features from a FeatureCollection / Feature / list, JSON text, a GeoJSON URI, or the
    ``{"uri": ...}`` answer of the search operator with ``output_path``."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        text = str(value).strip()
        if text.startswith(("{", "[")):
            return features_of(json.loads(text), conn_id)
        return features_of(json.loads(read_bytes(text, conn_id)), conn_id)
    if isinstance(value, Mapping):
        if value.get("type") == "FeatureCollection":
            return [dict(f) for f in value.get("features") or [] if f.get("geometry")]
        if value.get("type") == "Feature":
            return [dict(value)] if value.get("geometry") else []
        if value.get("uri"):
            return features_of(str(value["uri"]), conn_id)
        if value.get("type") and value.get("coordinates"):
            return [{"type": "Feature", "geometry": dict(value), "properties": {}}]
        return []
    if isinstance(value, Iterable):
        return [f for item in value for f in features_of(item, conn_id)]
    return []


def sort_sources(sources: Any, conn_id: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Raster URIs and footprint features from a mix of raster URIs, ``data.json`` URIs and
    FeatureCollections. Rasters a ``data.json`` references (``up42.data_path``) are added."""
    items = [sources] if isinstance(sources, (str, os.PathLike, Mapping)) else list(sources or [])
    rasters: list[str] = []
    features: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping):
            features.extend(features_of(item, conn_id))
            continue
        uri = os.fspath(item)
        name = uri.rsplit("/", 1)[-1].lower()
        if name.endswith(RASTER_SUFFIXES):
            rasters.append(uri)
        elif name.endswith((".json", ".geojson")):
            found = features_of(uri, conn_id)
            features.extend(found)
            base = uri.rsplit("/", 1)[0] if "/" in uri else "."
            for feature in found:
                rel = (feature.get("properties") or {}).get("up42.data_path")
                if rel and str(rel).lower().endswith(RASTER_SUFFIXES):
                    rasters.append(f"{base}/{posixpath.normpath(str(rel))}")
    return list(dict.fromkeys(rasters)), features


def scene_name(props: Mapping[str, Any]) -> str | None:
    """The provider's scene name (``DS_PHR1B_2023...``) when the properties carry one."""
    provider = props.get("providerProperties") or {}
    for key in ("sourceIdentifier", "acquisitionIdentifier", "productId", "title"):
        value = provider.get(key) or props.get(key)
        if value:
            return str(value)
    return None


def scene_facts(props: Mapping[str, Any]) -> str:
    """``2023-07-05 09:15 · PHR1B · 1% cloud``: what tells one scene of a place from another."""
    provider = props.get("providerProperties") or {}
    date = str(props.get("acquisitionDate") or props.get("datetime") or "")[:16].replace("T", " ")
    platform = provider.get("platform") or str(props.get("constellation") or props.get("collection") or "")
    cloud = props.get("cloudCoverage")
    parts = [date, str(platform).upper(), f"{float(cloud):.0f}% cloud" if cloud is not None else ""]
    return " · ".join(p for p in parts if p)


def scene_title(props: Mapping[str, Any], fallback: str = "") -> str:
    """Two lines naming a scene: its name (else ``fallback``, e.g. a file name) and its facts."""
    lines = [scene_name(props) or fallback, scene_facts(props)]
    return "\n".join(line for line in lines if line)
