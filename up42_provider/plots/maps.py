"""Interactive HTML maps with folium (Leaflet): footprints, raster previews and quicklooks.

Each map is one self-contained file: Leaflet (vendored in ``vendor/leaflet``, BSD-2-Clause) is inlined
and folium's other CDN assets (jQuery, Bootstrap, Font Awesome), which these maps do not use, are left
out, so a map opened without internet still shows its footprints and images; only the OpenStreetMap
background tiles need a connection.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from up42_provider.plots._io import features_of, read_bytes, require, sort_sources, write_output

MAX_OVERLAYS = 16
OVERLAY_PIXELS = 256
TOOLTIP_FIELDS = ("id", "acquisitionDate", "collection", "cloudCoverage", "job_id", "up42.data_path")
LEAFLET = Path(__file__).parent / "vendor" / "leaflet"


@functools.cache
def _leaflet() -> tuple[str, str]:
    """(CSS, JS) of the vendored Leaflet, the CSS's images as data URIs."""
    css = (LEAFLET / "leaflet.css").read_text()
    for image in sorted((LEAFLET / "images").glob("*.png")):
        data = base64.b64encode(image.read_bytes()).decode()
        css = css.replace(f"url(images/{image.name})", f"url(data:image/png;base64,{data})")
    return css, (LEAFLET / "leaflet.js").read_text()


def _inline_assets(fmap: Any) -> None:
    """Leaflet inside the page instead of folium's CDN links (see the module docstring)."""
    import folium

    css, js = _leaflet()
    fmap.default_js, fmap.default_css = [], []
    header = fmap.get_root().header
    header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css")
    header.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js")


def _bounds(features: Sequence[dict[str, Any]]) -> list[list[float]] | None:
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            xs.append(float(coords[0]))
            ys.append(float(coords[1]))
        else:
            for part in coords or []:
                walk(part)

    for feature in features:
        walk((feature.get("geometry") or {}).get("coordinates"))
    return [[min(ys), min(xs)], [max(ys), max(xs)]] if xs else None


def _map(features: Sequence[dict[str, Any]]) -> Any:
    require("folium")
    import folium

    bounds = _bounds(features)
    center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2] if bounds else [0, 0]
    fmap = folium.Map(location=center, zoom_start=10 if bounds else 2, tiles="OpenStreetMap")
    _inline_assets(fmap)
    if bounds:
        fmap.fit_bounds(bounds)
    return fmap


def _footprints(fmap: Any, features: Sequence[dict[str, Any]], name: str, color: str = "#1f77b4") -> None:
    import folium

    if not features:
        return
    clean = []
    for index, feature in enumerate(features):
        props = feature.get("properties") or {}
        # Leaflet/folium read dotted keys as paths: "up42.data_path" becomes "up42_data_path".
        kept = {k.replace(".", "_"): str(props[k]) for k in TOOLTIP_FIELDS if props.get(k) is not None}
        clean.append(
            {"type": "Feature", "id": str(index), "geometry": feature["geometry"], "properties": kept}
        )
    names = [k.replace(".", "_") for k in TOOLTIP_FIELDS]
    fields = [k for k in names if all(k in f["properties"] for f in clean)]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": clean},
        name=name,
        style_function=lambda _: {"color": color, "weight": 2, "fillOpacity": 0.1},
        tooltip=folium.GeoJsonTooltip(fields=fields) if fields else None,
    ).add_to(fmap)


def _html(fmap: Any) -> bytes:
    import folium

    folium.LayerControl().add_to(fmap)
    return fmap.get_root().render().encode("utf-8")


def map_results(sources: Any, output: Any, *, conn_id: str | None = None, rasters: bool = True) -> str:
    """An HTML map of result footprints (from ``data.json``/FeatureCollections) with previews
    of up to 16 rasters laid over their bounds; returns its URI."""
    raster_uris, features = sort_sources(sources, conn_id)
    fmap = _map(features)
    _footprints(fmap, features, "footprints")
    if rasters:
        import folium
        from rasterio.warp import transform_bounds

        from up42_provider.plots.static import read_preview

        for uri in raster_uris[:MAX_OVERLAYS]:
            image, bounds, crs = read_preview(uri, conn_id, OVERLAY_PIXELS)
            west, south, east, north = transform_bounds(crs, "EPSG:4326", *bounds) if crs else tuple(bounds)
            folium.raster_layers.ImageOverlay(
                image, bounds=[[south, west], [north, east]], name=uri.rsplit("/", 1)[-1], opacity=0.8
            ).add_to(fmap)
    return write_output(output, _html(fmap), conn_id)


def map_quicklooks(
    quicklook_uris: Sequence[str], search_results: Any, output: Any, *, conn_id: str | None = None
) -> str:
    """An HTML map with catalog quicklooks (``quicklook_<image id>.jpg``) laid over the footprints
    of the search results; returns its URI."""
    features = features_of(search_results, conn_id)
    fmap = _map(features)
    _footprints(fmap, features, "footprints")
    by_id = {str((f.get("properties") or {}).get("id")): f for f in features}
    import folium

    for uri in list(quicklook_uris)[:MAX_OVERLAYS]:
        name = uri.rsplit("/", 1)[-1]
        image_id = name.removeprefix("quicklook_").rsplit(".", 1)[0]
        bounds = _bounds([by_id[image_id]]) if image_id in by_id else None
        if bounds is None:
            continue
        mime = "image/png" if name.lower().endswith(".png") else "image/jpeg"
        data = base64.b64encode(read_bytes(uri, conn_id)).decode()
        folium.raster_layers.ImageOverlay(
            f"data:{mime};base64,{data}", bounds=bounds, name=image_id, opacity=0.9
        ).add_to(fmap)
    return write_output(output, _html(fmap), conn_id)
