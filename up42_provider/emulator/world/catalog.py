"""The emulator's synthetic catalogue: the seeded archive and its search.

Nothing here is stored. The archive is a pure function of the seed: every collection lays a global tile
grid over the Earth and every tile is imaged on a regular revisit cycle since the collection's start. A
scene's attributes (time, clouds, angles, footprint) come from a hash of (seed, collection, tile, pass),
so any AOI over any period finds scenes, searches only touch the tiles under the AOI, and the scene id
itself encodes (collection, tile, pass) — masked with a seed-derived key — so :meth:`Catalog.scene` can
rebuild any scene a search ever returned, without memory and across restarts.
"""

from __future__ import annotations

import math
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, ParamSpec, TypeVar

import numpy as np
import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator import stac_query
from up42_provider.emulator.geo import parse_bbox, parse_geometry, parse_interval
from up42_provider.emulator.http import ApiError
from up42_provider.emulator.world.collections import HOSTS, SPECS, SPECS_BY_INDEX, CollectionSpec
from up42_provider.emulator.world.hashing import MASK64, hash_parts, py_mix, seed_key, unit, units
from up42_provider.emulator.world.pricing import estimate_order_credits, validate_order_params
from up42_provider.emulator.world.quicklooks import render_quicklook
from up42_provider.emulator.world.scenes import Scene

UTC = timezone.utc
P = ParamSpec("P")
R = TypeVar("R")
DAY = 86_400

# Work caps for one search (per collection): beyond them the AOI/period is refused with a 400.
MAX_TILES = 20_000
MAX_PASSES = 4_000_000


def _search_interval(value: Any) -> tuple[datetime | None, datetime | None]:
    try:
        return parse_interval(value)
    except ValueError as exc:
        raise SearchError(str(exc)) from None


def _scene_value(feature: Mapping[str, Any], name: str) -> Any:
    """A property of a scene's feature for the ``query`` extension (its own or a provider property)."""
    props = feature["properties"]
    return props.get(name, props["providerProperties"].get(name))


def _sort_value(scene: Scene, field: str) -> Any:
    return _SORT_FIELDS[field.removeprefix("properties.")](scene)


def _search_bbox(value: Any) -> BaseGeometry:
    try:
        return parse_bbox(value)
    except ValueError as exc:
        raise SearchError(str(exc)) from None


class SearchError(ValueError):
    """A search request the catalogue refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _engine(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``call`` of the query engine (``stac_query``), its 400s as the catalogue's :class:`SearchError`."""
    try:
        return call(*args, **kwargs)
    except ApiError as exc:
        raise SearchError(exc.message, status=exc.status) from None


def _compare(op: str, left: Any, right: Any) -> Any:
    """``left op right`` by the engine's comparison table, elementwise on the archive's arrays."""
    fn = stac_query.comparison(op)
    assert fn is not None  # operators are checked against stac_query.QUERY_OPERATORS
    return fn(left, right)


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
DEFAULT_SORTBY = [{"field": "acquisitionDate", "direction": "desc"}]
# The catalog's wording of the engine's sortby refusals (``stac_query.parse_sortby``).
_SORTBY_MESSAGES = {
    "list": "sortby must be a list of {{field, direction}}",
    "entry": "sortby entries must be objects with 'field' and 'direction'",
    "direction": "sortby direction must be 'asc' or 'desc', got {sent!r}",
    "field": stac_query.SORTBY_MESSAGES["field"],
}
ALL_CATALOGS: weakref.WeakSet[Catalog] = weakref.WeakSet()


