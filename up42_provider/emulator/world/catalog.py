"""The emulator's synthetic catalogue: hosts, collections, data products, order schemas and scenes.

Nothing here is stored. The archive is a pure function of the seed: every collection lays a global tile
grid over the Earth and every tile is imaged on a regular revisit cycle since the collection's start. A
scene's attributes (time, clouds, angles, footprint) come from a hash of (seed, collection, tile, pass),
so any AOI over any period finds scenes, searches only touch the tiles under the AOI, and the scene id
itself encodes (collection, tile, pass) — masked with a seed-derived key — so :meth:`Catalog.scene` can
rebuild any scene a search ever returned, without memory and across restarts.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from PIL import Image
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator import stac_query
from up42_provider.emulator.http import ApiError

UTC = timezone.utc
DAY = 86_400
_NS = uuid.UUID("6f1f3c1e-5a7d-4f0e-9a52-0b7f4c1d2e90")  # namespace of the world's fixed ids
_CREATED = "2022-02-10T15:38:18.804420Z"

# Work caps for one search (per collection): beyond them the AOI/period is refused with a 400.
MAX_TILES = 20_000
MAX_PASSES = 4_000_000


class SearchError(ValueError):
    """A search request the catalogue refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------------------------------
# Hosts, producers, collections
# ----------------------------------------------------------------------------------------------
HOSTS: dict[str, dict[str, Any]] = {
    "oneatlas": {
        "name": "oneatlas",
        "title": "OneAtlas",
        "description": "Airbus OneAtlas: Pléiades and SPOT archive imagery and tasking.",
        "isIntegrated": True,
    },
    "earthsearch": {
        "name": "earthsearch",
        "title": "Earth Search",
        "description": "Open Sentinel-2 Level-2A archive.",
        "isIntegrated": True,
    },
}

PRODUCERS: dict[str, dict[str, Any]] = {
    "airbus": {
        "name": "airbus",
        "title": "Airbus",
        "description": "Airbus Defence and Space",
        "isIntegrated": True,
    },
    "esa": {
        "name": "esa",
        "title": "ESA",
        "description": "European Space Agency (Copernicus)",
        "isIntegrated": True,
    },
}


@dataclass(frozen=True)
class CollectionSpec:
    """Everything the world needs to know about one collection (archive grid and prices)."""

    index: int  # encoded into scene ids (1..15); 0 for tasking collections
    name: str
    title: str
    description: str
    host: str
    producer: str
    type: str  # ARCHIVE | TASKING
    resolution: float  # nadir ground sample distance, metres
    resolution_class: str
    bands: tuple[str, ...]
    price_per_km2: float  # credits
    min_area_km2: float
    # archive grid (ignored for TASKING)
    satellites: tuple[str, ...] = ()
    tile_deg: float = 1.0
    lat_min: float = -80.0
    lat_max: float = 80.0
    revisit_days: int = 5
    exist_rate: float = 1.0  # share of passes that left an archived scene
    start: date = date(2015, 1, 1)
    max_rotation_deg: float = 0.0
    max_incidence_deg: float = 30.0
    delivery_time: str = "HOURS"
    analytics_rate: float = 1.0  # share of scenes usable for ANALYTICS as well as DATA
    no_quicklook_rate: float = 0.03


SPECS: dict[str, CollectionSpec] = {
    s.name: s
    for s in (
        CollectionSpec(
            index=1,
            name="phr",
            title="Pléiades",
            description="Pléiades 1A/1B very high resolution optical imagery (50 cm).",
            host="oneatlas",
            producer="airbus",
            type="ARCHIVE",
            resolution=0.5,
            resolution_class="VERY_HIGH",
            bands=("pan", "blue", "green", "red", "nir"),
            price_per_km2=40.0,
            min_area_km2=1.0,
            satellites=("PHR1A", "PHR1B"),
            tile_deg=0.2,
            lat_min=-80.0,
            lat_max=80.0,
            revisit_days=4,
            exist_rate=0.25,
            start=date(2015, 1, 1),
            max_rotation_deg=12.0,
            max_incidence_deg=30.0,
            analytics_rate=0.7,
        ),
        CollectionSpec(
            index=2,
            name="spot",
            title="SPOT",
            description="SPOT 6/7 high resolution optical imagery (1.5 m).",
            host="oneatlas",
            producer="airbus",
            type="ARCHIVE",
            resolution=1.5,
            resolution_class="HIGH",
            bands=("pan", "blue", "green", "red", "nir"),
            price_per_km2=10.0,
            min_area_km2=25.0,
            satellites=("SPOT6", "SPOT7"),
            tile_deg=0.5,
            lat_min=-80.0,
            lat_max=80.0,
            revisit_days=5,
            exist_rate=0.3,
            start=date(2015, 1, 1),
            max_rotation_deg=10.0,
            max_incidence_deg=30.0,
            analytics_rate=0.8,
        ),
        CollectionSpec(
            index=3,
            name="sentinel-2",
            title="Sentinel-2",
            description="Copernicus Sentinel-2 Level-2A multispectral imagery (10 m), open data.",
            host="earthsearch",
            producer="esa",
            type="ARCHIVE",
            resolution=10.0,
            resolution_class="MEDIUM",
            bands=(
                "coastal",
                "blue",
                "green",
                "red",
                "rededge1",
                "rededge2",
                "rededge3",
                "nir",
                "nir08",
                "watervapour",
                "swir16",
                "swir22",
            ),
            price_per_km2=0.2,
            min_area_km2=100.0,
            satellites=("sentinel-2a", "sentinel-2b"),
            tile_deg=1.0,
            lat_min=-56.0,
            lat_max=84.0,
            revisit_days=5,
            exist_rate=0.98,
            start=date(2015, 7, 1),
            max_rotation_deg=1.5,
            max_incidence_deg=11.0,
            delivery_time="MINUTES",
            analytics_rate=1.0,
            no_quicklook_rate=0.02,
        ),
        CollectionSpec(
            index=0,
            name="phr-tasking",
            title="Pléiades Tasking",
            description="New Pléiades acquisitions over your area (tasking).",
            host="oneatlas",
            producer="airbus",
            type="TASKING",
            resolution=0.5,
            resolution_class="VERY_HIGH",
            bands=("pan", "blue", "green", "red", "nir"),
            price_per_km2=80.0,
            min_area_km2=25.0,
        ),
        CollectionSpec(
            index=0,
            name="spot-tasking",
            title="SPOT Tasking",
            description="New SPOT 6/7 acquisitions over your area or point of interest (tasking).",
            host="oneatlas",
            producer="airbus",
            type="TASKING",
            resolution=1.5,
            resolution_class="HIGH",
            bands=("pan", "blue", "green", "red", "nir"),
            price_per_km2=15.0,
            min_area_km2=100.0,
        ),
    )
}
_BY_INDEX = {s.index: s for s in SPECS.values() if s.index}


def _collection_item(spec: CollectionSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "type": spec.type,
        "restricted": False,
        "hostName": spec.host,
        "host": dict(HOSTS[spec.host]),
        "producerName": spec.producer,
        "producer": dict(PRODUCERS[spec.producer]),
        "isIntegrated": True,
        "resolutionClass": spec.resolution_class,
        "resolutionValue": {"minimum": spec.resolution, "maximum": spec.resolution},
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
    }


