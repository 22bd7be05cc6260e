"""The block marketplace of the 2023 generation: blocks, chain compatibility, prices, coverage.

Compatibility follows the UP42 manifest model: every block declares ``inputCapabilities`` and
``outputCapabilities`` (``raster``/``vector`` with ``up42_standard`` properties; ``">"`` = passed through from
the parent). A chain is valid when each block's inputs are satisfied by what the chain so far produces, so
e.g. NDVI needs red + nir bands and pan-sharpening needs a panchromatic band.

Prices live here so that the job estimate (``workflows.responses.estimate_job``) and the charge when a job
runs use the same numbers.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from shapely.geometry import box, shape

from up42_provider.emulator.world import (
    SPECS,
    Catalog,
    Scene,
    SearchError,
    area_km2,
    parse_datetime,
    parse_geometry,
)

_NS = uuid.UUID("0c6b2f4e-8d0a-4c61-b7de-3a9f5e1c7b20")
_CREATED = "2021-03-15T09:12:44.120311Z"
_UPDATED = "2023-05-30T14:02:19.842177Z"
_RASTER_GTIFF = {"raster": {"up42_standard": {"format": "GTiff"}}}
_PASS = {"bands": ">", "sensor": ">", "resolution": ">", "dtype": ">", "processing_level": ">"}

_DATA_PARAMETERS: dict[str, dict[str, Any]] = {
    "time": {
        "type": "dateRange",
        "default": "2018-01-01T00:00:00+00:00/2023-12-31T23:59:59+00:00",
        "description": "Acquisition time interval 'start/end' (ISO 8601).",
    },
    "limit": {
        "type": "integer",
        "default": 1,
        "minimum": 1,
        "maximum": 500,
        "description": "Maximum number of scenes to deliver.",
    },
    "ids": {
        "type": "array",
        "default": None,
        "description": "Catalog scene ids to deliver instead of a search.",
    },
    "bbox": {
        "type": "array",
        "default": None,
        "description": "Area of interest [minLon, minLat, maxLon, maxLat].",
    },
    "intersects": {"type": "geometry", "description": "Scenes intersecting this GeoJSON geometry."},
    "contains": {"type": "geometry", "description": "Scenes fully containing this GeoJSON geometry."},
    "max_cloud_cover": {
        "type": "integer",
        "default": 100,
        "minimum": 0,
        "maximum": 100,
        "description": "Maximum cloud cover of a scene in percent.",
    },
}


def _data_block(
    name: str,
    display: str,
    collection: str,
    description: str,
    bands: list[str],
    dtype: str,
    sensor: str,
    level: str,
    credits_per_km2: float,
    tags: list[str],
) -> dict[str, Any]:
    spec = SPECS[collection]
    return {
        "name": name,
        "displayName": display,
        "description": description,
        "type": "DATA",
        "version": "1.0.1" if collection == "sentinel-2" else "2.3.0",
        "isDryRunSupported": True,
        "tags": tags,
        "machine": {"type": "small"},
        "parameters": _DATA_PARAMETERS,
        "inputCapabilities": {},
        "outputCapabilities": {
            "raster": {
                "up42_standard": {
                    "format": "GTiff",
                    "bands": bands,
                    "sensor": sensor,
                    "resolution": spec.resolution,
                    "dtype": dtype,
                    "processing_level": level,
                }
            }
        },
        "collection": collection,
        "hostName": spec.host,
        "provider": {"name": spec.producer, "title": "Airbus" if spec.producer == "airbus" else "ESA"},
        "pricing": {"blockCreditsPerSquareKm": credits_per_km2, "machineCreditsPerScene": 1},
    }


def _processing_block(
    name: str,
    display: str,
    description: str,
    parameters: dict[str, Any],
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    credits_per_scene: int,
    machine_credits: int,
    machine: str,
    tags: list[str],
    dry_run: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "displayName": display,
        "description": description,
        "type": "PROCESSING",
        "version": "2.2.3",
        "isDryRunSupported": dry_run,
        "tags": tags,
        "machine": {"type": machine},
        "parameters": parameters,
        "inputCapabilities": inputs,
        "outputCapabilities": outputs,
        "provider": {"name": "up42", "title": "UP42"},
        "pricing": {"blockCreditsPerScene": credits_per_scene, "machineCreditsPerScene": machine_credits},
    }


_DEFINITIONS: list[dict[str, Any]] = [
    _data_block(
        "esa-s2-l2a-gtiff-visual",
        "Sentinel-2 L2A Visual (GeoTIFF)",
        "sentinel-2",
        "Sentinel-2 Level-2A true colour (RGB) scenes as GeoTIFF.",
        ["red", "green", "blue"],
        "uint8",
        "Sentinel2",
        "l2a",
        0.0,
        ["imagery", "data", "sentinel", "esa", "optical", "global"],
    ),
    _data_block(
        "esa-s2-l2a-gtiff-analytic",
        "Sentinel-2 L2A Analytic (GeoTIFF)",
        "sentinel-2",
        "Sentinel-2 Level-2A surface reflectance, all 12 bands as GeoTIFF.",
        list(SPECS["sentinel-2"].bands),
        "uint16",
        "Sentinel2",
        "l2a",
        0.0,
        ["imagery", "data", "sentinel", "esa", "multispectral", "analytic"],
    ),
    _data_block(
        "oneatlas-pleiades-aoiclipped",
        "Pléiades Reflectance (AOI clipped)",
        "phr",
        "Pléiades 50 cm panchromatic + 2 m multispectral bundle, clipped to the AOI.",
        list(SPECS["phr"].bands),
        "uint16",
        "Pleiades",
        "l3",
        20.0,
        ["imagery", "data", "pleiades", "airbus", "very-high-resolution"],
    ),
    _data_block(
        "oneatlas-spot-aoiclipped",
        "SPOT 6/7 Reflectance (AOI clipped)",
        "spot",
        "SPOT 6/7 1.5 m panchromatic + 6 m multispectral bundle, clipped to the AOI.",
        list(SPECS["spot"].bands),
        "uint16",
        "SPOT",
        "l3",
        5.0,
        ["imagery", "data", "spot", "airbus", "high-resolution"],
    ),
    _processing_block(
        "tiling",
        "Raster Tiling",
        "Cuts rasters into tiles of a fixed size in pixels.",
        {
            "nodata": {
                "type": "number",
                "default": None,
                "required": False,
                "description": "Value representing no data in the input raster.",
            },
            "tile_width": {
                "type": "number",
                "default": 768,
                "required": True,
                "description": "Width of a tile in pixels.",
            },
            "tile_height": {
                "type": "number",
                "default": 768,
                "required": True,
                "description": "Height of a tile in pixels.",
            },
            "match_extents": {
                "type": "boolean",
                "default": False,
                "required": False,
                "description": "Shrink the last row/column of tiles to the raster extent.",
            },
            "discard_empty_tiles": {
                "type": "boolean",
                "default": True,
                "required": False,
                "description": "Drop tiles that contain only no-data pixels.",
            },
            "augmentation_factor": {
                "type": "number",
                "default": 1,
                "required": False,
                "description": "Overlap factor of neighbouring tiles (1 = no overlap).",
            },
        },
        _RASTER_GTIFF,
        {"raster": {"up42_standard": {"format": "GTiff", **_PASS}}},
        0,
        2,
        "small",
        ["imagery", "processing", "preprocessing", "tiling"],
        dry_run=True,
    ),
    _processing_block(
        "sharpening",
        "Sharpening Filter",
        "Enhances raster sharpness with an unsharp-mask filter.",
        {
            "strength": {
                "type": "string",
                "default": "medium",
                "required": False,
                "description": "Filter strength: light, medium or strong.",
            }
        },
        _RASTER_GTIFF,
        {"raster": {"up42_standard": {"format": "GTiff", **_PASS}}},
        0,
        1,
        "large",
        ["imagery", "processing", "preprocessing", "filtering", "sharpening"],
    ),
    _processing_block(
        "ndvi",
        "NDVI",
        "Normalized Difference Vegetation Index from the red and near-infrared bands.",
        {
            "output_original_raster": {
                "type": "boolean",
                "default": False,
                "required": False,
                "description": "Also deliver the input raster.",
            }
        },
        {"raster": {"up42_standard": {"format": "GTiff", "bands": ["red", "nir"]}}},
        {
            "raster": {
                "up42_standard": {
                    "format": "GTiff",
                    "bands": ["ndvi"],
                    "sensor": ">",
                    "resolution": ">",
                    "dtype": "float32",
                    "processing_level": ">",
                }
            }
        },
        1,
        1,
        "medium",
        ["imagery", "processing", "analytics", "vegetation", "index"],
    ),
    _processing_block(
        "pansharpen",
        "Pan-sharpening",
        "Fuses the panchromatic band into the multispectral bands.",
        {
            "method": {
                "type": "string",
                "default": "brovey",
                "required": False,
                "description": "Fusion method: brovey or weighted-brovey.",
            }
        },
        {"raster": {"up42_standard": {"format": "GTiff", "bands": ["pan", "red", "green", "blue"]}}},
        {
            "raster": {
                "up42_standard": {
                    "format": "GTiff",
                    "bands": ["blue", "green", "red", "nir"],
                    "sensor": ">",
                    "resolution": ">",
                    "dtype": ">",
                    "processing_level": ">",
                }
            }
        },
        2,
        3,
        "large",
        ["imagery", "processing", "pansharpening", "very-high-resolution"],
    ),
    _processing_block(
        "data-conversion",
        "Data Conversion (COG)",
        "Converts rasters to Cloud Optimized GeoTIFF.",
        {
            "compression": {
                "type": "string",
                "default": "deflate",
                "required": False,
                "description": "COG compression: deflate, lzw or none.",
            },
            "overviews": {
                "type": "boolean",
                "default": True,
                "required": False,
                "description": "Build internal overviews.",
            },
        },
        _RASTER_GTIFF,
        {"raster": {"up42_standard": {"format": "GTiff", **_PASS}}},
        0,
        1,
        "small",
        ["imagery", "processing", "conversion", "cog"],
        dry_run=True,
    ),
    _processing_block(
        "ship-detection",
        "Ship Detection",
        "Detects ships in very high resolution RGB imagery (vector output).",
        {
            "confidence_threshold": {
                "type": "number",
                "default": 0.5,
                "required": False,
                "description": "Minimum detection confidence (0-1).",
            }
        },
        {
            "raster": {
                "up42_standard": {
                    "format": "GTiff",
                    "bands": ["red", "green", "blue"],
                    "resolution": {"max": 2.0},
                }
            }
        },
        {"vector": {"up42_standard": {"format": "GeoJSON"}}},
        10,
        2,
        "gpu",
        ["imagery", "processing", "analytics", "object-detection", "maritime"],
    ),
]


def _finish(block: dict[str, Any]) -> dict[str, Any]:
    block_id = str(uuid.uuid5(_NS, f"block:{block['name']}"))
    return {
        "id": block_id,
        **block,
        "isPublic": True,
        "createdAt": _CREATED,
        "updatedAt": _UPDATED,
        "versions": [{"version": block["version"], "createdAt": _UPDATED}],
    }


BLOCKS: list[dict[str, Any]] = [_finish(b) for b in _DEFINITIONS]
_BY_ID = {b["id"]: b for b in BLOCKS}
_BY_NAME = {b["name"]: b for b in BLOCKS}
_BY_DISPLAY = {b["displayName"]: b for b in BLOCKS}


def find_block(id_or_name: str) -> dict[str, Any] | None:
    """A block by id, name, display name or workflow task name (``tiling:2``)."""
    key = str(id_or_name)
    found = _BY_ID.get(key) or _BY_NAME.get(key) or _BY_DISPLAY.get(key)
    if found is None and re.fullmatch(r".+:\d+", key):
        found = _BY_NAME.get(key.rsplit(":", 1)[0])
    return found


def list_item(block: Mapping[str, Any]) -> dict[str, Any]:
    """The ``blocks.responses.list_blocks`` list entry of a block."""
    return {
        k: block[k]
        for k in (
            "id",
            "name",
            "displayName",
            "type",
            "description",
            "version",
            "tags",
            "isDryRunSupported",
            "createdAt",
            "updatedAt",
        )
    }


# ----------------------------------------------------------------------------------------------
# Compatibility
# ----------------------------------------------------------------------------------------------
def _resolve_output(parent: Mapping[str, Any] | None, block: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What ``block`` produces after ``parent`` output (``">"`` values taken from the parent)."""
    out: dict[str, dict[str, Any]] = {}
    for kind, cap in block["outputCapabilities"].items():
        values = dict(cap.get("up42_standard", {}))
        inherited = (parent or {}).get(kind, {})
        for key, value in list(values.items()):
            if value == ">":
                if key in inherited:
                    values[key] = inherited[key]
                else:
                    values.pop(key)
        out[kind] = values
    return out


