"""The one GeoJSON/geometry and time parsing of the emulator (both generations).

Every parser raises ``ValueError`` with a message that names the problem; callers turn it into
their own error (a catalog ``SearchError``, a 400 via ``http.bad_request``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

UTC = timezone.utc


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


def parse_bbox(value: Any) -> BaseGeometry:
    """A STAC ``bbox`` (2D or 3D) as a geometry; an antimeridian-crossing box becomes two parts."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) not in (4, 6):
        raise ValueError("bbox must be [minLon, minLat, maxLon, maxLat]")
    try:
        nums = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError("bbox values must be numbers") from None
    minx, miny, maxx, maxy = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError("bbox must be lon/lat in EPSG:4326 with minLat <= maxLat")
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


def parse_interval(value: Any) -> tuple[datetime | None, datetime | None]:
    """A STAC ``datetime``: an instant or ``start/end`` (``..`` or empty for an open end); None: no filter."""
    if value is None:
        return None, None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "datetime must be an RFC 3339 timestamp or an interval 'start/end' ('..' for open ends)"
        )
    parts = value.split("/")
    if len(parts) > 2:
        raise ValueError(f"Invalid datetime interval {value!r}")
    try:
        if len(parts) == 1:
            instant = parse_datetime(parts[0])
            return instant, instant
        start, end = (None if p.strip() in ("", "..") else parse_datetime(p) for p in parts)
    except ValueError as exc:
        raise ValueError(f"Invalid datetime {value!r}: {exc}") from None
    if start and end and start > end:
        raise ValueError(f"Invalid datetime interval {value!r}: start is after end")
    return start, end
