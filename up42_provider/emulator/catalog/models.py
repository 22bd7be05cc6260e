"""Catalog records: paging tokens, and the STAC documents of today's catalog ``/v2/catalog/``.

The archive itself is ``world.catalog.Catalog`` (``state.catalog``); nothing here is stored.
Today's STAC catalog is a generic STAC API over the same scenes the host search finds: its
collection ids are the glossary names of the searchable (archive) collections, its item ids are
the scene ids (so an item can be ordered with the v2 order API as it is), and its search takes
the STAC ``query`` extension and a CQL2-JSON ``filter`` (comparisons joined by ``and``), which
are translated to the archive's own filter. Item properties use the STAC ``eo``/``view``
extension names beside UP42's own ones (UP42's real catalog property names are not known).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from up42_provider.emulator.http import ApiError, bad_request
from up42_provider.emulator.world.collections import HOSTS, PRODUCERS, SPECS, CollectionSpec
from up42_provider.emulator.world.scenes import Scene, iso_seconds

STAC_VERSION = "1.0.0"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]
DEFAULT_LIMIT = 10  # page size when the search sends no ``limit`` (pystac-client's max_items alone)
MAX_LIMIT = 500

# STAC/CQL2 property names -> the archive's query properties.
PROPERTY_ALIASES = {
    "eo:cloud_cover": "cloudCoverage",
    "cloudCoverage": "cloudCoverage",
    "view:incidence_angle": "incidenceAngle",
    "incidenceAngle": "incidenceAngle",
    "gsd": "resolution",
    "resolution": "resolution",
    "snowCover": "snowCover",
    "datetime": "acquisitionDate",
    "acquisitionDate": "acquisitionDate",
    "id": "id",
}
_CQL2_OPS = {"=": "eq", "<>": "neq", "!=": "neq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


# -- 2023 host search paging (?next= tokens) ------------------------------------------------------
def encode_next(host: str, offset: int) -> str:
    raw = json.dumps({"providerName": host, "nextOffset": offset}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_next(token: str, host: str) -> int:
    text = token.strip().replace(" ", "+")
    try:
        raw = base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
        data = json.loads(raw)
        offset = data["nextOffset"]
        provider = data["providerName"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise bad_request("Invalid 'next' pagination token") from None
    if provider != host or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise bad_request("Invalid 'next' pagination token for this host")
    return offset


def page_limit(value: Any, default: int = DEFAULT_LIMIT) -> int:
    """A search ``limit``: an integer >= 1 (capped at MAX_LIMIT); absent means ``default``."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"limit must be an integer, got {value!r}")
    if value < 1:
        raise bad_request(f"limit must be at least 1, got {value}")
    return min(value, MAX_LIMIT)


# -- today's STAC catalog ------------------------------------------------------------------------
def searchable() -> list[CollectionSpec]:
    return [s for s in SPECS.values() if s.type == "ARCHIVE" and "SEARCH_AVAILABLE" in s.integrations]


def find_collection(collection_id: str) -> CollectionSpec:
    spec = SPECS.get(collection_id)
    if spec is None or spec not in searchable():
        raise ApiError(404, f"Collection '{collection_id}' not found in the catalog", title="Not Found")
    return spec


def landing_page(root: str) -> dict[str, Any]:
    """The ``/v2/catalog/`` landing page; ``root`` is its absolute URL without the trailing slash."""
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "up42-catalog",
        "title": "UP42 catalog (emulator)",
        "description": "Searchable archive collections of the UP42 marketplace",
        "conformsTo": CONFORMANCE,
        "links": [
            {"rel": "self", "href": f"{root}/", "type": "application/json"},
            {"rel": "root", "href": f"{root}/", "type": "application/json"},
            {"rel": "data", "href": f"{root}/collections", "type": "application/json"},
            {"rel": "conformance", "href": f"{root}/conformance", "type": "application/json"},
            {"rel": "search", "href": f"{root}/search", "type": "application/geo+json", "method": "GET"},
            {"rel": "search", "href": f"{root}/search", "type": "application/geo+json", "method": "POST"},
            *(
                {
                    "rel": "child",
                    "href": f"{root}/collections/{s.name}",
                    "type": "application/json",
                    "title": s.title,
                }
                for s in searchable()
            ),
        ],
    }


def stac_collection(spec: CollectionSpec, root: str) -> dict[str, Any]:
    producer, host = PRODUCERS[spec.producer], HOSTS[spec.host]
    href = f"{root}/collections/{spec.name}"
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": spec.name,
        "title": spec.title,
        "description": spec.description,
        "license": "proprietary",
        "providers": [
            {"name": producer["title"], "roles": ["producer"]},
            {"name": host["title"], "roles": ["host"]},
        ],
        "extent": {
            "spatial": {"bbox": [[-180.0, spec.lat_min, 180.0, spec.lat_max]]},
            "temporal": {"interval": [[f"{spec.start.isoformat()}T00:00:00Z", None]]},
        },
        "summaries": {
            "gsd": [spec.resolution],
            "platform": list(spec.satellites),
            "constellation": [spec.name],
        },
        "links": [
            {"rel": "self", "href": href, "type": "application/json"},
            {"rel": "root", "href": f"{root}/", "type": "application/json"},
            {"rel": "parent", "href": f"{root}/", "type": "application/json"},
            {"rel": "items", "href": f"{href}/items", "type": "application/geo+json"},
        ],
    }


