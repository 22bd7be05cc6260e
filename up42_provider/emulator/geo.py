"""The one GeoJSON/geometry and time parsing of the emulator (both generations).

Every parser raises ``ValueError`` with a message that names the problem; callers turn it into
their own error (a catalog ``SearchError``, a 400 via ``http.bad_request``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

UTC = timezone.utc


def area_km2(geometry: Mapping[str, Any] | BaseGeometry, *, km_per_degree_lat: float = 110.574) -> float:
    """Approximate area in km² of a lon/lat geometry (local equirectangular scaling; fine for AOIs).

    ``km_per_degree_lat`` is the length of a degree of latitude; the 2023 workflow AOI limit
    (``workflows.models``) counts 111.32 km, a degree of longitude at the equator.
    """
    geom = geometry if isinstance(geometry, BaseGeometry) else shape(geometry)
    if geom.is_empty:
        return 0.0
    lat0 = math.radians(geom.centroid.y)
    scaled = shapely.transform(geom, lambda c: c * np.array([111.320 * math.cos(lat0), km_per_degree_lat]))
    return float(scaled.area)


GEOMETRY_MESSAGES: Mapping[str, str] = {
    "object": "{what} must be a GeoJSON geometry object",
    "type": "{what} must be a GeoJSON {allowed}, got {type!r}",
    "malformed": "{what} has malformed coordinates ({detail})",
    "empty": "{what} is empty",
    "finite": "{what} has non-finite coordinates",
    "range": "{what} coordinates must be longitude/latitude in EPSG:4326 (lon -180..180, lat -90..90)",
    "valid": "{what} is not a valid geometry ({detail})",
}
"""The wording of :func:`parse_geometry`'s refusals, by reason (format fields: ``what``, ``allowed``,
``type``, ``detail``); a caller that words them otherwise passes its own table."""


def parse_geometry(
    value: Any,
    what: str,
    *,
    allow: Sequence[str] | None = ("Polygon",),
    checked: bool = True,
    messages: Mapping[str, str] = GEOMETRY_MESSAGES,
) -> BaseGeometry:
    """A GeoJSON geometry dict -> shapely, or ValueError with a readable reason.

    ``allow`` lists the accepted geometry types (None: whatever shapely reads). ``checked``
    also requires finite EPSG:4326 coordinates and a valid geometry; storage's STAC search
    (``stac_query.parse_geometry``) only needs a non-empty geometry.
    """

    def refuse(reason: str, **fields: Any) -> ValueError:
        allowed = " or ".join(allow or ())
        return ValueError(messages[reason].format(what=what, allowed=allowed, **fields))

    if allow is not None:
        if not isinstance(value, Mapping):
            raise refuse("object")
        if value.get("type") not in allow:
            raise refuse("type", type=value.get("type"))
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise refuse("malformed", detail=exc) from None
    if geom.is_empty:
        raise refuse("empty")
    if not checked:
        return geom
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise refuse("finite")
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise refuse("range")
    if not geom.is_valid:
        raise refuse("valid", detail=shapely.is_valid_reason(geom))
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


INTERVAL_MESSAGES: Mapping[str, str] = {
    "shape": "datetime must be an RFC 3339 timestamp or an interval 'start/end' ('..' for open ends)",
    "parts": "Invalid datetime interval {value!r}",
    "instant": "Invalid datetime {value!r}: {detail}",
    "ends": "Invalid datetime {value!r}: {detail}",
    "open": "Invalid datetime interval {value!r}: both ends are open",
    "order": "Invalid datetime interval {value!r}: start is after end",
}
"""The wording of :func:`parse_interval`'s refusals, by reason (format fields: ``value``, ``detail``);
the catalog search answers these, storage's STAC search its own (``stac_query.INTERVAL_MESSAGES``)."""


def parse_interval(
    value: Any,
    *,
    parse: Callable[[str], datetime] = parse_datetime,
    open_both: bool = True,
    messages: Mapping[str, str] = INTERVAL_MESSAGES,
) -> tuple[datetime | None, datetime | None]:
    """A STAC ``datetime``: an instant or ``start/end`` (``..`` or empty for an open end).

    ``parse`` reads one timestamp. With ``open_both`` an interval without any bound (None,
    ``../..``) means no filter, ``(None, None)``; without it, it is refused.
    """

    def refuse(reason: str, detail: Any = None) -> ValueError:
        return ValueError(messages[reason].format(value=value, detail=detail))

    if value is None and open_both:
        return None, None
    if not isinstance(value, str) or not value.strip():
        raise refuse("shape")
    parts = value.split("/")
    if len(parts) > 2:
        raise refuse("parts")
    if len(parts) == 1:
        try:
            instant = parse(value)
        except ValueError as exc:
            raise refuse("instant", exc) from None
        return instant, instant
    try:
        start, end = (None if p.strip() in ("", "..") else parse(p) for p in parts)
    except ValueError as exc:
        raise refuse("ends", exc) from None
    if start is None and end is None and not open_both:
        raise refuse("open")
    if start and end and start > end:
        raise refuse("order")
    return start, end
