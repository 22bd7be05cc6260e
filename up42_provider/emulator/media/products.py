"""Real delivery files of the emulator: Cloud-Optimized GeoTIFFs, order ZIPs, job result tarballs, quicklooks.

Clients and the hook open what they download (rasterio, zip/tar extraction), so the files must be
genuine, not placeholders. Pixels come from a synthetic "world" defined in geographic coordinates:
the same place looks the same in every product (an AOI crop matches the full scene), while the
seed varies the acquisition (crop phenology, haze, sensor noise). Everything is deterministic per
seed, down to the archive bytes (fixed timestamps, no random temp names inside the archives).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import shutil
import tarfile
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from rasterio.enums import ColorInterp
from rasterio.features import geometry_mask
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

BAND_NAMES = ("blue", "green", "red", "nir", "swir16", "swir22")
# Surface reflectance x 10000 per land-cover class, in BAND_NAMES order.
_SPECTRA = np.array(
    [
        [520, 610, 380, 210, 120, 80],  # 0 water
        [260, 470, 310, 3100, 1450, 620],  # 1 forest
        [360, 720, 460, 4300, 2100, 980],  # 2 green crop
        [720, 960, 1240, 2750, 3300, 2500],  # 3 ripe crop
        [930, 1160, 1470, 2050, 3100, 2700],  # 4 bare soil
        [460, 810, 660, 3050, 2500, 1500],  # 5 grassland
        [1120, 1160, 1260, 1720, 2050, 1900],  # 6 built-up
    ],
    dtype=np.float32,
)
_FIELD_CLASSES = np.array([2, 2, 3, 4, 5, 3, 4, 2], dtype=np.int64)
_WORLD_SALT = 0x5EED_0F_0042  # the world's layout; the seed only varies the acquisition
_NAMESPACE = uuid.UUID("7d3c8f0e-6b1a-4d2e-9a57-0e42c0ffee42")
_ARCHIVE_TIME = (2024, 1, 1, 0, 0, 0)  # fixed member timestamps keep archives byte-identical per seed
MIB = 1 << 20
_PAD_BLOCK = 16 * MIB
_PAD_SLICE = 8 * MIB


# -- deterministic noise in geographic space ----------------------------------------------------
def _hash01(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) values from integer lattice coordinates (splitmix-style integer hash)."""
    h = ix.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    h = h ^ (iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    h = h ^ (h >> np.uint64(33))
    return (h >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)


def _value_noise(lon: np.ndarray, lat: np.ndarray, spacing: float, salt: int) -> np.ndarray:
    """Smooth noise in [-1, 1] with lattice ``spacing`` degrees; ``lon``/``lat`` broadcast to (h, w)."""
    x, y = lon / spacing, lat / spacing
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    # Hash only the lattice nodes in range, then look the corners up (cheap for separable grids).
    xs = np.arange(x0.min(), x0.max() + 2, dtype=np.int64)
    ys = np.arange(y0.min(), y0.max() + 2, dtype=np.int64)
    lattice = _hash01(xs[None, :], ys[:, None], salt)
    ci, ri = (x0 - xs[0]).astype(np.intp), (y0 - ys[0]).astype(np.intp)
    v00, v10 = lattice[ri, ci], lattice[ri, ci + 1]
    v01, v11 = lattice[ri + 1, ci], lattice[ri + 1, ci + 1]
    top = v00 + (v10 - v00) * fx
    bottom = v01 + (v11 - v01) * fx
    return (top + (bottom - top) * fy) * 2 - 1


def _fractal(lon: np.ndarray, lat: np.ndarray, base: float, finest: float, salt: int) -> np.ndarray:
    total: np.ndarray | float = 0.0
    weight, norm, spacing, octave = 1.0, 0.0, base, 0
    while True:
        total = total + weight * _value_noise(lon, lat, spacing, salt + 7919 * octave)
        norm += weight
        spacing, weight, octave = spacing / 2, weight * 0.5, octave + 1
        if spacing < finest or octave >= 9:
            break
    return np.asarray(total / norm, dtype=np.float32)


def _reflectance(bounds: Sequence[float], width: int, height: int, seed: int, bands: int) -> np.ndarray:
    """Plausible surface reflectance (x 10000), shape (bands, height, width), float32."""
    minx, miny, maxx, maxy = bounds
    px, py = (maxx - minx) / width, (maxy - miny) / height
    lon = (minx + (np.arange(width, dtype=np.float64) + 0.5) * px)[None, :]
    lat = (maxy - (np.arange(height, dtype=np.float64) + 0.5) * py)[:, None]
    finest = 4 * max(px, py)
    terrain = _fractal(lon, lat, 0.08, finest, _WORLD_SALT)
    woods = _fractal(lon, lat, 0.03, finest, _WORLD_SALT + 1)
    town = _fractal(lon, lat, 0.05, finest * 4, _WORLD_SALT + 2)
    # Fields: a warped grid of parcels (~400 m), each with its own crop state for this acquisition.
    warp_x = _value_noise(lon, lat, 0.02, _WORLD_SALT + 3) * 0.0015
    warp_y = _value_noise(lon, lat, 0.02, _WORLD_SALT + 4) * 0.0015
    fx = np.floor((lon + warp_x) / 0.0042).astype(np.int64)
    fy = np.floor((lat + warp_y) / 0.0031).astype(np.int64)
    parcel = _hash01(fx, fy, _WORLD_SALT + 5 + 1_000_003 * seed)
    classes = _FIELD_CLASSES[(parcel * len(_FIELD_CLASSES)).astype(np.int64) % len(_FIELD_CLASSES)]
    classes = np.broadcast_to(classes, (height, width)).copy()
    classes[woods > 0.28] = 1
    classes[town > 0.45] = 6
    classes[terrain < -0.3] = 0
    spectra = _SPECTRA[:, :bands]
    image: np.ndarray = spectra[classes]  # (h, w, bands)
    rng = np.random.default_rng(seed)
    brightness = 1 + 0.12 * terrain + 0.05 * (parcel - 0.5) + 0.04 * _value_noise(lon, lat, 0.0006, seed)
    haze = np.float32(rng.uniform(0, 180)) * (1 - np.arange(bands, dtype=np.float32) / 8)
    image = image * brightness[..., None] + haze
    image += rng.normal(0, 3, size=image.shape).astype(np.float32)  # sensor noise
    return np.moveaxis(image, -1, 0)


# -- geometry helpers ----------------------------------------------------------------------------
def _shape(obj: Any) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry, Feature, FeatureCollection or shapely object."""
    if isinstance(obj, BaseGeometry):
        return obj
    kind = obj.get("type")
    if kind == "FeatureCollection":
        return unary_union([_shape(f) for f in obj["features"]])
    if kind == "Feature":
        return shape(obj["geometry"])
    return shape(obj)


def _geojson(geom: BaseGeometry) -> dict[str, Any]:
    return json.loads(json.dumps(mapping(geom)))


def raster_size(bounds: Sequence[float], resolution_m: float, max_pixels: int) -> tuple[int, int]:
    """(width, height) for ``bounds`` at about ``resolution_m``, the longer side capped at ``max_pixels``."""
    minx, miny, maxx, maxy = bounds
    lat = math.radians((miny + maxy) / 2)
    width = (maxx - minx) * 111_320 * max(math.cos(lat), 0.01) / resolution_m
    height = (maxy - miny) * 110_574 / resolution_m
    scale = max(width, height, 1) / max_pixels
    if scale > 1:
        width, height = width / scale, height / scale
    return max(16, math.ceil(width)), max(16, math.ceil(height))


# -- products ------------------------------------------------------------------------------------
def write_cog(
    path: str | Path,
    geometry: Any,
    seed: int,
    *,
    bands: int = 4,
    resolution_m: float = 10.0,
    max_pixels: int = 1024,
) -> None:
    """Write a uint16 COG in EPSG:4326 over the geometry's bounds; nodata (0) outside the polygon."""
    if not 1 <= bands <= len(BAND_NAMES):
        raise ValueError(f"bands must be between 1 and {len(BAND_NAMES)}")
    geom = _shape(geometry)
    if geom.is_empty or geom.area == 0:
        raise ValueError("geometry must be a non-empty polygon")
    bounds = geom.bounds
    width, height = raster_size(bounds, resolution_m, max_pixels)
    minx, miny, maxx, maxy = bounds
    transform = Affine((maxx - minx) / width, 0, minx, 0, -(maxy - miny) / height, maxy)
    data = np.clip(np.rint(_reflectance(bounds, width, height, seed, bands)), 1, 65535).astype(np.uint16)
    outside = geometry_mask([mapping(geom)], out_shape=(height, width), transform=transform, all_touched=True)
    data[:, outside] = 0
    profile = {
        "driver": "COG",
        "width": width,
        "height": height,
        "count": bands,
        "dtype": "uint16",
        "crs": "EPSG:4326",
        "transform": transform,
        "nodata": 0,
        "compress": "DEFLATE",
        "predictor": 2,
        "blocksize": 256,
        "overviews": "AUTO",
        "overview_resampling": "AVERAGE",
        "bigtiff": "IF_SAFER",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for index, name in enumerate(BAND_NAMES[:bands], start=1):
            dst.set_band_description(index, name)
        dst.scales = (0.0001,) * bands
        if bands >= 3:
            rgb = [ColorInterp.blue, ColorInterp.green, ColorInterp.red]
            dst.colorinterp = rgb + [ColorInterp.undefined] * (bands - 3)
        dst.update_tags(PROCESSING_LEVEL="L2A", PRODUCER="up42-emulator", SEED=str(seed))


def _rgb(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A true-colour view (uint8, h x w x 3) of a synthetic scene chosen by ``seed``."""
    width, height = size
    rng = np.random.default_rng(seed)
    lon0, lat0 = rng.uniform(-10, 30), rng.uniform(35, 60)
    span = 0.02 * width / max(width, height)
    bounds = (lon0, lat0, lon0 + span, lat0 + span * height / width)
    refl = _reflectance(bounds, width, height, seed, 3)
    rgb = np.moveaxis(refl[[2, 1, 0]], 0, -1) / 2200.0
    return (np.clip(rgb, 0, 1) ** (1 / 1.8) * 255).astype(np.uint8)


def quicklook_jpeg(seed: int, size: tuple[int, int] = (256, 256)) -> bytes:
    """A JPEG quicklook (``size`` = width, height), deterministic per seed."""
    buf = io.BytesIO()
    Image.fromarray(_rgb(seed, size), "RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def quicklook_png(seed: int, size: tuple[int, int] = (256, 256)) -> bytes:
    """A PNG quicklook (``size`` = width, height), deterministic per seed."""
    buf = io.BytesIO()
    Image.fromarray(_rgb(seed, size), "RGB").save(buf, "PNG", optimize=False)
    return buf.getvalue()


# -- data.json -----------------------------------------------------------------------------------
def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed for a sub-product (one per scene or output item)."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def item_id(seed: int, *parts: object) -> str:
    """The stable output id that names an item's folder and file inside an archive."""
    return str(uuid.uuid5(_NAMESPACE, repr((seed, *parts))))


def data_path(output_id: str) -> str:
    """``properties["up42.data_path"]`` of an item (relative to ``output/``)."""
    return f"{output_id}/{output_id}_0-0.tif"


def scene_id(feature: Mapping[str, Any]) -> str:
    props = feature.get("properties") or {}
    return str(props.get("id") or feature.get("id") or props.get("sceneId") or "scene")


def output_feature(feature: Mapping[str, Any], output_id: str, geometry: Any = None) -> dict[str, Any]:
    """A data.json feature: the input's metadata plus ``up42.data_path``, with the delivered geometry."""
    geom = _shape(geometry if geometry is not None else feature)
    props = dict(feature.get("properties") or {})
    props["up42.data_path"] = data_path(output_id)
    return {"type": "Feature", "bbox": list(geom.bounds), "geometry": _geojson(geom), "properties": props}


def feature_collection(features: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [dict(f) for f in features]}


def clip_geometry(footprint: Any, aoi: Any) -> dict[str, Any]:
    """aoi ∩ footprint as GeoJSON, or the footprint when there is no AOI or no polygonal overlap."""
    foot = _shape(footprint)
    if aoi is not None:
        clipped = foot.intersection(_shape(aoi))
        if not clipped.is_empty and clipped.geom_type in ("Polygon", "MultiPolygon") and clipped.area > 0:
            return _geojson(clipped)
    return _geojson(foot)


def order_data_json(feature: Mapping[str, Any], aoi: Any, seed: int) -> dict[str, Any]:
    """data.json of an order archive (no raster work: routes can answer it without building files)."""
    oid = item_id(seed, "order", scene_id(feature))
    return feature_collection([output_feature(feature, oid, clip_geometry(feature, aoi))])


def job_data_json(features: Sequence[Mapping[str, Any]], seed: int) -> dict[str, Any]:
    """data.json of job results; features that already carry ``up42.data_path`` keep their id."""
    out = []
    for index, feature in enumerate(features):
        existing = (feature.get("properties") or {}).get("up42.data_path")
        oid = str(existing).split("/", 1)[0] if existing else item_id(seed, "job", index, scene_id(feature))
        out.append(output_feature(feature, oid))
    return feature_collection(out)


# -- archives ------------------------------------------------------------------------------------
def _items(collection: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    items = []
    for feature in collection["features"]:
        rel = feature["properties"]["up42.data_path"]
        items.append((rel, feature))
    return items


def write_padding(stream: Any, size: int, seed: int) -> None:
    """``size`` deterministic, incompressible bytes, written in 8 MiB slices of a 16 MiB random block.

    Repeating the block keeps 1 GiB+ under a few seconds; its period is far beyond any deflate or
    gzip window, so the filler still does not compress.
    """
    rng = np.random.Generator(np.random.PCG64(derive_seed(seed, "padding")))
    block = memoryview(rng.bytes(min(_PAD_BLOCK, size)))
    offset, remaining = 0, size
    while remaining > 0:
        piece = block[offset : offset + min(_PAD_SLICE, remaining)]
        stream.write(piece)
        remaining -= len(piece)
        offset = (offset + len(piece)) % len(block)


def write_order_archive(
    path: str | Path, feature: Mapping[str, Any], aoi: Any, seed: int, pad_bytes: int = 0
) -> dict[str, Any]:
    """ZIP of an order asset: ``output/data.json`` + ``output/<id>/<id>_0-0.tif`` (+ optional filler).

    ``pad_bytes`` adds a stored member ``output/<id>/<id>_padding.bin`` of that many random bytes so
    that assets can be made large for download benchmarks. Returns the data.json content.
    """
    path = Path(path)
    collection = order_data_json(feature, aoi, seed)
    ((rel, out_feature),) = _items(collection)
    oid = rel.split("/", 1)[0]
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".order-") as tmp:
        tif = Path(tmp) / "image.tif"
        write_cog(tif, out_feature["geometry"], derive_seed(seed, "scene", scene_id(feature)))
        with zipfile.ZipFile(path, "w") as zf:
            for directory in ("output/", f"output/{oid}/"):
                zf.writestr(_zipinfo(directory, 0o40755), b"")
            zf.writestr(_zipinfo("output/data.json"), json.dumps(collection, indent=2), zipfile.ZIP_DEFLATED)
            info = _zipinfo(f"output/{rel}", compress=zipfile.ZIP_DEFLATED)
            with zf.open(info, "w") as out, tif.open("rb") as src:
                shutil.copyfileobj(src, out, MIB)
            if pad_bytes > 0:
                info = _zipinfo(f"output/{oid}/{oid}_padding.bin")
                info.file_size = pad_bytes  # lets zipfile pick ZIP64 for > 2 GiB members up front
                with zf.open(info, "w") as out:
                    write_padding(out, pad_bytes, seed)
    return collection


def _zipinfo(name: str, mode: int = 0o100644, compress: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ARCHIVE_TIME)
    info.external_attr = mode << 16
    info.compress_type = compress
    return info


def write_job_results(path: str | Path, features: Sequence[Mapping[str, Any]], seed: int) -> dict[str, Any]:
    """tar.gz of job results: ``output/data.json`` + ``output/<id>/<id>_0-0.tif`` per feature.

    Returns the data.json content (the same as :func:`job_data_json`).
    """
    path = Path(path)
    collection = job_data_json(features, seed)
    mtime = 1_704_067_200  # 2024-01-01T00:00:00Z, see _ARCHIVE_TIME
    with (
        tempfile.TemporaryDirectory(dir=path.parent, prefix=".job-") as tmp,
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):

        def add(name: str, data: bytes | None = None, file: Path | None = None) -> None:
            info = tarfile.TarInfo(name)
            info.mtime, info.uname, info.gname = mtime, "up42", "up42"
            if data is None and file is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                return
            info.mode = 0o644
            if file is not None:
                info.size = file.stat().st_size
                with file.open("rb") as src:
                    tar.addfile(info, src)
            else:
                assert data is not None
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        add("output")
        add("output/data.json", json.dumps(collection, indent=2).encode())
        for index, (rel, feature) in enumerate(_items(collection)):
            oid = rel.split("/", 1)[0]
            tif = Path(tmp) / f"{index}.tif"
            write_cog(tif, feature["geometry"], derive_seed(seed, "job", oid))
            add(f"output/{oid}")
            add(f"output/{rel}", file=tif)
            tif.unlink()
    return collection
