"""Order schemas: the JSON Schema of each data product's order parameters (archive and tasking)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from up42_provider.emulator.world.collections import SPECS, CollectionSpec
from up42_provider.emulator.world.products import PRODUCTS_BY_ID, ProductSpec


def _polygon_definition() -> dict[str, Any]:
    return {
        "title": "Polygon",
        "description": "Polygon Model.",
        "type": "object",
        "properties": {
            "type": {"title": "Type", "default": "Polygon", "const": "Polygon", "type": "string"},
            "coordinates": {
                "type": "array",
                "items": {
                    "type": "array",
                    "minItems": 4,
                    "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
                },
            },
        },
        "required": ["coordinates"],
    }


def _point_definition() -> dict[str, Any]:
    return {
        "title": "Point",
        "description": "Point Model.",
        "type": "object",
        "properties": {
            "type": {"title": "Type", "default": "Point", "const": "Point", "type": "string"},
            "coordinates": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
        },
        "required": ["coordinates"],
    }


def _enum(name: str, options: Sequence[tuple[str, str]], default: str | None) -> dict[str, Any]:
    return {"title": name, "anyOf": [{"const": c, "title": t} for c, t in options], "default": default}


def _ref(name: str) -> list[dict[str, str]]:
    return [{"$ref": f"#/definitions/{name}"}]


def _archive_schema(spec: CollectionSpec, p: ProductSpec) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft-07/schema",
        "title": f"{spec.title} {p.title} archive order",
        "type": "object",
        "properties": {
            "id": {
                "title": "Image ID",
                "description": "Catalog image id (properties.id of a catalog search result).",
                "type": "string",
            },
            "aoi": {
                "title": "Area of interest",
                "description": "Polygon (EPSG:4326) the image is clipped to; it must intersect the image.",
                "type": "object",
                "allOf": _ref("Polygon"),
            },
        },
        "required": ["id", "aoi"],
        "definitions": {"Polygon": _polygon_definition()},
        "additionalProperties": False,
    }


def _tasking_schema(spec: CollectionSpec, p: ProductSpec) -> dict[str, Any]:
    point_ok = spec.name == "spot-tasking"
    geometry: dict[str, Any] = {"title": "Geometry", "type": "object"}
    definitions: dict[str, Any] = {"Polygon": _polygon_definition()}
    if point_ok:
        geometry["anyOf"] = [{"$ref": "#/definitions/Polygon"}, {"$ref": "#/definitions/Point"}]
        definitions["Point"] = _point_definition()
    else:
        geometry["allOf"] = _ref("Polygon")
    definitions.update(
        {
            "acquisitionMode": _enum(
                "acquisitionMode", [("mono", "MONO"), ("stereo", "STEREO"), ("tristereo", "TRISTEREO")], None
            ),
            "geometricProcessing": _enum(
                "geometricProcessing", [("ortho", "Ortho"), ("primary", "Primary")], "ortho"
            ),
            "spectralProcessing": _enum(
                "spectralProcessing",
                [
                    ("bundle", "Bundle: Panchromatic + Multispectral 4-band"),
                    ("pansharpened", "Pansharpened: Multispectral 4-band"),
                ],
                "bundle",
            ),
            "pixelCoding": _enum(
                "pixelCoding",
                [("8bits", "8 bits"), ("12bits", "12 bits (JPEG 2000) / 16 bits (GeoTIFF)")],
                "12bits",
            ),
            "radiometricProcessing": _enum(
                "radiometricProcessing",
                [("basic", "Basic"), ("display", "Display"), ("reflectance", "Reflectance")],
                "reflectance",
            ),
            "deliveredAs": _enum(
                "deliveredAs", [("geotiff", "DIMAP-GeoTIFF"), ("jpeg2000", "DIMAP-JPEG2000")], "geotiff"
            ),
            "projection": _enum(
                "projection", [("4326", "4326"), ("3857", "3857"), ("32631", "32631")], "4326"
            ),
        }
    )
    return {
        "$schema": "https://json-schema.org/draft-07/schema",
        "title": f"{spec.title} order",
        "type": "object",
        "properties": {
            "geometry": geometry,
            "displayName": {"title": "Order name", "type": "string"},
            "extraDescription": {"title": "Description", "type": "string"},
            "acquisitionStart": {"title": "Start", "type": "string", "format": "date-time"},
            "acquisitionEnd": {"title": "End", "type": "string", "format": "date-time"},
            "acquisitionMode": {
                "title": "Acquisition mode",
                "description": "Mono (one viewpoint), stereo or tristereo (viewpoints on one orbit).",
                "type": "string",
                "allOf": _ref("acquisitionMode"),
            },
            "cloudCoverage": {
                "title": "Maximum cloud coverage (%)",
                "description": "Maximum allowed cloud coverage in percentage.",
                "minimum": 5,
                "maximum": 20,
                "type": "integer",
            },
            "incidenceAngle": {
                "title": "Maximum incidence angle (°)",
                "description": "Maximum allowed incidence angle in degree.",
                "minimum": 5,
                "maximum": 50,
                "type": "integer",
            },
            "geometricProcessing": {
                "title": "Geometric processing",
                "description": "Primary is closest to the sensor geometry; Ortho is terrain-corrected.",
                "type": "string",
                "allOf": _ref("geometricProcessing"),
            },
            "projection": {
                "title": "Coordinate reference system",
                "description": "Reference system used for ortho products.",
                "type": "string",
                "allOf": _ref("projection"),
            },
            "spectralProcessing": {
                "title": "Spectral bands combination",
                "description": "Bundle: pan and multispectral separately; pansharpened: merged.",
                "type": "string",
                "allOf": _ref("spectralProcessing"),
            },
            "pixelCoding": {
                "title": "Bit depth per pixel",
                "type": "string",
                "allOf": _ref("pixelCoding"),
            },
            "radiometricProcessing": {
                "title": "Radiometric processing",
                "type": "string",
                "allOf": _ref("radiometricProcessing"),
            },
            "deliveredAs": {
                "title": "Delivery format",
                "type": "string",
                "allOf": _ref("deliveredAs"),
            },
        },
        "required": [
            "geometry",
            "displayName",
            "acquisitionStart",
            "acquisitionEnd",
            "acquisitionMode",
            "cloudCoverage",
            "incidenceAngle",
            "geometricProcessing",
            "spectralProcessing",
            "pixelCoding",
            "radiometricProcessing",
            "deliveredAs",
        ],
        "definitions": definitions,
        "additionalProperties": False,
    }


def order_schema(data_product_id: str) -> dict[str, Any] | None:
    """The draft-07 JSON Schema of the order ``params`` of a data product (``glossary.responses.schema``), or
    None."""
    entry = PRODUCTS_BY_ID.get(str(data_product_id))
    if entry is None:
        return None
    spec = SPECS[entry[1].collection]
    builder = _tasking_schema if spec.type == "TASKING" else _archive_schema
    return builder(spec, entry[1])