COLLECTIONS: list[dict[str, Any]] = [_collection_item(s) for s in SPECS.values()]


def host_of(collection_name: str) -> str | None:
    spec = SPECS.get(collection_name)
    return spec.host if spec else None


# ----------------------------------------------------------------------------------------------
# Data products and order schemas (E19, E20)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ProductSpec:
    collection: str
    title: str
    configuration: dict[str, Any]
    price_factor: float = 1.0
    integrated: bool = True


_PRODUCT_SPECS = (
    _ProductSpec("phr", "Display", {"radiometricProcessing": "display", "pixelCoding": "8bits"}),
    _ProductSpec("phr", "Analytic", {"radiometricProcessing": "reflectance", "pixelCoding": "12bits"}, 1.25),
    _ProductSpec("spot", "Display", {"radiometricProcessing": "display", "pixelCoding": "8bits"}),
    # Listed by the marketplace but not orderable through the API (clients drop it, orders refuse it).
    _ProductSpec(
        "spot", "Analytic", {"radiometricProcessing": "reflectance", "pixelCoding": "12bits"}, 1.25, False
    ),
    _ProductSpec("sentinel-2", "Level-2A", {"processingLevel": "L2A"}),
    _ProductSpec("phr-tasking", "Standard", {}),
    _ProductSpec("spot-tasking", "Standard", {}),
)


def _product_item(p: _ProductSpec) -> dict[str, Any]:
    spec = SPECS[p.collection]
    host = dict(HOSTS[spec.host])
    config_id = str(uuid.uuid5(_NS, f"product-configuration:{p.collection}:{p.title}"))
    collection = _collection_item(spec)
    for key in ("description", "resolutionClass", "resolutionValue", "createdAt", "updatedAt"):
        collection.pop(key)
    return {
        "id": str(uuid.uuid5(_NS, f"data-product:{p.collection}:{p.title}")),
        "collectionName": p.collection,
        "productConfigurationId": config_id,
        "isIntegrated": p.integrated,
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "productConfiguration": {
            "id": config_id,
            "title": p.title,
            "hostName": spec.host,
            "host": host,
            "configuration": dict(p.configuration),
            "isIntegrated": p.integrated,
        },
        "collection": collection,
    }


DATA_PRODUCTS: list[dict[str, Any]] = [_product_item(p) for p in _PRODUCT_SPECS]
_PRODUCTS_BY_ID = {item["id"]: (item, p) for item, p in zip(DATA_PRODUCTS, _PRODUCT_SPECS, strict=True)}


def data_product(data_product_id: str) -> dict[str, Any] | None:
    entry = _PRODUCTS_BY_ID.get(str(data_product_id))
    return entry[0] if entry else None


def _polygon_definition() -> dict[str, Any]:
    return {
        "title": "Polygon",
        "description": "Polygon Model.",
        "type": "object",
        "properties": {
            "type": {"title": "Type", "default": "Polygon", "const": "Polygon", "type": "string"},
            "coordinates": {
                "type": "array",
                "items": {
                    "type": "array",
                    "minItems": 4,
                    "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
                },
            },
        },
        "required": ["coordinates"],
    }


def _point_definition() -> dict[str, Any]:
    return {
        "title": "Point",
        "description": "Point Model.",
        "type": "object",
        "properties": {
            "type": {"title": "Type", "default": "Point", "const": "Point", "type": "string"},
            "coordinates": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
        },
        "required": ["coordinates"],
    }


def _enum(name: str, options: Sequence[tuple[str, str]], default: str | None) -> dict[str, Any]:
    return {"title": name, "anyOf": [{"const": c, "title": t} for c, t in options], "default": default}


def _ref(name: str) -> list[dict[str, str]]:
    return [{"$ref": f"#/definitions/{name}"}]


def _archive_schema(spec: CollectionSpec, p: _ProductSpec) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft-07/schema",
        "title": f"{spec.title} {p.title} archive order",
        "type": "object",
        "properties": {
            "id": {
                "title": "Image ID",
                "description": "Catalog image id (properties.id of a catalog search result).",
                "type": "string",
            },
            "aoi": {
                "title": "Area of interest",
                "description": "Polygon (EPSG:4326) the image is clipped to; it must intersect the image.",
                "type": "object",
                "allOf": _ref("Polygon"),
            },
        },
        "required": ["id", "aoi"],
        "definitions": {"Polygon": _polygon_definition()},
        "additionalProperties": False,
    }


def _tasking_schema(spec: CollectionSpec, p: _ProductSpec) -> dict[str, Any]:
    point_ok = spec.name == "spot-tasking"
    geometry: dict[str, Any] = {"title": "Geometry", "type": "object"}
    definitions: dict[str, Any] = {"Polygon": _polygon_definition()}
    if point_ok:
        geometry["anyOf"] = [{"$ref": "#/definitions/Polygon"}, {"$ref": "#/definitions/Point"}]
        definitions["Point"] = _point_definition()
    else:
        geometry["allOf"] = _ref("Polygon")
    definitions.update(
        {
            "acquisitionMode": _enum(
                "acquisitionMode", [("mono", "MONO"), ("stereo", "STEREO"), ("tristereo", "TRISTEREO")], None
            ),
            "geometricProcessing": _enum(
                "geometricProcessing", [("ortho", "Ortho"), ("primary", "Primary")], "ortho"
            ),
            "spectralProcessing": _enum(
                "spectralProcessing",
                [
                    ("bundle", "Bundle: Panchromatic + Multispectral 4-band"),
                    ("pansharpened", "Pansharpened: Multispectral 4-band"),
                ],
                "bundle",
            ),
            "pixelCoding": _enum(
                "pixelCoding",
                [("8bits", "8 bits"), ("12bits", "12 bits (JPEG 2000) / 16 bits (GeoTIFF)")],
                "12bits",
            ),
            "radiometricProcessing": _enum(
                "radiometricProcessing",
                [("basic", "Basic"), ("display", "Display"), ("reflectance", "Reflectance")],
                "reflectance",
            ),
            "deliveredAs": _enum(
                "deliveredAs", [("geotiff", "DIMAP-GeoTIFF"), ("jpeg2000", "DIMAP-JPEG2000")], "geotiff"
            ),
            "projection": _enum(
                "projection", [("4326", "4326"), ("3857", "3857"), ("32631", "32631")], "4326"
            ),
        }
    )
    return {
        "$schema": "https://json-schema.org/draft-07/schema",
        "title": f"{spec.title} order",
        "type": "object",
        "properties": {
            "geometry": geometry,
            "displayName": {"title": "Order name", "type": "string"},
            "extraDescription": {"title": "Description", "type": "string"},
            "acquisitionStart": {"title": "Start", "type": "string", "format": "date-time"},
            "acquisitionEnd": {"title": "End", "type": "string", "format": "date-time"},
            "acquisitionMode": {
                "title": "Acquisition mode",
                "description": "Mono (one viewpoint), stereo or tristereo (viewpoints on one orbit).",
                "type": "string",
                "allOf": _ref("acquisitionMode"),
            },
            "cloudCoverage": {
                "title": "Maximum cloud coverage (%)",
                "description": "Maximum allowed cloud coverage in percentage.",
                "minimum": 5,
                "maximum": 20,
                "type": "integer",
            },
            "incidenceAngle": {
                "title": "Maximum incidence angle (°)",
                "description": "Maximum allowed incidence angle in degree.",
                "minimum": 5,
                "maximum": 50,
                "type": "integer",
            },
            "geometricProcessing": {
                "title": "Geometric processing",
                "description": "Primary is closest to the sensor geometry; Ortho is terrain-corrected.",
                "type": "string",
                "allOf": _ref("geometricProcessing"),
            },
            "projection": {
                "title": "Coordinate reference system",
                "description": "Reference system used for ortho products.",
                "type": "string",
                "allOf": _ref("projection"),
            },
            "spectralProcessing": {
                "title": "Spectral bands combination",
                "description": "Bundle: pan and multispectral separately; pansharpened: merged.",
                "type": "string",
                "allOf": _ref("spectralProcessing"),
            },
            "pixelCoding": {
                "title": "Bit depth per pixel",
                "type": "string",
                "allOf": _ref("pixelCoding"),
            },
            "radiometricProcessing": {
                "title": "Radiometric processing",
                "type": "string",
                "allOf": _ref("radiometricProcessing"),
            },
            "deliveredAs": {
                "title": "Delivery format",
                "type": "string",
                "allOf": _ref("deliveredAs"),
            },
        },
        "required": [
            "geometry",
            "displayName",
            "acquisitionStart",
            "acquisitionEnd",
            "acquisitionMode",
            "cloudCoverage",
            "incidenceAngle",
            "geometricProcessing",
            "spectralProcessing",
            "pixelCoding",
            "radiometricProcessing",
            "deliveredAs",
        ],
        "definitions": definitions,
        "additionalProperties": False,
    }