def _input_problems(current: Mapping[str, Any], block: Mapping[str, Any], parent_name: str) -> list[str]:
    problems: list[str] = []
    needs = block["inputCapabilities"]
    for kind, cap in needs.items():
        have = current.get(kind)
        if have is None:
            kinds = ", ".join(current) or "nothing"
            problems.append(
                f"Block '{block['name']}' needs {kind} input but '{parent_name}' delivers {kinds}"
            )
            continue
        want = cap.get("up42_standard", {})
        if "format" in want and "format" in have and want["format"] != have["format"]:
            problems.append(
                f"Block '{block['name']}' needs {want['format']} input but '{parent_name}' delivers "
                f"{have['format']}"
            )
        if "bands" in want and "bands" in have:
            missing = [b for b in want["bands"] if b not in have["bands"]]
            if missing:
                problems.append(
                    f"Block '{block['name']}' needs bands {', '.join(want['bands'])} but "
                    f"'{parent_name}' delivers {', '.join(have['bands'])} (missing {', '.join(missing)})"
                )
        limit = want.get("resolution")
        have_resolution = have.get("resolution")
        if (
            isinstance(limit, Mapping)
            and isinstance(have_resolution, (int, float))
            and "max" in limit
            and have_resolution > limit["max"]
        ):
            problems.append(
                f"Block '{block['name']}' needs a resolution of {limit['max']} m or finer but "
                f"'{parent_name}' delivers {have['resolution']} m"
            )
    return problems


