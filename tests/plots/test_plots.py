"""The pictures: HTML maps show their data without internet, PNGs name scenes and keep the ground aspect.

Maps are opened in headless Chromium with the network off and their Leaflet layers counted in the
DOM; screenshots are kept in test-artifacts/plots/ to look at.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_bounds

from tests.browser import artifacts, run_chromium
from up42_provider import plots
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.plots._io import scene_facts, scene_title

BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.51], [13.41, 52.51], [13.41, 52.53], [13.37, 52.53], [13.37, 52.51]]],
}
RED = (255, 0, 0)


@pytest.fixture(scope="module")
def scenes(emulator, tmp_path_factory) -> dict[str, Any]:
    """A real catalog search over Berlin: eight scenes of one place, footprints overlapping."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection())
    try:
        found = UP42Hook().search(
            {
                "collections": ["phr"],
                "intersects": BERLIN,
                "datetime": "2023-01-01T00:00:00Z/2023-12-31T23:59:59Z",
                "limit": 8,
            }
        )
    finally:
        mp.undo()
    assert len(found["features"]) >= 3
    return found


def _geotiff(path: Path, bounds: tuple[float, float, float, float], width: int, height: int) -> Path:
    """A pure red 3-band GeoTIFF in EPSG:4326 over ``bounds`` (west, south, east, north)."""
    data = np.zeros((3, height, width), dtype="uint8")
    data[0] = 255
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=3,
        dtype="uint8",
        crs="EPSG:4326",
        transform=from_bounds(*bounds, width, height),
    ) as dst:
        dst.write(data)
    return path


def _jpeg(path: Path) -> Path:
    Image.new("RGB", (64, 64), (30, 120, 200)).save(path, "JPEG")
    return path


def _red_box(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of the red area of a PNG."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
    rows, cols = np.nonzero(red)
    return int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)


def _leaflet_layers(html_path: Path, name: str) -> tuple[int, int]:
    """(vector paths, image overlays) Leaflet drew in Chromium with the network off; screenshot kept."""
    dom = run_chromium(html_path.as_uri(), "--dump-dom")
    run_chromium(html_path.as_uri(), f"--screenshot={artifacts('plots') / f'{name}.png'}")
    paths = len(re.findall(r"<path[^>]*leaflet-interactive", dom))
    images = len(re.findall(r"<img[^>]*leaflet-image-layer", dom))
    return paths, images


def test_maps_are_self_contained(scenes, tmp_path):
    html = Path(plots.map_quicklooks([], scenes, str(tmp_path / "map.html"))).read_text()
    assert not re.findall(r"<script[^>]+src=|<link[^>]+href=", html), "a map must load nothing from a CDN"
    assert "L.map(" in html and "Leaflet" in html


def test_quicklook_map_renders_offline(scenes, tmp_path):
    first = scenes["features"][0]["properties"]["id"]
    quicklook = _jpeg(tmp_path / f"quicklook_{first}.jpg")
    out = Path(plots.map_quicklooks([str(quicklook)], scenes, str(tmp_path / "quicklooks.html")))
    paths, images = _leaflet_layers(out, "quicklooks-offline")
    assert paths == len(scenes["features"])
    assert images == 1


def test_results_map_renders_offline(tmp_path):
    _geotiff(tmp_path / "scene.tif", (13.37, 52.51, 13.41, 52.53), 80, 40)
    footprint = {"type": "Feature", "geometry": BERLIN, "properties": {"up42.data_path": "scene.tif"}}
    (tmp_path / "data.json").write_text(json.dumps({"type": "FeatureCollection", "features": [footprint]}))
    out = Path(plots.map_results([str(tmp_path / "data.json")], str(tmp_path / "results.html")))
    assert _leaflet_layers(out, "results-offline") == (1, 1)


def test_results_plot_keeps_the_ground_aspect(tmp_path):
    """0.02 x 0.01 degrees at 60 N is a square on the ground (cos 60 = 1/2): drawn square, not 2:1."""
    raster = _geotiff(tmp_path / "north.tif", (10.0, 60.0, 10.02, 60.01), 200, 100)
    out = plots.plot_results([str(raster)], str(tmp_path / "results.png"))
    (artifacts("plots") / "results-aspect.png").write_bytes(Path(out).read_bytes())
    width, height = _red_box(Path(out).read_bytes())
    assert width / height == pytest.approx(1.0, abs=0.06), (width, height)


def test_scene_titles_name_the_scene(scenes):
    props = scenes["features"][0]["properties"]
    title = scene_title(props, "fallback.tif")
    name = props["providerProperties"]["sourceIdentifier"]
    assert title.splitlines()[0] == name  # the provider's scene name, whole
    assert props["acquisitionDate"][:10] in title and props["providerProperties"]["platform"] in title
    assert scene_title({}, "c7158f11-92d2-59b6-b363-da3780e96e86_0-0.tif") == (
        "c7158f11-92d2-59b6-b363-da3780e96e86_0-0.tif"
    )


def test_coverage_legend_tells_overlapping_scenes_apart(scenes, tmp_path):
    facts = [scene_facts(f["properties"]) for f in scenes["features"]]
    assert len(set(facts)) == len(facts), facts  # one distinct legend entry per scene
    out = plots.plot_coverage(scenes, BERLIN, str(tmp_path / "coverage.png"))
    (artifacts("plots") / "coverage.png").write_bytes(Path(out).read_bytes())
    ql = _jpeg(tmp_path / f"quicklook_{scenes['features'][0]['properties']['id']}.jpg")
    mosaic = plots.plot_quicklooks([str(ql)], str(tmp_path / "ql.png"), search_results=scenes)
    (artifacts("plots") / "quicklooks.png").write_bytes(Path(mosaic).read_bytes())
