"""Order parameters and prices: validation against a data product's schema and the credits an order costs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator.geo import area_km2, parse_datetime, parse_geometry
from up42_provider.emulator.world.collections import SPECS
from up42_provider.emulator.world.products import PRODUCTS_BY_ID, ProductSpec
from up42_provider.emulator.world.scenes import Scene
from up42_provider.emulator.world.schemas import order_schema

if TYPE_CHECKING:
    from up42_provider.emulator.world.catalog import Catalog


def _resolve_product(data_product: str | Mapping[str, Any]) -> tuple[dict[str, Any], ProductSpec] | None:
    product_id = data_product.get("id") if isinstance(data_product, Mapping) else data_product
    return PRODUCTS_BY_ID.get(str(product_id))


def _find_scene(scene_id: Any, catalog: Catalog | None) -> Scene | None:
    if not isinstance(scene_id, str):
        return None
    from up42_provider.emulator.world.catalog import ALL_CATALOGS  # the catalog module imports this one

    catalogs = [catalog] if catalog is not None else list(ALL_CATALOGS)
    for cat in catalogs:
        scene = cat.scene(scene_id)
        if scene is not None:
            return scene
    return None


def _check_value(name: str, value: Any, prop: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    errors: list[str] = []
    refs = [r["$ref"].rsplit("/", 1)[-1] for r in prop.get("allOf", []) if "$ref" in r]
    definitions = schema.get("definitions", {})
    enum_defs = [definitions[r] for r in refs if "anyOf" in definitions.get(r, {})]
    expected = prop.get("type")
    if enum_defs:
        allowed = [o["const"] for o in enum_defs[0]["anyOf"]]
        if value not in allowed:
            errors.append(f"Parameter '{name}' must be one of {allowed}, got {value!r}")
        return errors
    if expected == "string":
        if not isinstance(value, str):
            return [f"Parameter '{name}' must be a string"]
        if prop.get("format") == "date-time":
            try:
                parse_datetime(value)
            except ValueError:
                errors.append(f"Parameter '{name}' must be an RFC 3339 date-time, got {value!r}")
    elif expected in ("integer", "number"):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (expected == "integer" and not float(value).is_integer())
        ):
            return [
                f"Parameter '{name}' must be an {expected}"
                if expected == "integer"
                else f"Parameter '{name}' must be a number"
            ]
        if "minimum" in prop and value < prop["minimum"]:
            errors.append(f"Parameter '{name}' must be >= {prop['minimum']}, got {value}")
        if "maximum" in prop and value > prop["maximum"]:
            errors.append(f"Parameter '{name}' must be <= {prop['maximum']}, got {value}")
    return errors


def validate_order_params(
    data_product: str | Mapping[str, Any], params: Any, *, catalog: Catalog | None = None
) -> list[str]:
    """Readable reasons why ``params`` cannot be ordered for ``data_product`` (empty list = valid).

    ``data_product`` is a data product id or an ``glossary.responses.data_products`` item. Archive image ids
    are resolved with
    ``catalog`` (or any live catalogue whose seed produced the id).
    """
    entry = _resolve_product(data_product)
    if entry is None:
        return [f"Data product '{data_product}' not found"]
    item, pspec = entry
    spec = SPECS[pspec.collection]
    if not pspec.integrated:
        return [
            f"Data product '{item['id']}' ({spec.title} {pspec.title}) is not integrated and cannot be "
            "ordered through the API"
        ]
    if not isinstance(params, Mapping):
        return ["Order 'params' must be an object"]
    schema = order_schema(item["id"]) or {}
    properties = schema.get("properties", {})
    errors: list[str] = []
    for name in schema.get("required", []):
        if params.get(name) is None:
            errors.append(
                f"Missing required parameter '{name}' ({properties.get(name, {}).get('title', name)})"
            )
    errors.extend(f"Unknown parameter '{k}'" for k in params if k not in properties)
    geometry_key = "geometry" if spec.type == "TASKING" else "aoi"
    geom: BaseGeometry | None = None
    for name, value in params.items():
        if value is None or name not in properties:
            continue
        if name == geometry_key:
            allow = ("Polygon", "Point") if "Point" in schema.get("definitions", {}) else ("Polygon",)
            try:
                geom = parse_geometry(value, f"Parameter '{name}'", allow=allow)
            except ValueError as exc:
                errors.append(str(exc))
            continue
        errors.extend(_check_value(name, value, properties[name], schema))

    if spec.type == "ARCHIVE":
        image_id = params.get("id")
        if isinstance(image_id, str):
            scene = _find_scene(image_id, catalog)
            if scene is None:
                errors.append(f"Image '{image_id}' not found in the catalog")
            elif scene.collection != spec.name:
                errors.append(
                    f"Image '{image_id}' belongs to collection '{scene.collection}', "
                    f"not to '{spec.name}' of this data product"
                )
            elif geom is not None and not geom.intersects(shape(scene.geometry)):
                errors.append(f"Parameter 'aoi' does not intersect the footprint of image '{image_id}'")
        elif image_id is not None:
            errors.append("Parameter 'id' must be a string")
    else:
        try:
            a = params.get("acquisitionStart")
            b = params.get("acquisitionEnd")
            if isinstance(a, str) and isinstance(b, str) and parse_datetime(a) >= parse_datetime(b):
                errors.append("Parameter 'acquisitionStart' must be before 'acquisitionEnd'")
        except ValueError:
            pass  # already reported as a format error
    return errors


def estimate_order_credits(
    data_product: str | Mapping[str, Any], params: Mapping[str, Any], *, catalog: Catalog | None = None
) -> int:
    """Credits an order costs (``orders.responses.estimate``, and what ``orders.responses.place`` charges).
    Call validate_order_params first.

    Archive: km² of AOI ∩ image footprint (at least the collection minimum) * price per km².
    Tasking: km² of the geometry (a Point counts as the minimum) * price per km².
    Raises ValueError when the parameters are too broken to price.
    """
    entry = _resolve_product(data_product)
    if entry is None:
        raise ValueError(f"Data product '{data_product}' not found")
    _, pspec = entry
    spec = SPECS[pspec.collection]
    if spec.type == "ARCHIVE":
        scene = _find_scene(params.get("id"), catalog)
        if scene is None:
            raise ValueError(f"Image '{params.get('id')}' not found in the catalog")
        footprint = shape(scene.geometry)
        aoi = params.get("aoi")
        area_geom = footprint if aoi is None else parse_geometry(aoi, "aoi").intersection(footprint)
        area = area_km2(area_geom)
    else:
        geometry = params.get("geometry")
        area = area_km2(parse_geometry(geometry, "geometry", allow=("Polygon", "Point"))) if geometry else 0.0
    return math.ceil(max(area, spec.min_area_km2) * spec.price_per_km2 * pspec.price_factor)