def _chain(block_names: Sequence[str]) -> tuple[list[str], dict[str, dict[str, Any]] | None]:
    """Walk a chain; returns (errors, capabilities produced by the last block or None on error)."""
    if not block_names:
        return ["A workflow needs at least one block (a data block first)"], None
    errors: list[str] = []
    current: dict[str, dict[str, Any]] | None = None
    previous = ""
    for position, name in enumerate(block_names):
        block = find_block(name)
        if block is None:
            errors.append(f"Unknown block '{name}'")
            current = None
            continue
        if position == 0:
            if block["type"] != "DATA":
                errors.append(
                    f"The first block must be a data block; '{block['name']}' is a processing block"
                )
        elif block["type"] == "DATA":
            errors.append(f"Data block '{block['name']}' can only be the first block of a workflow")
        elif current is not None:
            errors.extend(_input_problems(current, block, previous))
        current = (
            _resolve_output(current, block) if block["type"] == "PROCESSING" or position == 0 else current
        )
        previous = block["name"]
    return errors, (current if not errors else None)


def chain_errors(block_names: Sequence[str]) -> list[str]:
    """Readable reasons why blocks (names, ids or task names) cannot run in this order; [] = fine."""
    return _chain(list(block_names))[0]


def compatible_blocks(parent_block_name: str, chain: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Blocks that may follow ``parent_block_name`` (pass the whole ``chain`` for exact pass-through)."""
    names = list(chain) if chain else [parent_block_name]
    parent = find_block(parent_block_name)
    if parent is None:
        return []
    if not chain and parent["type"] == "PROCESSING":
        # Without the chain, assume the parent receives whatever the data blocks deliver: a processing
        # block is compatible if it fits after the parent for at least one data block.
        return [
            b
            for b in BLOCKS
            if b["type"] == "PROCESSING"
            and any(
                not chain_errors([d["name"], parent["name"], b["name"]])
                for d in BLOCKS
                if d["type"] == "DATA"
            )
        ]
    if chain_errors(names):
        return []
    return [b for b in BLOCKS if b["type"] == "PROCESSING" and not chain_errors([*names, b["name"]])]


# ----------------------------------------------------------------------------------------------
# Inputs, scene selection and prices
# ----------------------------------------------------------------------------------------------
def _geometry_input(inputs: Mapping[str, Any]) -> Any:
    for key in ("intersects", "contains"):
        if inputs.get(key) is not None:
            return shape(inputs[key])
    bbox = inputs.get("bbox")
    if bbox is not None and len(bbox) == 4:
        return box(*[float(v) for v in bbox])
    return None


def validate_block_inputs(block: Mapping[str, Any] | str, inputs: Any) -> list[str]:
    """Readable problems with a task's job input parameters (``jobs.responses.create_job`` body, one task's
    entry)."""
    resolved = find_block(block) if isinstance(block, str) else block
    if resolved is None:
        return [f"Unknown block '{block}'"]
    name = resolved["name"]
    if not isinstance(inputs, Mapping):
        return [f"Parameters of '{name}' must be an object"]
    specs = resolved["parameters"]
    errors: list[str] = []
    for key, value in inputs.items():
        spec = specs.get(key)
        if spec is None:
            if not (resolved["type"] == "DATA" and key == "asset_ids"):
                errors.append(f"Unknown parameter '{key}' for block '{name}'")
            continue
        if value is None:
            if spec.get("required"):
                errors.append(f"Parameter '{key}' of block '{name}' is required")
            continue
        errors.extend(_check_param(name, key, value, spec))
    for key, spec in specs.items():
        if spec.get("required") and key not in inputs and spec.get("default") is None:
            errors.append(f"Parameter '{key}' of block '{name}' is required")
    if resolved["type"] == "DATA" and not errors:
        given = [
            k for k in ("ids", "bbox", "intersects", "contains", "asset_ids") if inputs.get(k) is not None
        ]
        if not given:
            errors.append(
                f"Block '{name}' needs one of 'intersects', 'contains', 'bbox', 'ids' or 'asset_ids'"
            )
        elif len([k for k in given if k in ("bbox", "intersects", "contains")]) > 1:
            errors.append(f"Block '{name}' accepts only one of 'intersects', 'contains' and 'bbox'")
    return errors


def _check_param(block_name: str, key: str, value: Any, spec: Mapping[str, Any]) -> list[str]:
    where = f"Parameter '{key}' of block '{block_name}'"
    kind = spec.get("type")
    if kind == "dateRange":
        parts = value.split("/") if isinstance(value, str) else []
        try:
            if len(parts) != 2 or parse_datetime(parts[0]) > parse_datetime(parts[1]):
                return [f"{where} must be an interval 'start/end' with start <= end"]
        except ValueError as exc:
            return [f"{where}: {exc}"]
    elif kind in ("integer", "number"):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (kind == "integer" and not float(value).is_integer())
        ):
            return [f"{where} must be a {kind}"]
        if "minimum" in spec and value < spec["minimum"]:
            return [f"{where} must be >= {spec['minimum']}"]
        if "maximum" in spec and value > spec["maximum"]:
            return [f"{where} must be <= {spec['maximum']}"]
    elif kind == "boolean" and not isinstance(value, bool):
        return [f"{where} must be true or false"]
    elif kind == "string" and not isinstance(value, str):
        return [f"{where} must be a string"]
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where} must be a list"]
        if key == "bbox":
            if len(value) != 4 or not all(isinstance(v, (int, float)) for v in value):
                return [f"{where} must be [minLon, minLat, maxLon, maxLat]"]
            try:
                parse_geometry(box(*value).__geo_interface__, where)
            except ValueError as exc:
                return [str(exc)]
            if value[0] >= value[2] or value[1] >= value[3]:
                return [f"{where} must have min < max"]
        if key == "ids" and not all(isinstance(v, str) for v in value):
            return [f"{where} must be a list of scene ids"]
    elif kind == "geometry":
        try:
            parse_geometry(value, where, allow=("Polygon", "MultiPolygon", "Point"))
        except ValueError as exc:
            return [str(exc)]
    return []


def select_scenes(catalog: Catalog, block: Mapping[str, Any] | str, inputs: Mapping[str, Any]) -> list[Scene]:
    """The scenes a data block delivers for its job inputs (newest first, at most ``limit``).

    ``asset_ids`` inputs (re-processing stored assets) select no catalogue scenes: returns [].
    Raises SearchError (400) for inputs the catalogue refuses (e.g. a huge AOI).
    """
    resolved = find_block(block) if isinstance(block, str) else block
    if resolved is None or resolved["type"] != "DATA":
        raise ValueError(f"'{block}' is not a data block")
    spec = SPECS[resolved["collection"]]
    limit = int(inputs.get("limit") or 1)
    body: dict[str, Any] = {
        "collections": [spec.name],
        "sortby": [{"field": "properties.acquisitionDate", "direction": "desc"}],
    }
    if inputs.get("ids") is not None:
        body["ids"] = list(inputs["ids"])
        limit = max(limit, len(body["ids"]))
    elif inputs.get("asset_ids") is not None:
        return []
    if inputs.get("time") and "ids" not in body:
        body["datetime"] = str(inputs["time"])
    if inputs.get("bbox") is not None:
        body["bbox"] = list(inputs["bbox"])
    elif inputs.get("intersects") is not None:
        body["intersects"] = inputs["intersects"]
    elif inputs.get("contains") is not None:
        body["intersects"] = inputs["contains"]
    if inputs.get("max_cloud_cover") is not None:
        body["query"] = {"cloudCoverage": {"lte": inputs["max_cloud_cover"]}}
    scenes = catalog.search(spec.host, body)
    if inputs.get("contains") is not None:
        inner = shape(inputs["contains"])
        scenes = [s for s in scenes if shape(s.geometry).contains(inner)]
    return scenes[:limit]


def _nominal_scene_km2(collection: str) -> float:
    side = SPECS[collection].tile_deg * 111.0
    return side * side


def _block_parts(
    block: Mapping[str, Any] | str, inputs: Mapping[str, Any] | None, n_scenes: int
) -> tuple[int, int, float, str]:
    """(block credits, machine credits, resource amount, resource unit)."""
    resolved = find_block(block) if isinstance(block, str) else block
    if resolved is None:
        raise ValueError(f"Unknown block '{block}'")
    n = max(0, int(n_scenes))
    pricing = resolved["pricing"]
    machine = n * int(pricing["machineCreditsPerScene"])
    if resolved["type"] == "DATA":
        nominal = _nominal_scene_km2(resolved["collection"])
        geom = _geometry_input(inputs or {})
        per_scene_km2 = min(area_km2(geom), nominal) if geom is not None and not geom.is_empty else nominal
        per_scene_km2 = max(per_scene_km2, 1.0)
        block_credits = math.ceil(n * per_scene_km2 * pricing["blockCreditsPerSquareKm"])
        return block_credits, machine, round(n * per_scene_km2, 6), "SQUARE_KM"
    return n * int(pricing["blockCreditsPerScene"]), machine, round(3.145728 * n, 6), "MEGABYTE"


def block_credits(block: Mapping[str, Any] | str, inputs: Mapping[str, Any] | None, n_scenes: int) -> int:
    """Credits one workflow task costs for ``n_scenes`` scenes (``workflows.responses.estimate_job`` estimate
    == job charge)."""
    block_part, machine_part, _, _ = _block_parts(block, inputs, n_scenes)
    return block_part + machine_part


def block_consumption(
    block: Mapping[str, Any] | str, inputs: Mapping[str, Any] | None, n_scenes: int
) -> dict[str, Any]:
    """One task's ``workflows.responses.estimate_job`` entry; its credits add up to :func:`block_credits` for
    the same arguments."""
    block_part, machine_part, amount, unit = _block_parts(block, inputs, n_scenes)
    duration_ms = 20_000 * max(1, int(n_scenes))
    return {
        "blockConsumption": {
            "credit": {"max": block_part, "min": block_part},
            "resources": {"max": amount, "min": amount, "unit": unit},
        },
        "machineConsumption": {
            "credit": {"max": machine_part, "min": machine_part},
            "duration": {"max": duration_ms, "min": duration_ms},
        },
    }


# ----------------------------------------------------------------------------------------------
# Coverage (``blocks.responses.get_coverage_url`` and the public file it names) and manifest validation
# (``blocks.responses.validate_block_manifest``)
# ----------------------------------------------------------------------------------------------
def block_coverage(block: Mapping[str, Any] | str) -> dict[str, Any] | None:
    """The coverage FeatureCollection of a data block (None for processing blocks: no coverage)."""
    resolved = find_block(block) if isinstance(block, str) else block
    if resolved is None or resolved["type"] != "DATA":
        return None
    spec = SPECS[resolved["collection"]]
    ring = [
        [-180.0, spec.lat_min],
        [180.0, spec.lat_min],
        [180.0, spec.lat_max],
        [-180.0, spec.lat_max],
        [-180.0, spec.lat_min],
    ]
    return {
        "type": "FeatureCollection",
        "name": resolved["name"],
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "block": resolved["name"],
                    "collection": spec.name,
                    "since": spec.start.isoformat(),
                },
                "geometry": {"type": "MultiPolygon", "coordinates": [[ring]]},
            }
        ],
    }


_MANIFEST_KEYS = {
    "_up42_specification_version",
    "name",
    "type",
    "tags",
    "display_name",
    "description",
    "parameters",
    "machine",
    "input_capabilities",
    "output_capabilities",
}
_MANIFEST_REQUIRED = (
    "_up42_specification_version",
    "name",
    "type",
    "tags",
    "display_name",
    "description",
    "machine",
    "input_capabilities",
    "output_capabilities",
)
_MACHINES = {"small", "medium", "large", "xlarge", "xxlarge", "gpu", "gpu_p100", "gpu_nvidia_tesla_k80"}
_PARAM_TYPES = {"string", "number", "integer", "boolean", "array", "object", "geometry", "dateRange"}


def validate_manifest(manifest: Any) -> list[str]:
    """Problems of a custom block manifest (``blocks.responses.validate_block_manifest``); [] = valid."""
    if not isinstance(manifest, Mapping):
        return ["The manifest must be a JSON object"]
    errors = [f"'{k}' is a required property" for k in _MANIFEST_REQUIRED if k not in manifest]
    errors.extend(f"Additional property '{k}' is not allowed" for k in manifest if k not in _MANIFEST_KEYS)
    version = manifest.get("_up42_specification_version")
    if "_up42_specification_version" in manifest and version != 2:
        errors.append(f"'_up42_specification_version' must be 2, got {version!r}")
    name = manifest.get("name")
    if "name" in manifest and (
        not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,63}", name)
    ):
        errors.append("'name' must be 2-64 lower-case letters, digits, '-' or '_'")
    kind = manifest.get("type")
    if "type" in manifest and (not isinstance(kind, str) or kind.upper() not in ("DATA", "PROCESSING")):
        errors.append(f"'type' must be 'data' or 'processing', got {kind!r}")
    tags = manifest.get("tags")
    if "tags" in manifest and (not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags)):
        errors.append("'tags' must be a list of non-empty strings")
    for key in ("display_name", "description"):
        if key in manifest and (not isinstance(manifest[key], str) or not manifest[key].strip()):
            errors.append(f"'{key}' must be a non-empty string")
    machine = manifest.get("machine")
    if "machine" in manifest:
        if not isinstance(machine, Mapping) or "type" not in machine:
            errors.append("'machine' must be an object with a 'type'")
        elif machine["type"] not in _MACHINES:
            errors.append(f"'machine.type' must be one of {sorted(_MACHINES)}, got {machine['type']!r}")
    for key in ("input_capabilities", "output_capabilities"):
        if key in manifest and not isinstance(manifest[key], Mapping):
            errors.append(f"'{key}' must be an object")
    if isinstance(manifest.get("output_capabilities"), Mapping) and not manifest["output_capabilities"]:
        errors.append("'output_capabilities' must declare at least one capability")
    if (
        isinstance(kind, str)
        and kind.upper() == "PROCESSING"
        and isinstance(manifest.get("input_capabilities"), Mapping)
        and not manifest["input_capabilities"]
    ):
        errors.append("A processing block must declare 'input_capabilities'")
    parameters = manifest.get("parameters", {})
    if not isinstance(parameters, Mapping):
        errors.append("'parameters' must be an object")
    else:
        for pname, pspec in parameters.items():
            if not isinstance(pspec, Mapping) or pspec.get("type") not in _PARAM_TYPES:
                errors.append(f"Parameter '{pname}' must have a 'type' among {sorted(_PARAM_TYPES)}")
    return errors


__all__ = [
    "BLOCKS",
    "SearchError",
    "block_consumption",
    "block_coverage",
    "block_credits",
    "chain_errors",
    "compatible_blocks",
    "find_block",
    "list_item",
    "select_scenes",
    "validate_block_inputs",
    "validate_manifest",
]
