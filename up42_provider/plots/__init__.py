"""Renderings of searches, quicklooks and results, written to any ``ObjectStoragePath``.

The SDK's ``plot_coverage`` / ``plot_quicklooks`` / ``plot_results`` / ``map_results`` /
``map_quicklooks`` for Airflow: instead of showing a figure they write a PNG (matplotlib) or an
interactive HTML page (folium/Leaflet) to ``output`` (local path or URI, plus ``conn_id``) and
return its URI. matplotlib, folium and rasterio are optional (``pip install
'airflow-provider-up42[plots]'``) and only imported when a function runs, so importing this
package - or an operator that offers plots - costs nothing.
"""

from __future__ import annotations

from typing import Any

from up42_provider.plots._io import require


def plot_coverage(search_results: Any, aoi: Any, output: Any, **kwargs: Any) -> str:
    """Scene footprints over the AOI (PNG). See :func:`up42_provider.plots.static.plot_coverage`."""
    from up42_provider.plots.static import plot_coverage as run

    return run(search_results, aoi, output, **kwargs)


def plot_quicklooks(quicklook_uris: Any, output: Any, **kwargs: Any) -> str:
    """Mosaic of quicklook images (PNG)."""
    from up42_provider.plots.static import plot_quicklooks as run

    return run(quicklook_uris, output, **kwargs)


def plot_results(sources: Any, output: Any, **kwargs: Any) -> str:
    """Downloaded rasters with their footprints (PNG); ``sources``: raster / data.json URIs."""
    from up42_provider.plots.static import plot_results as run

    return run(sources, output, **kwargs)


def map_results(sources: Any, output: Any, **kwargs: Any) -> str:
    """Interactive map of result footprints and raster previews (HTML)."""
    from up42_provider.plots.maps import map_results as run

    return run(sources, output, **kwargs)


def map_quicklooks(quicklook_uris: Any, search_results: Any, output: Any, **kwargs: Any) -> str:
    """Interactive map of catalog quicklooks over their footprints (HTML)."""
    from up42_provider.plots.maps import map_quicklooks as run

    return run(quicklook_uris, search_results, output, **kwargs)


__all__ = ["map_quicklooks", "map_results", "plot_coverage", "plot_quicklooks", "plot_results", "require"]