def stac_item(scene: Scene, root: str, api: str) -> dict[str, Any]:
    """A scene as a STAC item; ``api`` is the API base (for the quicklook asset)."""
    feature = scene.feature()
    props = feature["properties"]
    href = f"{root}/collections/{scene.collection}/items/{scene.id}"
    assets: dict[str, Any] = {}
    if scene.has_quicklook:
        assets["thumbnail"] = {
            "href": f"{api}/catalog/{scene.host}/image/{scene.id}/quicklook",
            "type": "image/jpeg",
            "title": "Quicklook",
            "roles": ["thumbnail"],
        }
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/view/v1.0.0/schema.json",
        ],
        "id": scene.id,
        "collection": scene.collection,
        "geometry": feature["geometry"],
        "bbox": feature["bbox"],
        "properties": {
            "datetime": iso_seconds(scene.acquired),
            "platform": scene.satellite,
            "constellation": scene.constellation,
            "gsd": scene.resolution,
            "eo:cloud_cover": scene.cloud_coverage,
            "view:incidence_angle": scene.incidence_angle,
            "view:sun_elevation": scene.sun_elevation,
            "view:azimuth": scene.azimuth_angle,
            "producer": props["producer"],
            "providerName": props["providerName"],
            "up42:usageType": props["up42:usageType"],
            "acquisitionIdentifier": scene.acquisition_identifier,
            "deliveryTime": props["deliveryTime"],
        },
        "links": [
            {"rel": "self", "href": href, "type": "application/geo+json"},
            {
                "rel": "collection",
                "href": f"{root}/collections/{scene.collection}",
                "type": "application/json",
            },
            {"rel": "parent", "href": f"{root}/collections/{scene.collection}", "type": "application/json"},
            {"rel": "root", "href": f"{root}/", "type": "application/json"},
        ],
        "assets": assets,
    }


def _cql2_comparisons(node: Any, out: dict[str, dict[str, Any]]) -> None:
    if not isinstance(node, Mapping) or "op" not in node:
        raise bad_request("filter must be a CQL2-JSON expression object with 'op' and 'args'")
    op, args = node.get("op"), node.get("args")
    if not isinstance(args, list):
        raise bad_request(f"filter: '{op}' needs a list of 'args'")
    if op == "and":
        for arg in args:
            _cql2_comparisons(arg, out)
        return
    if op not in _CQL2_OPS:
        raise bad_request(
            f"filter: unsupported CQL2 operator '{op}' (supported: and, {', '.join(_CQL2_OPS)})"
        )
    if len(args) != 2 or not isinstance(args[0], Mapping) or "property" not in args[0]:
        raise bad_request(f"filter: '{op}' needs [{{'property': name}}, value]")
    name = str(args[0]["property"]).removeprefix("properties.")
    out.setdefault(PROPERTY_ALIASES.get(name, name), {})[_CQL2_OPS[op]] = args[1]


def archive_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Today's STAC search body -> the archive's search body (``query`` merges ``filter``)."""
    lang = body.get("filter-lang", "cql2-json")
    if body.get("filter") is not None and lang != "cql2-json":
        raise bad_request(f"filter-lang '{lang}' is not supported; send the filter as cql2-json")
    query: dict[str, dict[str, Any]] = {}
    raw_query = body.get("query")
    if raw_query is not None:
        if not isinstance(raw_query, Mapping):
            raise bad_request("query must be an object {property: {operator: value}}")
        prop: str  # JSON object keys
        for prop, cond in raw_query.items():
            query.setdefault(PROPERTY_ALIASES.get(prop, prop), {}).update(
                cond if isinstance(cond, Mapping) else {}
            )
    if body.get("filter") is not None:
        _cql2_comparisons(body["filter"], query)
    out: dict[str, Any] = {
        k: body[k] for k in ("ids", "bbox", "intersects", "datetime") if body.get(k) is not None
    }
    if query:
        out["query"] = query
    sortby = body.get("sortby")
    if sortby is not None:
        if not isinstance(sortby, list):
            raise bad_request("sortby must be a list of {field, direction}")
        out["sortby"] = [
            {
                **s,
                "field": PROPERTY_ALIASES.get(
                    str(s.get("field", "")).removeprefix("properties."), s.get("field")
                ),
            }
            if isinstance(s, Mapping)
            else s
            for s in sortby
        ]
    return out


def encode_token(offset: int) -> str:
    return f"next:{offset}"


def decode_token(token: Any) -> int:
    if token is None or token == "":
        return 0
    text = str(token)
    number = text.removeprefix("next:")
    if not number.isdigit():
        raise bad_request(f"Invalid paging token '{text}': use the token of a 'next' link")
    return int(number)
