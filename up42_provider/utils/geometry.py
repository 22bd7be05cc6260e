"""Turn whatever a DAG author has as an area of interest into the one thing UP42 accepts.

UP42 needs exactly one GeoJSON Polygon in EPSG:4326 (catalog search, order AOI, job parameters,
storage STAC filter); tasking orders also accept one Point. Mistakes here otherwise
surface as opaque 400s or, worse, as an order over the wrong place, so every check raises a
``ValueError`` that names the problem and the fix *before* any request is sent.

geopandas/pyogrio (files) and pyproj (reprojection) are imported only when needed.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

WGS84 = "EPSG:4326"

# Small rectangles for examples and tests (same role as up42.get_example_aoi).
_EXAMPLE_BOUNDS: dict[str, tuple[float, float, float, float]] = {
    "berlin": (13.375, 52.510, 13.395, 52.522),  # Mitte, around the Reichstag and Tiergarten edge
    "washington": (-77.045, 38.885, -77.025, 38.897),  # the National Mall
}

_VECTOR_SUFFIXES = (
    ".geojson",
    ".json",
    ".shp",
    ".zip",
    ".gpkg",
    ".kml",
    ".kmz",
    ".fgb",
    ".gml",
    ".wkt",
    ".txt",
)
_URI = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|/vsi)")
_WKT = re.compile(
    r"^\s*(?:SRID=\d+;\s*)?(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)\b",
    re.IGNORECASE,
)
_GEOJSON_GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


def example_aoi(location: str = "Berlin") -> dict[str, Any]:
    """A small rectangle FeatureCollection ("Berlin" or "Washington") for examples and tests."""
    bounds = _EXAMPLE_BOUNDS.get(str(location).strip().lower())
    if bounds is None:
        names = ", ".join(name.title() for name in _EXAMPLE_BOUNDS)
        raise ValueError(f"No example AOI for {location!r}; choose one of: {names}")
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": str(location).strip().title()},
                "geometry": _bbox_polygon(bounds),
            }
        ],
    }


def to_polygon_geojson(
    aoi: Any,
    *,
    crs: Any = None,
    allow_point: bool = False,
    dissolve: bool = False,
) -> dict[str, Any]:
    """Return ``aoi`` as one valid GeoJSON Polygon (or Point if ``allow_point``) in EPSG:4326.

    ``aoi`` may be a GeoJSON geometry / Feature / FeatureCollection (dict or JSON text), WKT text,
    a ``[minx, miny, maxx, maxy]`` bbox, a shapely geometry, a GeoDataFrame/GeoSeries, anything with
    ``__geo_interface__``, or a path/URI of a vector file (GeoJSON, Shapefile, GeoPackage, KML, ...).
    ``crs`` states the CRS of inputs that carry none (dicts, WKT, bboxes, shapely); files and
    GeoDataFrames use their own. ``dissolve=True`` merges several features into one polygon.
    """
    if aoi is None:
        raise ValueError(
            "No AOI given: pass a GeoJSON Polygon, a bbox [minx, miny, maxx, maxy], WKT or a file path"
        )
    geometry, source_crs = _to_geometry(aoi, crs=crs, dissolve=dissolve)
    return _finish(geometry, source_crs, allow_point=allow_point)


def to_bbox(aoi: Any, *, crs: Any = None) -> list[float]:
    """``[minx, miny, maxx, maxy]`` in EPSG:4326 of a validated AOI (the ``bbox`` job parameter form)."""
    geometry = to_polygon_geojson(aoi, crs=crs)
    xs = [pt[0] for pt in geometry["coordinates"][0]]
    ys = [pt[1] for pt in geometry["coordinates"][0]]
    return [min(xs), min(ys), max(xs), max(ys)]


def read_vector_file(path: str | os.PathLike[str], *, layer: str | int | None = None) -> dict[str, Any]:
    """Read a vector file (or URI) into a GeoJSON FeatureCollection dict in EPSG:4326.

    ``.wkt``/``.txt`` files holding one WKT geometry are read without geopandas.
    """
    text_path = os.fspath(path)
    if text_path.lower().endswith((".wkt", ".txt")) and not _URI.match(text_path):
        try:
            wkt = Path(text_path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError(f"AOI file {text_path} does not exist: check the path") from None
        geometry = _from_wkt(wkt)
        return {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": geometry}],
        }
    gdf = _read_dataframe(text_path, layer=layer)
    return json.loads(gdf.to_json(drop_id=True))


# --------------------------------------------------------------------------------------------- parsing


def _to_geometry(aoi: Any, *, crs: Any, dissolve: bool) -> tuple[dict[str, Any], Any]:
    """(GeoJSON geometry dict, CRS of its coordinates) for any accepted input."""
    if isinstance(aoi, os.PathLike):
        return _from_file(os.fspath(aoi), dissolve=dissolve), WGS84
    if isinstance(aoi, (str, bytes)):
        return _from_text(aoi.decode() if isinstance(aoi, bytes) else aoi, crs=crs, dissolve=dissolve)
    if hasattr(aoi, "to_crs") and hasattr(aoi, "crs"):  # GeoDataFrame / GeoSeries
        return _from_dataframe(aoi, dissolve=dissolve), WGS84
    if isinstance(aoi, Mapping):
        return _from_mapping(aoi, crs=crs, dissolve=dissolve)
    if hasattr(aoi, "__geo_interface__"):  # shapely and friends
        return _from_mapping(aoi.__geo_interface__, crs=crs, dissolve=dissolve)
    if isinstance(aoi, Sequence):
        return _bbox_polygon(aoi), crs or WGS84
    raise ValueError(
        f"Cannot use a {type(aoi).__name__} as AOI: pass a GeoJSON dict, WKT, a bbox "
        "[minx, miny, maxx, maxy], a shapely geometry, a GeoDataFrame or a vector file path"
    )


def _from_text(text: str, *, crs: Any, dissolve: bool) -> tuple[dict[str, Any], Any]:
    stripped = text.strip()
    if not stripped:
        raise ValueError("AOI text is empty: pass GeoJSON, WKT or a path to a vector file")
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"AOI looks like JSON but does not parse ({exc}): fix the GeoJSON text"
            ) from None
        if isinstance(value, list):
            return _bbox_polygon(value), crs or WGS84
        return _from_mapping(value, crs=crs, dissolve=dissolve)
    if _WKT.match(stripped):
        return _from_wkt(stripped), crs or WGS84
    if _URI.match(stripped) or stripped.lower().endswith(_VECTOR_SUFFIXES) or Path(stripped).exists():
        return _from_file(stripped, dissolve=dissolve), WGS84
    raise ValueError(
        f"Cannot read AOI text {stripped[:60]!r}: expected GeoJSON, WKT (e.g. 'POLYGON ((...))') "
        "or the path of an existing vector file"
    )


def _from_wkt(text: str) -> dict[str, Any]:
    import shapely.wkt
    from shapely.errors import ShapelyError

    text = re.sub(r"^\s*SRID=\d+;\s*", "", text.strip(), flags=re.IGNORECASE)
    try:
        geom = shapely.wkt.loads(text)
    except (ShapelyError, ValueError) as exc:
        raise ValueError(f"AOI WKT does not parse ({exc}): fix the WKT text") from None
    return dict(geom.__geo_interface__)


def _from_mapping(value: Mapping[str, Any], *, crs: Any, dissolve: bool) -> tuple[dict[str, Any], Any]:
    kind = value.get("type")
    legacy_crs = _legacy_geojson_crs(value)
    source_crs = crs or legacy_crs or WGS84
    if kind == "FeatureCollection":
        features = value.get("features") or []
        geometries = [f.get("geometry") for f in features if isinstance(f, Mapping)]
        geometries = [g for g in geometries if g]
        return _single(geometries, dissolve=dissolve, what="features"), source_crs
    if kind == "Feature":
        geometry = value.get("geometry")
        if not geometry:
            raise ValueError("AOI Feature has no geometry: give the Feature a Polygon geometry")
        return _from_mapping(geometry, crs=source_crs, dissolve=dissolve)
    if kind in _GEOJSON_GEOMETRY_TYPES:
        if kind == "GeometryCollection":
            return _single(
                list(value.get("geometries") or []), dissolve=dissolve, what="geometries"
            ), source_crs
        if "coordinates" not in value:
            raise ValueError(f"AOI {kind} has no 'coordinates': fix the GeoJSON")
        return dict(value), source_crs
    if {"minx", "miny", "maxx", "maxy"} <= set(value):
        return _bbox_polygon([value["minx"], value["miny"], value["maxx"], value["maxy"]]), source_crs
    raise ValueError(f"AOI dict has type {kind!r}; expected a GeoJSON Polygon, Feature or FeatureCollection")


def _single(geometries: list[Any], *, dissolve: bool, what: str) -> dict[str, Any]:
    if not geometries:
        raise ValueError(f"AOI has no {what}; UP42 needs exactly one Polygon: pass a non-empty AOI")
    if len(geometries) == 1:
        return dict(geometries[0])
    if not dissolve:
        raise ValueError(
            f"AOI has {len(geometries)} {what}; UP42 needs exactly one Polygon: dissolve them "
            "(dissolve=True) or pass one"
        )
    from shapely.geometry import mapping, shape
    from shapely.ops import unary_union

    try:
        merged = unary_union([shape(g) for g in geometries])
    except Exception as exc:  # shapely raises several types for broken input
        raise ValueError(f"AOI {what} cannot be dissolved ({exc}): fix or simplify them") from None
    return dict(mapping(merged))


def _legacy_geojson_crs(value: Mapping[str, Any]) -> str | None:
    """The pre-RFC 7946 ``crs`` member, still written by some GIS tools."""
    crs = value.get("crs")
    if not isinstance(crs, Mapping):
        return None
    name = (crs.get("properties") or {}).get("name")
    if not name:
        return None
    match = re.search(r"EPSG:{1,2}(\d+)", str(name))
    if match:
        return f"EPSG:{match.group(1)}"
    return None if "CRS84" in str(name) else str(name)


def _bbox_polygon(bounds: Sequence[Any]) -> dict[str, Any]:
    """The SDK's bbox polygon (shapely ``box`` ring order), after checking the bounds."""
    if isinstance(bounds, (str, bytes)) or len(bounds) != 4:
        raise ValueError(
            f"A bbox AOI needs 4 numbers [minx, miny, maxx, maxy], got {len(bounds)} values: pass e.g. "
            "[13.37, 52.51, 13.40, 52.52]"
        )
    try:
        minx, miny, maxx, maxy = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise ValueError(
            f"bbox values must be numbers [minx, miny, maxx, maxy], got {list(bounds)!r}"
        ) from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise ValueError(f"bbox values must be finite numbers, got {[minx, miny, maxx, maxy]!r}")
    if minx >= maxx or miny >= maxy:
        raise ValueError(
            f"bbox {[minx, miny, maxx, maxy]} is empty or inverted: order it [minx, miny, maxx, maxy] with "
            "minx < maxx and miny < maxy"
        )
    ring = [[maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny], [maxx, miny]]
    return {"type": "Polygon", "coordinates": [ring]}


