"""PNG renderings with matplotlib (``Figure`` objects only: no pyplot, no global backend state,
safe in worker threads). rasterio is only imported to read rasters."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from up42_provider.plots._io import (
    features_of,
    read_bytes,
    require,
    scene_facts,
    scene_title,
    sort_sources,
    write_output,
)

MAX_PANELS = 16
MAX_LEGEND = 20  # scenes named in the coverage legend; the rest are counted
PREVIEW_PIXELS = 512
FOOTPRINT_COLOR = "#1f77b4"
AOI_COLOR = "#d62728"


def _figure(panels: int, size: float = 4.0) -> tuple[Any, list[Any]]:
    require("matplotlib")
    from matplotlib.figure import Figure

    cols = min(panels, 4) or 1
    rows = max(1, math.ceil(panels / cols))
    fig = Figure(figsize=(size * cols, size * rows), dpi=100, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[panels:]:
        ax.set_axis_off()
    return fig, axes[: max(panels, 1)]


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _rings(geometry: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Exterior rings of a (Multi)Polygon as coordinate lists."""
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        return [[(float(x), float(y)) for x, y, *_ in coords[0]]] if coords else []
    if kind == "MultiPolygon":
        return [[(float(x), float(y)) for x, y, *_ in poly[0]] for poly in coords if poly]
    return []


def _draw(
    ax: Any,
    geometry: dict[str, Any],
    *,
    color: str,
    fill: bool,
    label: str | None = None,
    fill_alpha: float = 0.3,
    linewidth: float = 1.5,
    zorder: float = 1,
) -> None:
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Polygon

    for ring in _rings(geometry):
        ax.add_patch(
            Polygon(
                ring,
                closed=True,
                fill=fill,
                facecolor=to_rgba(color, fill_alpha),
                edgecolor=color,
                linewidth=linewidth,
                label=label,
                zorder=zorder,
            )
        )
        label = None


def _geo_aspect(ax: Any) -> None:
    """Equal ground distances in lon/lat axes (1 / cos(latitude))."""
    ax.autoscale_view()
    lat = sum(ax.get_ylim()) / 2
    ax.set_aspect(1 / max(math.cos(math.radians(lat)), 0.01))


