"""Quicklooks: a plausible, deterministic JPEG preview of a scene."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from up42_provider.emulator.world.scenes import Scene


def render_quicklook(scene: Scene, size: int = 256) -> bytes:
    """A plausible, deterministic RGB preview: smooth terrain colours with clouds per cloud cover."""
    rng = np.random.default_rng(scene.key)

    def field(cells: int) -> np.ndarray:
        coarse = (rng.random((cells, cells)) * 255).astype(np.uint8)
        smooth = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(smooth, dtype=np.float64) / 255.0

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