class Catalog:
    """The seeded archive. ``now`` bounds the archive (scenes are never in the future)."""

    def __init__(self, seed: int, now: Callable[[], datetime] | None = None) -> None:
        self.seed = int(seed)
        self._now = now or (lambda: datetime.now(UTC))
        self._id_key = seed_key(self.seed, "scene-id")
        self._id_mask_key = seed_key(self.seed, "scene-id-mask")
        self._coll_keys = {s.name: seed_key(self.seed, f"collection:{s.name}") for s in SPECS.values()}
        ALL_CATALOGS.add(self)

    # -- ids -------------------------------------------------------------------------------------------------
    def _encode_id(self, index: int, row: int, col: int, k: int) -> str:
        payload = (index << 44) | (row << 32) | (col << 18) | k  # 4 + 12 + 14 + 18 bits
        tag = py_mix(self._id_key ^ payload) & ((1 << 58) - 1)
        body = payload ^ py_mix(self._id_mask_key ^ tag)
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
        tag, body = v >> 64, v & MASK64
        payload = body ^ py_mix(self._id_mask_key ^ tag)
        if py_mix(self._id_key ^ payload) & ((1 << 58) - 1) != tag or payload >> 48:
            return None
        spec = SPECS_BY_INDEX.get(payload >> 44)
        if spec is None:
            return None
        return spec, (payload >> 32) & 0xFFF, (payload >> 18) & 0x3FFF, payload & 0x3FFFF

    # -- grid ------------------------------------------------------------------------------------------------
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

    # -- per-pass attributes (vectorised) --------------------------------------------------------------------
    def _attributes(
        self, spec: CollectionSpec, rows: np.ndarray, cols: np.ndarray, ks: np.ndarray
    ) -> dict[str, np.ndarray]:
        ckey = self._coll_keys[spec.name]
        tile_h = hash_parts(ckey, rows, cols)
        h = hash_parts(ckey, rows, cols, ks)
        u = units(h, 0, 14)
        rev = spec.revisit_days
        lat_c = spec.lat_min + (rows + 0.5) * spec.tile_deg
        lon_c = -180.0 + (cols + 0.5) * (360.0 / self._ncols(spec, rows))
        phase = np.floor(unit(tile_h, 1) * rev)
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
        u = units(h, 20, 23)
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

    # -- public API ------------------------------------------------------------------------------------------
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
        """All scenes of ``host`` matching a STAC search body (``catalog.responses.search``), filtered and
        sorted.

        Raises :class:`SearchError` (status 404 for an unknown host, 400 for an invalid body).
        """
        if host not in HOSTS:
            raise SearchError(f"Host '{host}' not found", status=404)
        if not isinstance(body, Mapping):
            raise SearchError("Search body must be a JSON object")
        specs = self._collections(host, body.get("collections"))
        aoi = self._aoi(body)
        start, end = _search_interval(body.get("datetime"))
        numeric, usage, generic = self._query(body.get("query"))
        sortby = self._sortby(body.get("sortby"))
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

        return stac_query.sort_items(scenes, sortby, _sort_value, lambda s: s.id)

    def quicklook_jpeg(self, scene_id: str) -> bytes | None:
        """A deterministic JPEG preview of the scene, or None if unknown or without quicklook."""
        scene = self.scene(scene_id)
        if scene is None or not scene.has_quicklook:
            return None
        return render_quicklook(scene)

    # -- search internals ------------------------------------------------------------------------------------
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
            return _search_bbox(body["bbox"])
        return None

    @staticmethod
    def _query(
        value: Any,
    ) -> tuple[list[tuple[str, str, float]], set[str] | None, list[stac_query.Predicate]]:
        """The STAC ``query`` split for the archive: numeric conditions on the attributes it filters
        vectorised, the ``up42:usageType`` set, and the engine's predicates over scene features for
        the rest (``stac_query.compile_query``)."""
        numeric: list[tuple[str, str, float]] = []
        generic: list[stac_query.Predicate] = []
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
                elif op != "in" and op in stac_query.QUERY_OPERATORS and prop in _NUMERIC_QUERY:
                    if isinstance(operand, bool) or not isinstance(operand, (int, float)):
                        raise SearchError(f"query.{prop}.{op} must be a number")
                    numeric.append((prop, op, float(operand)))
                else:
                    generic.append(_engine(stac_query.compile_query, {prop: {op: operand}}, _scene_value))
        return numeric, usage, generic

    @staticmethod
    def _sortby(value: Any) -> list[dict[str, str]]:
        """``sortby`` in its POST form only, over :data:`_SORT_FIELDS` (newest first by default)."""
        if value is None:
            return DEFAULT_SORTBY
        return _engine(
            stac_query.parse_sortby, value, tuple(_SORT_FIELDS), text_form=False, messages=_SORTBY_MESSAGES
        )

    @staticmethod
    def _matches(
        scene: Scene,
        numeric: list[tuple[str, str, float]],
        usage: set[str] | None,
        generic: Sequence[stac_query.Predicate],
    ) -> bool:
        values = {
            "cloudCoverage": scene.cloud_coverage,
            "incidenceAngle": scene.incidence_angle,
            "snowCover": scene.snow_cover,
            "resolution": scene.resolution,
        }
        if not all(_compare(op, values[prop], v) for prop, op, v in numeric):
            return False
        if usage is not None and not usage & set(scene.usage_type):
            return False
        if generic:
            feature = scene.feature()
            return all(test(feature) for test in generic)
        return True

    def _search_collection(
        self,
        spec: CollectionSpec,
        aoi: BaseGeometry | None,
        start: datetime | None,
        end: datetime,
        numeric: list[tuple[str, str, float]],
        usage: set[str] | None,
        generic: list[stac_query.Predicate],
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
            mask &= _compare(op, attrs[_NUMERIC_QUERY[prop]], v)
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

    # -- orders (helpers of placing and estimating) ----------------------------------------------------------
    def estimate_order_credits(self, data_product: str | Mapping[str, Any], params: Mapping[str, Any]) -> int:
        return estimate_order_credits(data_product, params, catalog=self)

    def validate_order_params(self, data_product: str | Mapping[str, Any], params: Any) -> list[str]:
        return validate_order_params(data_product, params, catalog=self)
