"""Catalog search (``V1.search_catalog``) as a task: find archive images over an AOI and a time window."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator

from up42_provider.hooks import DEFAULT_CONN_ID
from up42_provider.hooks._helpers import SEARCH_ALL
from up42_provider.operators._aoi import resolve_aoi
from up42_provider.operators._common import as_list, as_number, as_positive_int, reject_typos, require
from up42_provider.utils import parameters as P

if TYPE_CHECKING:
    from airflow.sdk import Context

OUTPUT_FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
DEFAULT_LIMIT = 10


def trim_features(features: list[dict[str, Any]], *, provider_properties: bool) -> list[dict[str, Any]]:
    """Features as UP42 returned them, minus the bulky ``providerProperties`` unless wanted."""
    if provider_properties:
        return features
    trimmed = []
    for feature in features:
        properties = {k: v for k, v in (feature.get("properties") or {}).items() if k != "providerProperties"}
        trimmed.append({**feature, "properties": properties})
    return trimmed


CATALOG_APIS = ("host", "stac")
# 2023 sort fields and their STAC catalog names (the others have no STAC counterpart).
_STAC_SORT = {"acquisitionDate": "properties.datetime", "cloudCoverage": "properties.eo:cloud_cover"}


def stac_body(body: dict[str, Any], max_cloud_cover: float | None) -> dict[str, Any]:
    """The host-search body as a STAC catalog search: cloud cover as a CQL2 filter on
    ``eo:cloud_cover``, the sort field by its STAC name."""
    out: dict[str, Any] = {
        k: body[k] for k in ("datetime", "intersects", "collections", "limit") if k in body
    }
    if max_cloud_cover is not None:
        out["filter"] = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, max_cloud_cover]}
        out["filter-lang"] = "cql2-json"
    sort = (body.get("sortby") or [{}])[0]
    field = _STAC_SORT.get(str(sort.get("field", "")).removeprefix("properties."))
    if field:
        out["sortby"] = [{"field": field, "direction": sort.get("direction", "asc")}]
    return out


def like_host_features(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """STAC catalog items with the host search's property names added (``id``, ``collection``,
    ``acquisitionDate``, ``cloudCoverage``, ``resolution``), so orders, quicklooks and plots read
    both alike; the STAC names stay."""
    out = []
    for feature in features:
        properties = dict(feature.get("properties") or {})
        properties.setdefault("id", feature.get("id"))
        properties.setdefault("collection", feature.get("collection"))
        if "datetime" in properties:
            properties.setdefault("acquisitionDate", properties["datetime"])
        if "eo:cloud_cover" in properties:
            properties.setdefault("cloudCoverage", properties["eo:cloud_cover"])
        if "gsd" in properties:
            properties.setdefault("resolution", properties["gsd"])
        out.append({**feature, "properties": properties})
    return out


def image_ids(features: Sequence[dict[str, Any]]) -> list[str]:
    return [
        str((f.get("properties") or {}).get("id")) for f in features if (f.get("properties") or {}).get("id")
    ]


class UP42SearchCatalogOperator(BaseOperator):
    """Search the UP42 catalog and return the matching images.

    The AOI is validated and normalised (one Polygon in EPSG:4326) before any request. The
    result goes to XCom as a GeoJSON FeatureCollection of UP42's features (image id in
    ``properties.id``, footprint, acquisition date, cloud cover, ...) without the large
    ``providerProperties`` unless ``include_provider_properties``. With ``output_path`` the full
    result is written to object storage instead and XCom only gets
    ``{"uri", "count", "image_ids"}`` - both forms are accepted by ``UP42PlaceOrderOperator``.

    :param aoi: GeoJSON geometry/Feature/FeatureCollection (dict or text), WKT, a bbox
        ``[minx, miny, maxx, maxy]``, a local vector file, or a URI readable by ``ObjectStoragePath``
        (GeoJSON, zipped Shapefile, GeoPackage, KML). Several features must touch (they are merged).
    :param collections: catalog collection name(s), e.g. ``["phr"]`` (all from one provider host).
    :param acquisition_start: start of the acquisition window (``YYYY-MM-DD`` or ISO timestamp).
    :param acquisition_end: end of the window; a date-only value includes that whole day.
    :param max_cloud_cover: maximum cloud cover in percent (0-100).
    :param limit: maximum number of images (default 10; more than 500 are paged), or ``"all"``
        for every match (the explicit opt-in: a large AOI or period can match thousands).
    :param sortby: ``acquisitionDate`` (default), ``cloudCoverage``, ``incidenceAngle``, ...
    :param ascending: sort order.
    :param usage_type: ``["DATA"]``, ``["ANALYTICS"]`` or both.
    :param include_provider_properties: keep ``providerProperties`` in the XCom result.
    :param output_path: ``ObjectStoragePath`` URI ending in ``.geojson``/``.json`` or ``.gpkg``
        (GeoPackage needs geopandas); the file is always complete (provider properties included
        for GeoJSON, flattened to text columns for GeoPackage).
    :param catalog_api: ``"host"`` (default): the provider host's search, the same in both API
        generations; ``"stac"``: today's STAC catalog (``/v2/catalog/search``; needs a connection
        of today's generation). STAC items get the host search's property names added
        (``id``, ``collection``, ``acquisitionDate``, ``cloudCoverage``), so the result feeds the
        same operators; ``sortby`` there is ``acquisitionDate`` or ``cloudCoverage``, and
        ``usage_type`` is not available.
    :param fail_on_empty: raise when nothing matched (default: return an empty collection).
    :param plot_coverage_to: ``ObjectStoragePath`` URI of a PNG of the scene footprints over the AOI
        (needs the ``plots`` extra); ``plot_conn_id`` is the connection to write it with.
    :param up42_conn_id: Airflow connection of type ``up42``.
    """

    template_fields: Sequence[str] = (
        "aoi",
        "collections",
        "acquisition_start",
        "acquisition_end",
        "max_cloud_cover",
        "limit",
        "output_path",
        "plot_coverage_to",
        "up42_conn_id",
    )
    ui_color = "#1f4e79"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        aoi: Any = None,
        collections: str | Sequence[str] | None = None,
        acquisition_start: Any = None,
        acquisition_end: Any = None,
        max_cloud_cover: float | None = None,
        limit: int | str = DEFAULT_LIMIT,
        sortby: str = "acquisitionDate",
        ascending: bool = True,
        usage_type: Sequence[str] | None = None,
        include_provider_properties: bool = False,
        output_path: str | None = None,
        fail_on_empty: bool = False,
        plot_coverage_to: str | None = None,
        plot_conn_id: str | None = None,
        catalog_api: str = "host",
        up42_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        reject_typos(type(self), kwargs)
        if catalog_api not in CATALOG_APIS:
            raise ValueError(f"catalog_api must be 'host' or 'stac', got {catalog_api!r}")
        if catalog_api == "stac" and usage_type is not None:
            raise ValueError("usage_type filters the host search only; drop it for catalog_api='stac'")
        super().__init__(**kwargs)
        require(
            self,
            aoi=aoi,
            collections=collections,
            acquisition_start=acquisition_start,
            acquisition_end=acquisition_end,
        )
        self.catalog_api = catalog_api
        self.aoi = aoi
        self.collections = collections
        self.acquisition_start = acquisition_start
        self.acquisition_end = acquisition_end
        self.max_cloud_cover = max_cloud_cover
        self.limit = limit
        self.sortby = sortby
        self.ascending = ascending
        self.usage_type = usage_type
        self.include_provider_properties = include_provider_properties
        self.output_path = output_path
        self.fail_on_empty = fail_on_empty
        self.plot_coverage_to = plot_coverage_to
        self.plot_conn_id = plot_conn_id
        self.up42_conn_id = up42_conn_id

    def search_parameters(self) -> dict[str, Any]:
        """The ``V1.search_catalog`` body, validated locally (raises ``ValueError`` before any request)."""
        if self.output_path:
            suffix = os.path.splitext(str(self.output_path))[1].lower()
            if suffix not in OUTPUT_FORMATS:
                raise ValueError(
                    f"output_path {self.output_path!r} must end in .geojson, .json or .gpkg "
                    "(the suffix picks the format)"
                )
        try:
            P.format_time_period(self.acquisition_start, self.acquisition_end)
        except ValueError as exc:
            raise ValueError(f"acquisition_start/acquisition_end: {exc}") from None
        return P.search_parameters(
            resolve_aoi(self.aoi),
            as_list(self.collections, "collections") or [],
            self.acquisition_start,
            self.acquisition_end,
            usage_type=self.usage_type,
            limit=P.MAX_SEARCH_PAGE
            if self._wants_all()
            else as_positive_int(self.limit, "limit", allow_none=False) or DEFAULT_LIMIT,
            max_cloudcover=as_number(self.max_cloud_cover, "max_cloud_cover"),
            sortby=self.sortby,
            ascending=self.ascending,
        )

    def _wants_all(self) -> bool:
        return isinstance(self.limit, str) and self.limit.strip().lower() == SEARCH_ALL

    def execute(self, context: Context) -> dict[str, Any]:
        body = self.search_parameters()
        from up42_provider.hooks.up42 import UP42Hook

        hook = UP42Hook(up42_conn_id=self.up42_conn_id)
        limit: Literal["all"] | None = SEARCH_ALL if self._wants_all() else None
        if self.catalog_api == "stac":
            stac = stac_body(body, as_number(self.max_cloud_cover, "max_cloud_cover"))
            features = like_host_features(
                list(hook.iter_search_catalog_stac(stac, limit=limit or body["limit"]))
            )
        else:
            features = hook.search(body, limit=limit).get("features") or []
        ids = image_ids(features)
        if self.plot_coverage_to:
            from up42_provider.plots import plot_coverage

            written = plot_coverage(
                features, body["intersects"], self.plot_coverage_to, conn_id=self.plot_conn_id
            )
            self.log.info("Coverage plot written to %s", written)
        self.log.info(
            "UP42 catalog search in %s (%s) found %d image(s): %s",
            ", ".join(body["collections"]),
            body["datetime"],
            len(features),
            ", ".join(ids[:20]) + (" ..." if len(ids) > 20 else ""),
        )
        if not features and self.fail_on_empty:
            raise ValueError(
                f"No images in {body['collections']} for {body['datetime']} over the AOI: widen the "
                "dates, raise max_cloud_cover or set fail_on_empty=False"
            )
        if self.output_path:
            uri = write_features(features, str(self.output_path))
            self.log.info("Wrote %d feature(s) to %s", len(features), uri)
            return {"uri": uri, "count": len(features), "image_ids": ids}
        return {
            "type": "FeatureCollection",
            "features": trim_features(features, provider_properties=self.include_provider_properties),
        }


def write_features(features: list[dict[str, Any]], output_path: str) -> str:
    """Write a FeatureCollection as GeoJSON or GeoPackage (by suffix) to any ObjectStoragePath."""
    from airflow.sdk import ObjectStoragePath

    from up42_provider.transfer import targets  # the transfer package loads requests: not at parse time

    target = ObjectStoragePath(output_path)
    suffix = os.path.splitext(target.name)[1].lower()
    collection = {"type": "FeatureCollection", "features": features}
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    if OUTPUT_FORMATS[suffix] == "GeoJSON":
        with target.open("w") as handle:
            handle.write(json.dumps(collection))
        return targets.public_uri(target)
    import geopandas

    flat = [
        {
            "type": "Feature",
            "geometry": f.get("geometry"),
            "properties": {
                k: json.dumps(v) if isinstance(v, (dict, list)) else v
                for k, v in (f.get("properties") or {}).items()
            },
        }
        for f in features
    ]
    if flat:
        frame = geopandas.GeoDataFrame.from_features(flat, crs="EPSG:4326")
    else:
        frame = geopandas.GeoDataFrame({"id": []}, geometry=[], crs="EPSG:4326")
    with tempfile.TemporaryDirectory(prefix="up42-search-") as tmp:
        local = os.path.join(tmp, "search.gpkg")
        frame.to_file(local, driver="GPKG", layer="search")
        with open(local, "rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink)
    return targets.public_uri(target)
