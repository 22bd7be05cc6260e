"""The pixels of processing results: each algorithm reads the input item's GeoTIFF and computes a new one.

Results are derived from the input, never drawn afresh, so a client can check them against what it
sent (an upsampled result has twice the pixels over the same bounds, a vegetation mask is set where
the input's NDVI is high, ...). All outputs are Cloud-Optimized GeoTIFFs like the deliveries
(``media.products.write_cog``). The algorithms are simple stand-ins for the real services:

* ``upsample``: cubic resampling to twice the resolution.
* ``pansharpen``: Brovey transform at twice the resolution against a panchromatic band synthesised
  from the input's bands (weighted by ``greyWeights``, by default equal weights on red, green, blue).
* ``true_color``: red, green, blue stretched to 8 bits (2nd-98th percentile).
* ``mask:<index>``: a one-band 0/1 detection mask (255 = no data) from a spectral rule.
* ``copy``: the input's pixels as they are (orthorectification of an already ortho product).
* ``coregister``: the source resampled onto the reference's grid.
* ``change``: 0/1 mask of NDVI change between source and reference on the reference's grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject

_COG = {
    "driver": "COG",
    "compress": "DEFLATE",
    "blocksize": 256,
    "overviews": "AUTO",
    "overview_resampling": "NEAREST",
    "bigtiff": "IF_SAFER",
}
MASK_NODATA = 255


class Raster:
    """Pixels (bands, height, width) as float32 with NaN as no data, plus georeferencing."""

    def __init__(self, data: np.ndarray, transform: Affine, crs: Any, names: Sequence[str]) -> None:
        self.data, self.transform, self.crs, self.names = data, transform, crs, list(names)

    @classmethod
    def read(cls, path: str, scale: int = 1, resampling: Resampling = Resampling.cubic) -> Raster:
        """Read a GeoTIFF (``/vsizip/...`` paths too), optionally resampled ``scale`` times finer."""
        with rasterio.open(path) as src:
            shape = (src.count, src.height * scale, src.width * scale)
            data = src.read(out_shape=shape, resampling=resampling, masked=True).astype(np.float32)
            transform = src.transform @ Affine.scale(1 / scale)
            names = [d or f"band{i}" for i, d in enumerate(src.descriptions, start=1)]
            return cls(data.filled(np.nan), transform, src.crs, names)

    def band(self, name: str) -> np.ndarray:
        """One band by its description; the Sentinel-style order blue, green, red, nir as fallback."""
        if name in self.names:
            return self.data[self.names.index(name)]
        fallback = {"blue": 0, "green": 1, "red": 2, "nir": 3}
        index = min(fallback.get(name, 0), len(self.data) - 1)
        return self.data[index]

    def onto(self, grid: Raster) -> Raster:
        """These pixels resampled onto ``grid``'s shape and georeferencing (bilinear)."""
        out = np.full((len(self.data), *grid.data.shape[1:]), np.nan, dtype=np.float32)
        for index in range(len(self.data)):
            reproject(
                self.data[index],
                out[index],
                src_transform=self.transform,
                src_crs=self.crs,
                src_nodata=np.nan,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
        return Raster(out, grid.transform, grid.crs, self.names)


def _ndvi(raster: Raster) -> np.ndarray:
    red, nir = raster.band("red"), raster.band("nir")
    with np.errstate(divide="ignore", invalid="ignore"):
        return (nir - red) / (nir + red)


def _brightness(raster: Raster) -> np.ndarray:
    return (raster.band("red") + raster.band("green") + raster.band("blue")) / 3


def _dark(raster: Raster) -> np.ndarray:
    brightness = _brightness(raster)
    valid = brightness[np.isfinite(brightness)]
    return brightness < (np.percentile(valid, 10) if valid.size else 0)


def _water(raster: Raster) -> np.ndarray:
    green, nir = raster.band("green"), raster.band("nir")
    with np.errstate(divide="ignore", invalid="ignore"):
        return (green - nir) / (green + nir) > 0.1


# Detection rules: True where the object class is detected.
MASKS = {
    "vegetation": lambda r: _ndvi(r) > 0.4,
    "built": lambda r: (_ndvi(r) < 0.2) & (_brightness(r) > 900),
    "shadow": _dark,
    "water": _water,
}


def _write(
    path: Path, data: np.ndarray, raster: Raster, names: Sequence[str], nodata: float, dtype: str
) -> None:
    profile = {
        **_COG,
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": dtype,
        "crs": raster.crs,
        "transform": raster.transform,
        "nodata": nodata,
    }
    if dtype != "uint8":
        profile["predictor"] = 2
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for index, name in enumerate(names, start=1):
            dst.set_band_description(index, name)
        dst.update_tags(PRODUCER="up42-emulator")


def _as_uint16(raster: Raster) -> np.ndarray:
    data = np.where(np.isfinite(raster.data), np.clip(np.rint(raster.data), 1, 65535), 0)
    return data.astype(np.uint16)


def _mask(detected: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = np.where(valid, detected.astype(np.uint8), MASK_NODATA).astype(np.uint8)
    return out[None, ...]


def derive(algorithm: str, out: Path, sources: Sequence[str], params: Mapping[str, Any]) -> None:
    """Compute ``algorithm`` over the GeoTIFFs ``sources`` (one, or source + reference) into ``out``."""
    if algorithm == "upsample":
        raster = Raster.read(sources[0], scale=2)
        _write(out, _as_uint16(raster), raster, raster.names, 0, "uint16")
    elif algorithm == "pansharpen":
        sharp = Raster.read(sources[0], scale=2)  # cubic: the detail of the synthetic pan band
        smooth = Raster.read(sources[0], scale=2, resampling=Resampling.bilinear)
        weights = {w["band"]: float(w["weight"]) for w in params.get("greyWeights") or []}
        weights = weights or {"red": 1.0, "green": 1.0, "blue": 1.0}

        def grey(raster: Raster) -> np.ndarray:
            total = sum(raster.band(b) * w for b, w in weights.items())
            return np.asarray(total / (sum(weights.values()) or 1.0))

        pan, base = grey(sharp), grey(smooth)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(base > 0, pan / base, 1.0)
        sharpened = Raster(smooth.data * ratio, smooth.transform, smooth.crs, smooth.names)
        _write(out, _as_uint16(sharpened), sharpened, sharpened.names, 0, "uint16")
    elif algorithm == "true_color":
        raster = Raster.read(sources[0])
        rgb = np.stack([raster.band("red"), raster.band("green"), raster.band("blue")])
        valid = np.all(np.isfinite(rgb), axis=0)
        low, high = (np.percentile(rgb[:, valid], q) for q in (2, 98)) if valid.any() else (0.0, 1.0)
        scaled = np.clip((rgb - low) / max(high - low, 1e-6) * 254 + 1, 1, 255)
        data = np.where(valid, np.rint(scaled), 0).astype(np.uint8)
        _write(out, data, raster, ["red", "green", "blue"], 0, "uint8")
    elif algorithm.startswith("mask:"):
        raster = Raster.read(sources[0])
        valid = np.all(np.isfinite(raster.data), axis=0)
        rule = algorithm.split(":", 1)[1]
        _write(out, _mask(MASKS[rule](raster), valid), raster, [rule], MASK_NODATA, "uint8")
    elif algorithm == "copy":
        raster = Raster.read(sources[0])
        _write(out, _as_uint16(raster), raster, raster.names, 0, "uint16")
    elif algorithm == "coregister":
        reference = Raster.read(sources[1])
        moved = Raster.read(sources[0]).onto(reference)
        _write(out, _as_uint16(moved), moved, moved.names, 0, "uint16")
    elif algorithm == "change":
        reference = Raster.read(sources[1])
        source = Raster.read(sources[0]).onto(reference)
        sensitivity = float(params.get("sensitivity") or 2)
        delta = np.abs(_ndvi(source) - _ndvi(reference))
        valid = np.isfinite(delta)
        _write(out, _mask(delta > 0.6 / sensitivity, valid), reference, ["change"], MASK_NODATA, "uint8")
    else:
        raise ValueError(f"unknown processing algorithm {algorithm!r}")