def plot_coverage(
    search_results: Any, aoi: Any, output: Any, *, conn_id: str | None = None, title: str | None = None
) -> str:
    """Scene footprints of a catalog search over the AOI as a PNG; returns its URI.

    Footprints of one place overlap almost exactly, so each is an outline in its own colour, named in
    a legend beside the map (date, platform, cloud cover) rather than by labels piled on the map.
    ``search_results``: the search operator's output (FeatureCollection, or ``{"uri": ...}``), a
    list of features or a GeoJSON URI; ``aoi``: anything ``to_polygon_geojson`` accepts, or None.
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    features = features_of(search_results, conn_id)
    features.sort(key=lambda f: str((f.get("properties") or {}).get("acquisitionDate") or ""))
    fig, (ax,) = _figure(1, size=7)
    fig.set_size_inches(11 if features else 7, 7)
    cmap = colormaps["tab20" if len(features) > 10 else "tab10"]
    palette = [to_hex(cmap(i)) for i in range(cmap.N)]  # the qualitative map's listed colours
    for index, feature in enumerate(features):
        props = feature.get("properties") or {}
        named = index < MAX_LEGEND
        _draw(
            ax,
            feature["geometry"],
            color=palette[index % len(palette)] if named else "#999999",
            fill=False,
            label=scene_facts(props) or str(props.get("id", "")) if named else None,
        )
    if len(features) > MAX_LEGEND:
        ax.plot([], [], color="#999999", label=f"... {len(features) - MAX_LEGEND} more scenes")
    if aoi is not None:
        from up42_provider.utils.geometry import to_polygon_geojson

        _draw(ax, to_polygon_geojson(aoi), color=AOI_COLOR, fill=False, label="AOI", linewidth=2.5, zorder=3)
    _geo_aspect(ax)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    dates = [str((f.get("properties") or {}).get("acquisitionDate") or "")[:10] for f in features]
    span = f", {dates[0]} .. {dates[-1]}" if dates and dates[0] else ""
    ax.set_title(title or f"{len(features)} scene(s){span}")
    if features or aoi is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    return write_output(output, _png(fig), conn_id)


def plot_quicklooks(
    quicklook_uris: Sequence[str],
    output: Any,
    *,
    conn_id: str | None = None,
    titles: Sequence[str] | None = None,
    search_results: Any = None,
) -> str:
    """A mosaic of quicklook images (up to 16) as a PNG; returns its URI.

    Panels are titled by ``titles``, else by the scene (name, date, platform, cloud) of
    ``search_results`` whose id is in the file name (``quicklook_<image id>.jpg``), else by that id.
    """
    from PIL import Image

    scenes = {str((f.get("properties") or {}).get("id")): f for f in features_of(search_results, conn_id)}
    uris = list(quicklook_uris)[:MAX_PANELS]
    fig, axes = _figure(len(uris), size=3.5)
    for index, (ax, uri) in enumerate(zip(axes, uris, strict=False)):
        with Image.open(io.BytesIO(read_bytes(uri, conn_id))) as image:
            image.thumbnail((PREVIEW_PIXELS, PREVIEW_PIXELS))
            ax.imshow(image.convert("RGB"))
        name = uri.rsplit("/", 1)[-1].removeprefix("quicklook_").rsplit(".", 1)[0]
        scene = (scenes.get(name) or {}).get("properties") or {}
        given = titles[index] if titles and index < len(titles) else None
        ax.set_title(given or scene_title(scene, name), fontsize=7)
        ax.set_axis_off()
    return write_output(output, _png(fig), conn_id)


def read_preview(uri: str, conn_id: str | None = None, pixels: int = PREVIEW_PIXELS) -> tuple[Any, Any, Any]:
    """(RGB float array 0-1, bounds, CRS) of a raster, decimated to at most ``pixels`` per side."""
    require("rasterio", "numpy")
    import numpy as np
    from rasterio.enums import Resampling
    from rasterio.io import MemoryFile

    data = read_bytes(uri, conn_id)
    with MemoryFile(data) as memory, memory.open() as src:
        scale = max(src.width, src.height) / pixels
        shape = (max(1, int(src.height / max(scale, 1))), max(1, int(src.width / max(scale, 1))))
        bands = [1, 2, 3] if src.count >= 3 else [1]
        array = src.read(bands, out_shape=(len(bands), *shape), resampling=Resampling.average, masked=True)
        bounds, crs = src.bounds, src.crs
    array = array.astype("float64")
    valid = array.compressed() if np.ma.isMaskedArray(array) else array.ravel()
    low, high = np.percentile(valid, (2, 98)) if valid.size else (0.0, 1.0)
    scaled = np.clip((array.filled(low) if np.ma.isMaskedArray(array) else array) - low, 0, None)
    scaled = np.clip(scaled / max(high - low, 1e-9), 0, 1)
    image = np.moveaxis(scaled, 0, -1)
    if image.shape[-1] == 1:
        image = image[..., 0]
    return image, bounds, crs


def _to_crs(geometry: dict[str, Any], crs: Any) -> dict[str, Any]:
    if crs is None or crs.to_epsg() == 4326:
        return geometry
    from rasterio.warp import transform_geom

    return dict(transform_geom("EPSG:4326", crs, geometry))


def plot_results(sources: Any, output: Any, *, conn_id: str | None = None) -> str:
    """Downloaded rasters (up to 16) with their footprints as a PNG; returns its URI.

    ``sources``: raster URIs, ``data.json`` URIs (their features are the footprints and the
    rasters they reference are drawn) or FeatureCollections - e.g. a download operator's output.
    """
    rasters, features = sort_sources(sources, conn_id)
    rasters = rasters[:MAX_PANELS]
    if not rasters:
        fig, (ax,) = _figure(1, size=7)
        for feature in features:
            _draw(ax, feature["geometry"], color=FOOTPRINT_COLOR, fill=True)
        _geo_aspect(ax)
        ax.set_title(f"{len(features)} footprint(s), no raster")
        return write_output(output, _png(fig), conn_id)
    fig, axes = _figure(len(rasters))
    for ax, uri in zip(axes, rasters, strict=False):
        image, bounds, crs = read_preview(uri, conn_id)
        ax.imshow(
            image,
            extent=(bounds.left, bounds.right, bounds.bottom, bounds.top),
            cmap="gray" if image.ndim == 2 else None,
        )
        stem = uri.rsplit("/", 1)[-1]
        scene: dict[str, Any] = {}
        for feature in features:
            path = str((feature.get("properties") or {}).get("up42.data_path") or "")
            if not path or path.rsplit("/", 1)[-1] == stem:
                _draw(ax, _to_crs(feature["geometry"], crs), color=AOI_COLOR, fill=False)
                scene = scene or dict(feature.get("properties") or {})
        ax.set_xlim(bounds.left, bounds.right)
        ax.set_ylim(bounds.bottom, bounds.top)
        # The raster's true ground aspect: equal metres in a projected CRS, 1 / cos(latitude) in degrees.
        if crs is None or crs.is_geographic:
            _geo_aspect(ax)
        else:
            ax.set_aspect("equal")
        name = scene_title(scene, stem)
        ax.set_title(name if stem in name else f"{name}\n{stem}", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.ticklabel_format(useOffset=False)  # 60.005, not "+6e1" and 0.005
    return write_output(output, _png(fig), conn_id)