# ----------------------------------------------------------------------------------------------- files


def _read_dataframe(path: str, *, layer: str | int | None = None) -> Any:
    if not _URI.match(path) and not Path(path).exists():
        raise ValueError(f"AOI file {path} does not exist: check the path")
    import geopandas

    kwargs: dict[str, Any] = {}
    if layer is not None:
        kwargs["layer"] = layer
    try:
        gdf = geopandas.read_file(path, **kwargs)
    except Exception as exc:  # pyogrio/fiona raise their own DataSourceError types
        raise ValueError(
            f"Cannot read AOI file {path} ({exc}): use GeoJSON, Shapefile, GeoPackage or KML"
        ) from None
    if gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    elif not gdf.crs.equals(WGS84):
        gdf = gdf.to_crs(WGS84)
    return gdf


def _from_file(path: str, *, dissolve: bool) -> dict[str, Any]:
    fc = read_vector_file(path)
    geometries = [f.get("geometry") for f in fc.get("features", []) if f.get("geometry")]
    try:
        return _single(geometries, dissolve=dissolve, what="features")
    except ValueError as exc:
        raise ValueError(f"{exc} (file {path})") from None


def _from_dataframe(frame: Any, *, dissolve: bool) -> dict[str, Any]:
    if frame.crs is not None and not frame.crs.equals(WGS84):
        frame = frame.to_crs(WGS84)
    geometries = [
        g.__geo_interface__ for g in getattr(frame, "geometry", frame) if g is not None and not g.is_empty
    ]
    return _single(geometries, dissolve=dissolve, what="features")