def order_schema(data_product_id: str) -> dict[str, Any] | None:
    """The draft-07 JSON Schema of the order ``params`` of a data product (E20), or None."""
    entry = _PRODUCTS_BY_ID.get(str(data_product_id))
    if entry is None:
        return None
    spec = SPECS[entry[1].collection]
    builder = _tasking_schema if spec.type == "TASKING" else _archive_schema
    return builder(spec, entry[1])


# ----------------------------------------------------------------------------------------------
# Deterministic hashing (numpy, vectorised; identical for one element and for millions)
# ----------------------------------------------------------------------------------------------
_U64 = np.uint64
_MASK64 = (1 << 64) - 1


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + _U64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _hash(key: int, *parts: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = np.full(np.broadcast(*parts).shape if parts else (), key, dtype=np.uint64)
        for part in parts:
            h = _splitmix(h ^ np.asarray(part).astype(np.uint64))
        return h


def _unit(h: np.ndarray, salt: int) -> np.ndarray:
    """Uniform floats in [0, 1) derived from hash ``h`` and an attribute ``salt``."""
    with np.errstate(over="ignore"):
        return (_splitmix(h ^ _U64(salt)) >> _U64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _units(h: np.ndarray, first_salt: int, count: int) -> np.ndarray:
    """``count`` independent uniforms per hash: shape (N, count); column i uses salt first_salt + i."""
    salts = np.arange(first_salt, first_salt + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = _splitmix(np.asarray(h, dtype=np.uint64)[:, None] ^ salts[None, :])
    return (mixed >> _U64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _py_mix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _key(seed: int, label: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{label}".encode(), digest_size=8).digest(), "big")


# ----------------------------------------------------------------------------------------------
# Geometry helpers
# ----------------------------------------------------------------------------------------------
def area_km2(geometry: Mapping[str, Any] | BaseGeometry) -> float:
    """Approximate area in km² of a lon/lat geometry (local equirectangular scaling; fine for AOIs)."""
    geom = geometry if isinstance(geometry, BaseGeometry) else shape(geometry)
    if geom.is_empty:
        return 0.0
    lat0 = math.radians(geom.centroid.y)
    scaled = shapely.transform(geom, lambda c: c * np.array([111.320 * math.cos(lat0), 110.574]))
    return float(scaled.area)


def parse_geometry(value: Any, what: str, *, allow: Sequence[str] = ("Polygon",)) -> BaseGeometry:
    """A GeoJSON geometry dict -> shapely, or ValueError with a readable reason."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a GeoJSON geometry object")
    gtype = value.get("type")
    if gtype not in allow:
        raise ValueError(f"{what} must be a GeoJSON {' or '.join(allow)}, got {gtype!r}")
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise ValueError(f"{what} has malformed coordinates ({exc})") from None
    if geom.is_empty:
        raise ValueError(f"{what} is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise ValueError(f"{what} has non-finite coordinates")
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValueError(
            f"{what} coordinates must be longitude/latitude in EPSG:4326 (lon -180..180, lat -90..90)"
        )
    if not geom.is_valid:
        raise ValueError(f"{what} is not a valid geometry ({shapely.is_valid_reason(geom)})")
    return geom


def _bbox_geometry(value: Any) -> BaseGeometry:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) not in (4, 6):
        raise SearchError("bbox must be [minLon, minLat, maxLon, maxLat]")
    try:
        nums = [float(v) for v in value]
    except (TypeError, ValueError):
        raise SearchError("bbox values must be numbers") from None
    minx, miny, maxx, maxy = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise SearchError("bbox must be lon/lat in EPSG:4326 with minLat <= maxLat")
    if minx > maxx:  # crosses the antimeridian (STAC convention)
        return shapely.MultiPolygon([box(minx, miny, 180, maxy), box(-180, miny, maxx, maxy)])
    if minx == maxx or miny == maxy:
        return (
            shapely.Point(minx, miny)
            if minx == maxx and miny == maxy
            else shapely.LineString([(minx, miny), (maxx, maxy)])
        )
    return box(minx, miny, maxx, maxy)


_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(text: str) -> datetime:
    """RFC 3339 timestamp (or a plain date) -> aware UTC datetime; ValueError if malformed."""
    m = _DT_RE.match(text.strip())
    if not m:
        raise ValueError(f"invalid timestamp {text!r}")
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro)
    offset = timedelta(0)
    if tz and tz.upper() != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (dt - offset).replace(tzinfo=UTC)


def _parse_interval(value: Any) -> tuple[datetime | None, datetime | None]:
    if value is None:
        return None, None
    try:
        return stac_query.parse_interval(value, parse=parse_datetime)
    except ApiError as exc:
        raise SearchError(exc.message) from None


# ----------------------------------------------------------------------------------------------
# Scenes
# ----------------------------------------------------------------------------------------------
def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Scene:
    """One archived image. ``feature()`` is its E21 search feature (``properties.id`` == ``id``)."""

    id: str
    collection: str
    host: str
    producer: str
    geometry: dict[str, Any]  # GeoJSON Polygon, EPSG:4326, counter-clockwise
    bbox: tuple[float, float, float, float]
    acquired: datetime
    cloud_coverage: float
    resolution: float
    incidence_angle: float
    snow_cover: float
    azimuth_angle: float
    sun_elevation: float
    satellite: str
    usage_type: tuple[str, ...]
    has_quicklook: bool
    tile: tuple[int, int]  # (row, col) of the collection grid
    pass_index: int
    key: int = field(repr=False, compare=False, default=0)  # scene hash, seeds derived content

    @property
    def constellation(self) -> str:
        return self.collection

    @property
    def acquisition_identifier(self) -> str:
        return self._identifiers["acquisition"]

    @cached_property
    def _identifiers(self) -> dict[str, str]:
        lon, lat = (self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2
        stamp = self.acquired.strftime("%Y%m%d%H%M%S")
        serial = self.key % 100_000
        if self.collection == "sentinel-2":
            zone = int((lon + 180) // 6) % 60 + 1
            band = "CDEFGHJKLMNPQRSTUVWXX"[max(0, min(20, int((lat + 80) // 8)))]
            letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
            sq = letters[self.key % 24] + letters[(self.key >> 8) % 20]
            sat = "S2A" if self.satellite.endswith("a") else "S2B"
            orbit = self.key % 143 + 1
            processed = (self.acquired + timedelta(hours=1, minutes=self.key % 50)).strftime("%Y%m%dT%H%M%S")
            ident = (
                f"{sat}_MSIL2A_{self.acquired.strftime('%Y%m%dT%H%M%S')}_N0400_R{orbit:03d}"
                f"_T{zone:02d}{band}{sq}_{processed}"
            )
            return {"acquisition": ident, "tile": f"{zone:02d}{band}{sq}"}
        ew, ns = ("E" if lon >= 0 else "W"), ("N" if lat >= 0 else "S")
        cell = f"{ew}{abs(int(lon)):03d}{ns}{abs(int(lat)):02d}"
        ident = f"DS_{self.satellite}_{stamp}{self.key % 10}_FR1_PX_{cell}_{serial:05d}"
        return {"acquisition": ident, "tile": f"{self.tile[0]}-{self.tile[1]}"}

    def feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "bbox": list(self.bbox),
            "geometry": self.geometry,
            "properties": {
                "id": self.id,
                "acquisitionDate": _iso(self.acquired),
                "start_datetime": None,
                "end_datetime": None,
                "constellation": self.constellation,
                "collection": self.collection,
                "providerName": self.host,
                "cloudCoverage": self.cloud_coverage,
                "up42:usageType": list(self.usage_type),
                "providerProperties": self.provider_properties(),
                "sceneId": self.id,
                "resolution": self.resolution,
                "deliveryTime": SPECS[self.collection].delivery_time,
                "producer": self.producer,
            },
        }

    def provider_properties(self) -> dict[str, Any]:
        ident = self._identifiers["acquisition"]
        cx = round((self.bbox[0] + self.bbox[2]) / 2, 8)
        cy = round((self.bbox[1] + self.bbox[3]) / 2, 8)
        processed = self.acquired + timedelta(hours=2, minutes=self.key % 59)
        common = {
            "acquisitionIdentifier": ident,
            "platform": self.satellite,
            "incidenceAngle": self.incidence_angle,
            "azimuthAngle": self.azimuth_angle,
            "illuminationElevationAngle": self.sun_elevation,
            "illuminationAzimuthAngle": round(140.0 + (self.key % 400) / 10.0, 4),
            "snowCover": self.snow_cover,
            "cloudCover": self.cloud_coverage,
            "geometryCentroid": [cx, cy],
            "processingDate": _iso(processed),
            "sensorType": "OPTICAL",
        }
        if self.collection == "sentinel-2":
            return {
                **common,
                "mgrsTile": self._identifiers["tile"],
                "productType": "S2MSI2A",
                "processingBaseline": "04.00",
                "dataCoverage": round(80 + (self.key % 2000) / 100.0, 2),
                "format": "image/tiff; application=geotiff; profile=cloud-optimized",
            }
        inc = math.radians(self.incidence_angle)
        return {
            **common,
            "qualified": False,
            "sourceIdentifier": ident,
            "parentIdentifier": ident,
            "archiveIdentifier": ident,
            "acquisitionStation": ("SE1", "FR1", "KIR", "TLS")[self.key % 4],
            "archivingCenter": "FR1",
            "productCategory": "image",
            "spectralRange": "VISIBLE",
            "processingLevel": "SENSOR",
            "productionStatus": "ARCHIVED",
            "productType": "mono",
            "incidenceAngleAcrossTrack": round(math.degrees(math.asin(math.sin(inc) * 0.8)), 6),
            "incidenceAngleAlongTrack": round(math.degrees(math.asin(math.sin(inc) * 0.6)), 6),
            "format": "image/jp2",
            "organisationName": "AIRBUS DS GEO",
            "processingCenter": "MOC",
        }


# ----------------------------------------------------------------------------------------------
# The catalogue
# ----------------------------------------------------------------------------------------------
_SORT_FIELDS = {
    "acquisitionDate": lambda s: s.acquired,
    "datetime": lambda s: s.acquired,
    "cloudCoverage": lambda s: s.cloud_coverage,
    "acquisitionIdentifier": lambda s: s.acquisition_identifier,
    "incidenceAngle": lambda s: s.incidence_angle,
    "snowCover": lambda s: s.snow_cover,
    "resolution": lambda s: s.resolution,
    "id": lambda s: s.id,
}
_NUMERIC_QUERY = {
    "cloudCoverage": "cloud",
    "incidenceAngle": "incidence",
    "snowCover": "snow",
    "resolution": "resolution",
}
_OPS = {
    op: stac_query.COMPARISONS[stac_query.OP_ALIASES[op]] for op in ("eq", "neq", "lt", "lte", "gt", "gte")
}
_ALL_CATALOGS: weakref.WeakSet[Catalog] = weakref.WeakSet()


class Catalog:
    """The seeded archive. ``now`` bounds the archive (scenes are never in the future)."""

    def __init__(self, seed: int, now: Callable[[], datetime] | None = None) -> None:
        self.seed = int(seed)
        self._now = now or (lambda: datetime.now(UTC))
        self._id_key = _key(self.seed, "scene-id")
        self._id_mask_key = _key(self.seed, "scene-id-mask")
        self._coll_keys = {s.name: _key(self.seed, f"collection:{s.name}") for s in SPECS.values()}
        _ALL_CATALOGS.add(self)

    # -- ids ---------------------------------------------------------------------------------
    def _encode_id(self, index: int, row: int, col: int, k: int) -> str:
        payload = (index << 44) | (row << 32) | (col << 18) | k  # 4 + 12 + 14 + 18 bits
        tag = _py_mix(self._id_key ^ payload) & ((1 << 58) - 1)
        body = payload ^ _py_mix(self._id_mask_key ^ tag)
        v = (tag << 64) | body  # 122 bits
        n = (
            ((v >> 74) << 80)
            | (0x4 << 76)
            | (((v >> 62) & 0xFFF) << 64)
            | (0b10 << 62)
            | (v & ((1 << 62) - 1))
        )
        return str(uuid.UUID(int=n))

    def _decode_id(self, scene_id: str) -> tuple[CollectionSpec, int, int, int] | None:
        try:
            n = uuid.UUID(str(scene_id)).int
        except (ValueError, TypeError, AttributeError):
            return None
        if (n >> 76) & 0xF != 4 or (n >> 62) & 0b11 != 0b10:
            return None
        v = ((n >> 80) << 74) | (((n >> 64) & 0xFFF) << 62) | (n & ((1 << 62) - 1))
        tag, body = v >> 64, v & _MASK64
        payload = body ^ _py_mix(self._id_mask_key ^ tag)
        if _py_mix(self._id_key ^ payload) & ((1 << 58) - 1) != tag or payload >> 48:
            return None
        spec = _BY_INDEX.get(payload >> 44)
        if spec is None:
            return None
        return spec, (payload >> 32) & 0xFFF, (payload >> 18) & 0x3FFF, payload & 0x3FFFF

    # -- grid ----------------------------------------------------------------------------------
    @staticmethod
    def _nrows(spec: CollectionSpec) -> int:
        return math.ceil((spec.lat_max - spec.lat_min) / spec.tile_deg - 1e-9)

    @staticmethod
    def _ncols(spec: CollectionSpec, rows: np.ndarray) -> np.ndarray:
        lat_c = spec.lat_min + (rows + 0.5) * spec.tile_deg
        return np.maximum(1, np.round(360.0 * np.cos(np.radians(lat_c)) / spec.tile_deg)).astype(np.int64)

    def _candidate_tiles(self, spec: CollectionSpec, aoi: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
        h = spec.tile_deg
        nrows = self._nrows(spec)
        parts = list(getattr(aoi, "geoms", [aoi]))
        rows_out: list[np.ndarray] = []
        cols_out: list[np.ndarray] = []
        count = 0
        for part in parts:
            minx, miny, maxx, maxy = part.bounds
            r0 = max(0, math.floor((miny - 0.35 * h - spec.lat_min) / h))
            r1 = min(nrows - 1, math.floor((maxy + 0.35 * h - spec.lat_min) / h))
            if r1 < r0:
                continue
            rows = np.arange(r0, r1 + 1, dtype=np.int64)
            ncols = self._ncols(spec, rows)
            for row, nc in zip(rows.tolist(), ncols.tolist(), strict=True):
                w = 360.0 / nc
                c0 = max(0, math.floor((minx - 0.35 * w + 180.0) / w))
                c1 = min(nc - 1, math.floor((maxx + 0.35 * w + 180.0) / w))
                if c1 < c0:
                    continue
                count += c1 - c0 + 1
                if count > MAX_TILES:
                    raise SearchError(
                        f"Search area too large for collection '{spec.name}': it spans more than {MAX_TILES} "
                        f"catalogue tiles of {h}°. Use a smaller AOI (intersects/bbox)."
                    )
                rows_out.append(np.full(c1 - c0 + 1, row, dtype=np.int64))
                cols_out.append(np.arange(c0, c1 + 1, dtype=np.int64))
        if not rows_out:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        rows_all, cols_all = np.concatenate(rows_out), np.concatenate(cols_out)
        if len(parts) > 1:  # parts may share tiles
            uniq = np.unique(np.stack([rows_all, cols_all], axis=1), axis=0)
            rows_all, cols_all = uniq[:, 0], uniq[:, 1]
        return rows_all, cols_all

    def _tile_boxes(
        self, spec: CollectionSpec, rows: np.ndarray, cols: np.ndarray, scale: float
    ) -> np.ndarray:
        h = spec.tile_deg
        w = 360.0 / self._ncols(spec, rows)
        lat_c = spec.lat_min + (rows + 0.5) * h
        lon_c = -180.0 + (cols + 0.5) * w
        return shapely.box(lon_c - scale * w, lat_c - scale * h, lon_c + scale * w, lat_c + scale * h)

    # -- per-pass attributes (vectorised) -------------------------------------------------------
    def _attributes(
        self, spec: CollectionSpec, rows: np.ndarray, cols: np.ndarray, ks: np.ndarray
    ) -> dict[str, np.ndarray]:
        ckey = self._coll_keys[spec.name]
        tile_h = _hash(ckey, rows, cols)
        h = _hash(ckey, rows, cols, ks)
        u = _units(h, 0, 14)
        rev = spec.revisit_days
        lat_c = spec.lat_min + (rows + 0.5) * spec.tile_deg
        lon_c = -180.0 + (cols + 0.5) * (360.0 / self._ncols(spec, rows))
        phase = np.floor(_unit(tile_h, 1) * rev)
        jitter_days = np.floor(u[:, 2] * (rev if spec.exist_rate < 0.9 else 1))
        day = phase + ks * rev + jitter_days
        local_hours = 10.5 + (u[:, 3] - 0.5) * (1.0 if spec.exist_rate < 0.9 else 0.3)
        start = datetime(spec.start.year, spec.start.month, spec.start.day, tzinfo=UTC).timestamp()
        t = np.floor(start + day * DAY + (local_hours - lon_c / 15.0) * 3600.0).astype(np.int64)
        u_cloud = u[:, 4]
        cloud = 100.0 * u_cloud**2.2
        cloud = np.round(cloud, 2) if spec.name == "sentinel-2" else np.round(cloud)
        incidence = np.round(u[:, 5] * spec.max_incidence_deg, 4)
        resolution = np.round(spec.resolution / np.cos(np.radians(incidence)) ** 1.5, 2)
        doy = ((t // DAY) % 365.25) / 365.25
        decl = 23.44 * np.sin(2 * np.pi * (doy - 81 / 365.25))
        sun = np.clip(86.0 - np.abs(lat_c - decl) - 6.0 * u[:, 6], 3.0, 85.0)
        winter = np.where(
            lat_c >= 0, np.cos(2 * np.pi * (doy - 15 / 365.25)), -np.cos(2 * np.pi * (doy - 15 / 365.25))
        )
        snow_potential = np.clip((np.abs(lat_c) - 40.0) / 30.0, 0.0, 1.0) * np.clip(winter + 0.3, 0.0, 1.3)
        snow = np.round(np.clip(snow_potential * u[:, 7] * 80.0, 0.0, 100.0))
        return {
            "hash": h,
            "exists": u[:, 8] < spec.exist_rate,
            "t": t,
            "cloud": cloud,
            "incidence": incidence,
            "resolution": resolution,
            "sun": np.round(sun, 4),
            "snow": snow,
            "azimuth": np.round(u[:, 10] * 360.0, 4),
            "sat": (u[:, 11] * len(spec.satellites)).astype(np.int64),
            "analytics": u[:, 12] < spec.analytics_rate,
            "quicklook": u[:, 13] >= spec.no_quicklook_rate,
            "lat_c": lat_c,
            "lon_c": lon_c,
        }

    def _footprints(
        self, spec: CollectionSpec, rows: np.ndarray, cols: np.ndarray, h: np.ndarray
    ) -> np.ndarray:
        """(N, 9, 2) closed, counter-clockwise rings: the tile slightly enlarged, jittered and rotated."""
        th = spec.tile_deg
        w = 360.0 / self._ncols(spec, rows)
        lat_c = spec.lat_min + (rows + 0.5) * th
        lon_c = -180.0 + (cols + 0.5) * w
        coslat = np.maximum(np.cos(np.radians(lat_c)), 0.05)
        hx = (w * coslat / 2.0) * 1.08  # half sizes in "degrees of latitude" (metric-ish units)
        hy = (th / 2.0) * 1.08
        base = np.array(
            [(-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0)], dtype=np.float64
        )
        n = len(rows)
        u = _units(h, 20, 23)
        pert = u[:, :16].reshape(n, 8, 2) - 0.5
        x = base[None, :, 0] * hx[:, None] + pert[:, :, 0] * 0.04 * hx[:, None]
        y = base[None, :, 1] * hy + pert[:, :, 1] * 0.04 * hy
        theta = np.radians((u[:, 20] - 0.5) * 2.0 * spec.max_rotation_deg)[:, None]
        xr = x * np.cos(theta) - y * np.sin(theta)
        yr = x * np.sin(theta) + y * np.cos(theta)
        dx = (u[:, 21] - 0.5) * 0.1 * hx
        dy = (u[:, 22] - 0.5) * 0.1 * hy
        lon = lon_c[:, None] + (xr + dx[:, None]) / coslat[:, None]
        lat = lat_c[:, None] + yr + dy[:, None]
        ring = np.stack([lon, lat], axis=2)
        return np.round(np.concatenate([ring, ring[:, :1, :]], axis=1), 8)

    def _make_scene(
        self,
        spec: CollectionSpec,
        row: int,
        col: int,
        k: int,
        attrs: dict[str, np.ndarray],
        i: int,
        ring: list[list[float]],
    ) -> Scene:
        xs = [p[0] for p in ring]
        if min(xs) < -180 or max(xs) > 180:  # edge tiles: cut at the antimeridian
            clipped = shapely.Polygon(ring).intersection(box(-180, -90, 180, 90))
            if clipped.geom_type != "Polygon":
                clipped = max(getattr(clipped, "geoms", [clipped]), key=lambda g: g.area)
            coords = np.round(shapely.get_coordinates(shapely.orient_polygons(clipped)), 8)
            ring = coords.tolist()
            xs = [p[0] for p in ring]
        ys = [p[1] for p in ring]
        geometry = {"type": "Polygon", "coordinates": [ring]}
        bbox = (min(xs), min(ys), max(xs), max(ys))
        usage = ("DATA", "ANALYTICS") if attrs["analytics"][i] else ("DATA",)
        return Scene(
            id=self._encode_id(spec.index, row, col, k),
            collection=spec.name,
            host=spec.host,
            producer=spec.producer,
            geometry=geometry,
            bbox=bbox,
            acquired=datetime.fromtimestamp(int(attrs["t"][i]), UTC),
            cloud_coverage=float(attrs["cloud"][i]),
            resolution=float(attrs["resolution"][i]),
            incidence_angle=float(attrs["incidence"][i]),
            snow_cover=float(attrs["snow"][i]),
            azimuth_angle=float(attrs["azimuth"][i]),
            sun_elevation=float(attrs["sun"][i]),
            satellite=spec.satellites[int(attrs["sat"][i])],
            usage_type=usage,
            has_quicklook=bool(attrs["quicklook"][i]),
            tile=(row, col),
            pass_index=k,
            key=int(attrs["hash"][i]),
        )

    # -- public API --------------------------------------------------------------------------------
    def scene(self, scene_id: str) -> Scene | None:
        """The scene behind any id a search returned (None if the id is not one of this world's)."""
        decoded = self._decode_id(scene_id)
        if decoded is None:
            return None
        spec, row, col, k = decoded
        if row >= self._nrows(spec) or col >= int(self._ncols(spec, np.array([row]))[0]):
            return None
        rows, cols, ks = np.array([row]), np.array([col]), np.array([k])
        attrs = self._attributes(spec, rows, cols, ks)
        if not attrs["exists"][0] or attrs["t"][0] > self._now().timestamp():
            return None
        ring = self._footprints(spec, rows, cols, attrs["hash"])[0].tolist()
        return self._make_scene(spec, row, col, k, attrs, 0, ring)

    def search(self, host: str, body: Mapping[str, Any]) -> list[Scene]:
        """All scenes of ``host`` matching a STAC search body (E21), filtered and sorted.

        Raises :class:`SearchError` (status 404 for an unknown host, 400 for an invalid body).
        """
        if host not in HOSTS:
            raise SearchError(f"Host '{host}' not found", status=404)
        if not isinstance(body, Mapping):
            raise SearchError("Search body must be a JSON object")
        specs = self._collections(host, body.get("collections"))
        aoi = self._aoi(body)
        start, end = _parse_interval(body.get("datetime"))
        numeric, usage, generic = self._query(body.get("query"))
        sort_keys = self._sortby(body.get("sortby"))
        ids = body.get("ids")
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
            raise SearchError("ids must be a list of strings")

        now = self._now()
        end = min(end, now) if end else now
        scenes: list[Scene] = []
        for spec in specs:
            if ids is not None:
                found = [self.scene(i) for i in ids]
                candidates = [
                    s
                    for s in found
                    if s
                    and s.collection == spec.name
                    and (aoi is None or shape(s.geometry).intersects(aoi))
                    and (start is None or s.acquired >= start)
                    and s.acquired <= end
                ]
                scenes.extend(c for c in candidates if self._matches(c, numeric, usage, generic))
                continue
            scenes.extend(self._search_collection(spec, aoi, start, end, numeric, usage, generic))

        scenes.sort(key=lambda s: s.id)
        for name, descending in reversed(sort_keys):
            scenes.sort(key=_SORT_FIELDS[name], reverse=descending)
        return scenes

    def quicklook_jpeg(self, scene_id: str) -> bytes | None:
        """A deterministic JPEG preview of the scene, or None if unknown or without quicklook."""
        scene = self.scene(scene_id)
        if scene is None or not scene.has_quicklook:
            return None
        return _render_quicklook(scene)

    # -- search internals --------------------------------------------------------------------------
    def _collections(self, host: str, value: Any) -> list[CollectionSpec]:
        archive = [s for s in SPECS.values() if s.host == host and s.type == "ARCHIVE"]
        if value is None:
            return archive
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise SearchError("collections must be a non-empty list of collection names")
        out: list[CollectionSpec] = []
        for name in value:
            spec = SPECS.get(name)
            if spec is None:
                raise SearchError(f"Unknown collection '{name}'")
            if spec.host != host:
                raise SearchError(
                    f"Collection '{name}' is not provided by host '{host}' (its host is '{spec.host}')"
                )
            if spec.type != "ARCHIVE":
                raise SearchError(
                    f"Collection '{name}' is a {spec.type} collection and has no catalog to search"
                )
            if spec not in out:
                out.append(spec)
        return out

    @staticmethod
    def _aoi(body: Mapping[str, Any]) -> BaseGeometry | None:
        if body.get("intersects") is not None and body.get("bbox") is not None:
            raise SearchError("Only one of 'intersects' and 'bbox' may be given")
        if body.get("intersects") is not None:
            try:
                return parse_geometry(
                    body["intersects"],
                    "intersects",
                    allow=("Polygon", "MultiPolygon", "Point", "MultiPoint", "LineString", "MultiLineString"),
                )
            except ValueError as exc:
                raise SearchError(str(exc)) from None
        if body.get("bbox") is not None:
            return _bbox_geometry(body["bbox"])
        return None

    @staticmethod
    def _query(
        value: Any,
    ) -> tuple[list[tuple[str, str, float]], set[str] | None, list[tuple[str, str, Any]]]:
        numeric: list[tuple[str, str, float]] = []
        generic: list[tuple[str, str, Any]] = []
        usage: set[str] | None = None
        if value is None:
            return numeric, usage, generic
        if not isinstance(value, Mapping):
            raise SearchError("query must be an object {property: {operator: value}}")
        for prop, cond in value.items():
            if not isinstance(cond, Mapping):
                raise SearchError(f"query.{prop} must be an object {{operator: value}}")
            for op, operand in cond.items():
                if prop == "up42:usageType":
                    if op != "in" or not isinstance(operand, list):
                        raise SearchError("query.up42:usageType supports only {'in': [...]}")
                    bad = [v for v in operand if v not in ("DATA", "ANALYTICS")]
                    if bad:
                        raise SearchError(f"Invalid up42:usageType {bad}; allowed: DATA, ANALYTICS")
                    usage = set(operand) if usage is None else usage & set(operand)
                elif op in _OPS and prop in _NUMERIC_QUERY:
                    if isinstance(operand, bool) or not isinstance(operand, (int, float)):
                        raise SearchError(f"query.{prop}.{op} must be a number")
                    numeric.append((prop, op, float(operand)))
                elif op in _OPS or op == "in":
                    if op == "in" and not isinstance(operand, list):
                        raise SearchError(f"query.{prop}.in must be a list")
                    generic.append((prop, op, operand))
                else:
                    raise SearchError(
                        f"Unsupported query operator '{op}' (use eq, neq, lt, lte, gt, gte, in)"
                    )
        return numeric, usage, generic

    @staticmethod
    def _sortby(value: Any) -> list[tuple[str, bool]]:
        if value is None:
            return [("acquisitionDate", True)]
        try:
            rules = stac_query.parse_sortby(value, allowed=tuple(_SORT_FIELDS))
        except ApiError as exc:
            raise SearchError(exc.message) from None
        return [(r["field"].removeprefix("properties."), r["direction"] == "desc") for r in rules]

    @staticmethod
    def _matches(
        scene: Scene,
        numeric: list[tuple[str, str, float]],
        usage: set[str] | None,
        generic: list[tuple[str, str, Any]],
    ) -> bool:
        values = {
            "cloudCoverage": scene.cloud_coverage,
            "incidenceAngle": scene.incidence_angle,
            "snowCover": scene.snow_cover,
            "resolution": scene.resolution,
        }
        if not all(_OPS[op](values[prop], v) for prop, op, v in numeric):
            return False
        if usage is not None and not usage & set(scene.usage_type):
            return False
        if generic:
            props = scene.feature()["properties"]
            for prop, op, operand in generic:
                value = props.get(prop, props["providerProperties"].get(prop))
                if value is None:
                    return False
                try:
                    ok = value in operand if op == "in" else _OPS[op](value, operand)
                except TypeError:
                    ok = False
                if not ok:
                    return False
        return True

    def _search_collection(
        self,
        spec: CollectionSpec,
        aoi: BaseGeometry | None,
        start: datetime | None,
        end: datetime,
        numeric: list[tuple[str, str, float]],
        usage: set[str] | None,
        generic: list[tuple[str, str, Any]],
    ) -> list[Scene]:
        if aoi is None:
            aoi = box(-180, -90, 180, 90)
        rows, cols = self._candidate_tiles(spec, aoi)
        if len(rows) == 0:
            return []
        shapely.prepare(aoi)
        keep = shapely.intersects(self._tile_boxes(spec, rows, cols, 0.85), aoi)
        rows, cols = rows[keep], cols[keep]
        inner = shapely.intersects(self._tile_boxes(spec, rows, cols, 0.3), aoi)

        # Pass index ranges per tile covering [start, end] generously; exact times are filtered below.
        t_origin = datetime(spec.start.year, spec.start.month, spec.start.day, tzinfo=UTC).timestamp()
        rev = spec.revisit_days * DAY
        t0 = max(t_origin, start.timestamp()) if start else t_origin
        t1 = end.timestamp()
        if t1 < t_origin:
            return []
        k0 = max(0, math.floor((t0 - t_origin) / rev) - 3)
        k1 = math.ceil((t1 - t_origin) / rev) + 1
        n_k = k1 - k0 + 1
        if len(rows) * n_k > MAX_PASSES:
            raise SearchError(
                f"Search too large for collection '{spec.name}': {len(rows)} tiles over {n_k} revisits. "
                "Narrow the AOI or the datetime interval."
            )
        ks = np.tile(np.arange(k0, k1 + 1, dtype=np.int64), len(rows))
        tile_idx = np.repeat(np.arange(len(rows)), n_k)
        r, c = rows[tile_idx], cols[tile_idx]
        attrs = self._attributes(spec, r, c, ks)
        mask = attrs["exists"] & (attrs["t"] <= t1) & (ks < (1 << 18))
        if start:
            mask &= attrs["t"] >= start.timestamp()
        for prop, op, v in numeric:
            mask &= _OPS[op](attrs[_NUMERIC_QUERY[prop]], v)
        if usage is not None:
            analytics_ok = "ANALYTICS" in usage
            data_ok = "DATA" in usage
            mask &= np.full(mask.shape, data_ok) | (attrs["analytics"] & analytics_ok)
        idx = np.nonzero(mask)[0]
        if len(idx) == 0:
            return []
        sub = {k: v[idx] for k, v in attrs.items()}
        r, c, ks = r[idx], c[idx], ks[idx]
        rings = self._footprints(spec, r, c, sub["hash"])
        hit = inner[tile_idx[idx]].copy()
        edge = np.nonzero(~hit)[0]
        if len(edge):
            hit[edge] = shapely.intersects(shapely.polygons(rings[edge]), aoi)
        out: list[Scene] = []
        selected = np.nonzero(hit)[0]
        ring_lists = rings[selected].tolist()
        for j, i in enumerate(selected.tolist()):
            scene = self._make_scene(spec, int(r[i]), int(c[i]), int(ks[i]), sub, i, ring_lists[j])
            if not generic or self._matches(scene, [], None, generic):
                out.append(scene)
        return out

    # -- orders (E23/E24 helpers) ------------------------------------------------------------------
    def estimate_order_credits(self, data_product: str | Mapping[str, Any], params: Mapping[str, Any]) -> int:
        return estimate_order_credits(data_product, params, catalog=self)

    def validate_order_params(self, data_product: str | Mapping[str, Any], params: Any) -> list[str]:
        return validate_order_params(data_product, params, catalog=self)


# ----------------------------------------------------------------------------------------------
# Quicklooks
# ----------------------------------------------------------------------------------------------
def _render_quicklook(scene: Scene, size: int = 256) -> bytes:
    """A plausible, deterministic RGB preview: smooth terrain colours with clouds per cloud cover."""
    rng = np.random.default_rng(scene.key)

    def field(cells: int) -> np.ndarray:
        coarse = (rng.random((cells, cells)) * 255).astype(np.uint8)
        return (
            np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), dtype=np.float64) / 255.0
        )

    terrain = 0.6 * field(5) + 0.3 * field(11) + 0.1 * field(31)
    moisture = field(7)
    rgb = np.empty((size, size, 3))
    water = terrain < 0.32
    veg = ~water & (moisture > 0.45)
    rgb[...] = np.array([168, 150, 120]) * (0.7 + 0.6 * terrain[..., None])  # bare soil / urban
    rgb[veg] = np.array([62, 110, 52]) * (0.7 + 0.6 * terrain[veg][..., None])
    rgb[water] = np.array([30, 60, 95]) * (0.8 + 0.4 * terrain[water][..., None])
    if scene.snow_cover > 0:
        snow = field(9) > 1.0 - scene.snow_cover / 100.0
        rgb[snow] = 235.0
    cover = scene.cloud_coverage / 100.0
    if cover > 0:
        clouds = 0.7 * field(6) + 0.3 * field(19)
        threshold = np.quantile(clouds, 1.0 - cover)
        alpha = np.clip((clouds - threshold) * 6.0, 0.0, 1.0)[..., None] * (clouds >= threshold)[..., None]
        rgb = rgb * (1 - alpha) + 245.0 * alpha
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=82)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# Order parameters (used by the ORDERS workstream for E23/E24)
# ----------------------------------------------------------------------------------------------
def _resolve_product(data_product: str | Mapping[str, Any]) -> tuple[dict[str, Any], _ProductSpec] | None:
    product_id = data_product.get("id") if isinstance(data_product, Mapping) else data_product
    return _PRODUCTS_BY_ID.get(str(product_id))


def _find_scene(scene_id: Any, catalog: Catalog | None) -> Scene | None:
    if not isinstance(scene_id, str):
        return None
    catalogs = [catalog] if catalog is not None else list(_ALL_CATALOGS)
    for cat in catalogs:
        scene = cat.scene(scene_id)
        if scene is not None:
            return scene
    return None


def _check_value(name: str, value: Any, prop: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    errors: list[str] = []
    refs = [r["$ref"].rsplit("/", 1)[-1] for r in prop.get("allOf", []) if "$ref" in r]
    definitions = schema.get("definitions", {})
    enum_defs = [definitions[r] for r in refs if "anyOf" in definitions.get(r, {})]
    expected = prop.get("type")
    if enum_defs:
        allowed = [o["const"] for o in enum_defs[0]["anyOf"]]
        if value not in allowed:
            errors.append(f"Parameter '{name}' must be one of {allowed}, got {value!r}")
        return errors
    if expected == "string":
        if not isinstance(value, str):
            return [f"Parameter '{name}' must be a string"]
        if prop.get("format") == "date-time":
            try:
                parse_datetime(value)
            except ValueError:
                errors.append(f"Parameter '{name}' must be an RFC 3339 date-time, got {value!r}")
    elif expected in ("integer", "number"):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (expected == "integer" and not float(value).is_integer())
        ):
            return [
                f"Parameter '{name}' must be an {expected}"
                if expected == "integer"
                else f"Parameter '{name}' must be a number"
            ]
        if "minimum" in prop and value < prop["minimum"]:
            errors.append(f"Parameter '{name}' must be >= {prop['minimum']}, got {value}")
        if "maximum" in prop and value > prop["maximum"]:
            errors.append(f"Parameter '{name}' must be <= {prop['maximum']}, got {value}")
    return errors


def validate_order_params(
    data_product: str | Mapping[str, Any], params: Any, *, catalog: Catalog | None = None
) -> list[str]:
    """Readable reasons why ``params`` cannot be ordered for ``data_product`` (empty list = valid).

    ``data_product`` is a data product id or an E19 item. Archive image ids are resolved with
    ``catalog`` (or any live catalogue whose seed produced the id).
    """
    entry = _resolve_product(data_product)
    if entry is None:
        return [f"Data product '{data_product}' not found"]
    item, pspec = entry
    spec = SPECS[pspec.collection]
    if not pspec.integrated:
        return [
            f"Data product '{item['id']}' ({spec.title} {pspec.title}) is not integrated and cannot be "
            "ordered through the API"
        ]
    if not isinstance(params, Mapping):
        return ["Order 'params' must be an object"]
    schema = order_schema(item["id"]) or {}
    properties = schema.get("properties", {})
    errors: list[str] = []
    for name in schema.get("required", []):
        if params.get(name) is None:
            errors.append(
                f"Missing required parameter '{name}' ({properties.get(name, {}).get('title', name)})"
            )
    errors.extend(f"Unknown parameter '{k}'" for k in params if k not in properties)
    geometry_key = "geometry" if spec.type == "TASKING" else "aoi"
    geom: BaseGeometry | None = None
    for name, value in params.items():
        if value is None or name not in properties:
            continue
        if name == geometry_key:
            allow = ("Polygon", "Point") if "Point" in schema.get("definitions", {}) else ("Polygon",)
            try:
                geom = parse_geometry(value, f"Parameter '{name}'", allow=allow)
            except ValueError as exc:
                errors.append(str(exc))
            continue
        errors.extend(_check_value(name, value, properties[name], schema))

    if spec.type == "ARCHIVE":
        image_id = params.get("id")
        if isinstance(image_id, str):
            scene = _find_scene(image_id, catalog)
            if scene is None:
                errors.append(f"Image '{image_id}' not found in the catalog")
            elif scene.collection != spec.name:
                errors.append(
                    f"Image '{image_id}' belongs to collection '{scene.collection}', "
                    f"not to '{spec.name}' of this data product"
                )
            elif geom is not None and not geom.intersects(shape(scene.geometry)):
                errors.append(f"Parameter 'aoi' does not intersect the footprint of image '{image_id}'")
        elif image_id is not None:
            errors.append("Parameter 'id' must be a string")
    else:
        try:
            a = params.get("acquisitionStart")
            b = params.get("acquisitionEnd")
            if isinstance(a, str) and isinstance(b, str) and parse_datetime(a) >= parse_datetime(b):
                errors.append("Parameter 'acquisitionStart' must be before 'acquisitionEnd'")
        except ValueError:
            pass  # already reported as a format error
    return errors


def estimate_order_credits(
    data_product: str | Mapping[str, Any], params: Mapping[str, Any], *, catalog: Catalog | None = None
) -> int:
    """Credits an order costs (E24, and what E23 charges). Call validate_order_params first.

    Archive: km² of AOI ∩ image footprint (at least the collection minimum) * price per km².
    Tasking: km² of the geometry (a Point counts as the minimum) * price per km².
    Raises ValueError when the parameters are too broken to price.
    """
    entry = _resolve_product(data_product)
    if entry is None:
        raise ValueError(f"Data product '{data_product}' not found")
    _, pspec = entry
    spec = SPECS[pspec.collection]
    if spec.type == "ARCHIVE":
        scene = _find_scene(params.get("id"), catalog)
        if scene is None:
            raise ValueError(f"Image '{params.get('id')}' not found in the catalog")
        footprint = shape(scene.geometry)
        aoi = params.get("aoi")
        area_geom = footprint if aoi is None else parse_geometry(aoi, "aoi").intersection(footprint)
        area = area_km2(area_geom)
    else:
        geometry = params.get("geometry")
        area = area_km2(parse_geometry(geometry, "geometry", allow=("Polygon", "Point"))) if geometry else 0.0
    return math.ceil(max(area, spec.min_area_km2) * spec.price_per_km2 * pspec.price_factor)