# ---------------------------------------------------------------------------------------- validation


def _finish(geometry: dict[str, Any], source_crs: Any, *, allow_point: bool) -> dict[str, Any]:
    from shapely.geometry import mapping, shape
    from shapely.validation import explain_validity

    try:
        geom = shape(geometry)
    except Exception as exc:  # malformed coordinates
        raise ValueError(
            f"AOI {geometry.get('type')} coordinates are malformed ({exc}): fix the geometry"
        ) from None
    if geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if geom.is_empty:
        raise ValueError("AOI geometry is empty: pass a Polygon with at least 3 distinct corners")
    allowed = ("Polygon", "Point") if allow_point else ("Polygon",)
    if geom.geom_type not in allowed:
        hint = (
            "pass one of its parts or dissolve them into one polygon"
            if geom.geom_type == "MultiPolygon"
            else "buffer it or draw a polygon around it"
        )
        raise ValueError(f"AOI is a {geom.geom_type}; UP42 needs exactly one {' or '.join(allowed)}: {hint}")
    if geom.has_z:
        from shapely import force_2d

        geom = force_2d(geom)
    if source_crs is not None and not _is_wgs84(source_crs):
        geom = _reproject(geom, source_crs)
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in geom.bounds):
        raise ValueError("AOI has non-finite coordinates (NaN or infinity): fix the geometry")
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValueError(
            f"AOI coordinates {[round(v, 3) for v in geom.bounds]} are outside longitude -180..180 / "
            "latitude -90..90: they look projected, so pass crs='EPSG:<code>' (or a file with its CRS), "
            "or check the axis order is (lon, lat)"
        )
    if geom.geom_type == "Polygon":
        if not geom.is_valid:
            raise ValueError(
                f"AOI polygon is invalid ({explain_validity(geom)}): fix it, e.g. with shapely make_valid or "
                "buffer(0), or redraw it without self-intersections"
            )
        if geom.area <= 0:
            raise ValueError("AOI polygon has zero area: pass a polygon with at least 3 distinct corners")
    return json.loads(json.dumps(mapping(geom)))


def _is_wgs84(crs: Any) -> bool:
    text = str(crs).strip().upper()
    if text in {"EPSG:4326", "4326", "WGS84", "OGC:CRS84", "CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84"}:
        return True
    from pyproj import CRS

    try:
        return CRS.from_user_input(crs).equals(CRS.from_epsg(4326), ignore_axis_order=True)
    except Exception:
        return False


def _reproject(geom: Any, source_crs: Any) -> Any:
    import shapely
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    try:
        source = CRS.from_user_input(source_crs)
    except CRSError as exc:
        raise ValueError(f"Unknown AOI CRS {source_crs!r} ({exc}): pass e.g. crs='EPSG:3857'") from None
    transformer = Transformer.from_crs(source, CRS.from_epsg(4326), always_xy=True)
    return shapely.transform(geom, transformer.transform, interleaved=False)
