"""Request bodies for catalog search, orders and jobs, built exactly as up42-py builds them,
so the service sees familiar payloads, but with errors that say what to fix.

All functions are pure: the hook fetches the data-product schema (``V1.get_data_product_schema``)
or the workflow tasks (``V1.get_workflow_tasks``) and passes them in, which keeps these builders
testable without HTTP.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

from up42_provider.utils.geometry import to_bbox, to_polygon_geojson
from up42_provider.utils.ids import check_id, parse_ids

log = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SEARCH_SORT_FIELDS = (
    "cloudCoverage",
    "acquisitionDate",
    "acquisitionIdentifier",
    "incidenceAngle",
    "snowCover",
)
USAGE_TYPES = ({"DATA"}, {"ANALYTICS"}, {"DATA", "ANALYTICS"})
GEOMETRY_OPERATIONS = ("bbox", "intersects", "contains")
_OPERATIONS_TEXT = ", ".join(GEOMETRY_OPERATIONS)
MAX_SEARCH_PAGE = 500  # the service's page cap of V1.search_catalog; the hook paginates beyond it

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

TimeInput = str | date | datetime


# ------------------------------------------------------------------------------------------------ time


def format_timestamp(value: TimeInput, *, end_of_day: bool = False, field: str = "time") -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``; date-only values get ``00:00:00`` (or ``23:59:59`` with ``end_of_day``).

    Aware datetimes are converted to UTC (up42-py drops the offset instead; converting is what the
    caller means), naive ones are taken as UTC.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, 23, 59, 59) if end_of_day else _midnight(value)
    elif isinstance(value, str):
        text = value.strip()
        if _DATE_ONLY.match(text):
            try:
                day = date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{field} {value!r} is not a valid date: use YYYY-MM-DD") from None
            return format_timestamp(day, end_of_day=end_of_day, field=field)
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(
                f"{field} {value!r} is not a date or timestamp: "
                "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[Z|+HH:MM]"
            ) from None
    else:
        raise ValueError(f"{field} must be a date, datetime or ISO string, got {type(value).__name__}")
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(TIMESTAMP_FORMAT)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def format_time_period(start: TimeInput, end: TimeInput) -> str:
    """``<start>/<end>`` with end-of-day on a date-only ``end``; raises if start is after end."""
    if start is None or end is None:
        raise ValueError("A time period needs both start and end: pass start_date and end_date together")
    start_text = format_timestamp(start, field="start_date")
    end_text = format_timestamp(end, end_of_day=True, field="end_date")
    if start_text > end_text:  # same fixed-width format, so text order is time order
        raise ValueError(f"start_date {start_text} is after end_date {end_text}: swap them")
    return f"{start_text}/{end_text}"


# -------------------------------------------------------------------------------------- catalog search


def search_parameters(
    geometry: Any,
    collections: str | Sequence[str],
    start_date: TimeInput = "2020-01-01",
    end_date: TimeInput = "2020-01-30",
    usage_type: Sequence[str] | None = None,
    limit: int = 10,
    max_cloudcover: float | None = None,
    sortby: str = "acquisitionDate",
    ascending: bool = True,
) -> dict[str, Any]:
    """The catalog search body (``V1.search_catalog``) of ``Catalog.construct_search_parameters``."""
    names = [collections] if isinstance(collections, str) else list(collections or [])
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("collections must name at least one catalog collection, e.g. ['phr']")
    _check_positive_int(limit, "limit")
    if sortby not in SEARCH_SORT_FIELDS:
        raise ValueError(f"sortby {sortby!r} is not sortable; use one of {', '.join(SEARCH_SORT_FIELDS)}")
    query: dict[str, Any] = {}
    if max_cloudcover is not None:
        if isinstance(max_cloudcover, bool) or not isinstance(max_cloudcover, (int, float)):
            raise ValueError(f"max_cloudcover must be a number 0-100, got {max_cloudcover!r}")
        if not 0 <= max_cloudcover <= 100:
            raise ValueError(f"max_cloudcover must be between 0 and 100 (percent), got {max_cloudcover}")
        query["cloudCoverage"] = {"lte": max_cloudcover}
    if usage_type is not None:
        usage = [usage_type] if isinstance(usage_type, str) else list(usage_type)
        if set(usage) not in USAGE_TYPES or len(usage) != len(set(usage)):
            raise ValueError(
                f"usage_type {usage!r} is not allowed: use ['DATA'], ['ANALYTICS'] or ['DATA', 'ANALYTICS']"
            )
        query["up42:usageType"] = {"in": usage}
    return {
        "datetime": format_time_period(start_date, end_date),
        "intersects": to_polygon_geojson(geometry),
        "limit": limit,
        "collections": names,
        "query": query,
        "sortby": [{"field": f"properties.{sortby}", "direction": "asc" if ascending else "desc"}],
    }


# ---------------------------------------------------------------------------------------------- orders


def schema_parameter_options(schema: Mapping[str, Any], name: str) -> Any:
    """What the data-product schema allows for one parameter: the enum consts, or the property spec."""
    prop = (schema.get("properties") or {}).get(name) or {}
    refs = [part.get("$ref", "") for part in prop.get("allOf") or [] if isinstance(part, Mapping)]
    for ref in refs:
        definition = (schema.get("definitions") or {}).get(ref.rsplit("/", 1)[-1]) or {}
        options = [
            o.get("const") for o in definition.get("anyOf") or [] if isinstance(o, Mapping) and "const" in o
        ]
        if options:
            return options
    return {k: v for k, v in prop.items() if k != "title"}


def _autocomplete(params: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Add every required schema parameter the caller did not give, as ``None`` (like up42-py)."""
    if not isinstance(schema, Mapping):
        raise ValueError(
            "schema must be the data product's order schema "
            "(the JSON Schema dict UP42Hook.get_data_product_schema returns)"
        )
    for name in schema.get("required") or []:
        if name not in params:
            params[name] = None
            log.info(
                "Order parameter %r is required; options: %s", name, schema_parameter_options(schema, name)
            )
    return params


def catalog_order_parameters(
    schema: Mapping[str, Any],
    data_product_id: str,
    image_id: str,
    aoi: Any = None,
    tags: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The archive order body (``V1.create_order``/``V1.estimate_order``) of
    ``Catalog.construct_order_parameters``.

    Required schema parameters not given are set to ``None``; fill them before placing the order
    (:func:`missing_order_parameters` lists them).
    """
    check_id(data_product_id, name="data_product_id")
    check_id(image_id, name="image_id")
    params: dict[str, Any] = {"id": image_id}
    if aoi is not None:
        params["aoi"] = to_polygon_geojson(aoi)
    params = _autocomplete(params, schema)
    order: dict[str, Any] = {"dataProduct": data_product_id, "params": params}
    if tags is not None:
        order["tags"] = _tags(tags)
    return order


def tasking_order_parameters(
    schema: Mapping[str, Any],
    data_product_id: str,
    name: str,
    acquisition_start: TimeInput,
    acquisition_end: TimeInput,
    geometry: Any,
    tags: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The tasking order body of ``Tasking.construct_order_parameters`` (Polygon or Point geometry)."""
    check_id(data_product_id, name="data_product_id")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("A tasking order needs a name (displayName): pass name='My tasking order'")
    start = format_timestamp(acquisition_start, field="acquisition_start")
    end = format_timestamp(acquisition_end, end_of_day=True, field="acquisition_end")
    if start > end:
        raise ValueError(f"acquisition_start {start} is after acquisition_end {end}: swap them")
    params: dict[str, Any] = {
        "displayName": name,
        "acquisitionStart": start,
        "acquisitionEnd": end,
        "geometry": to_polygon_geojson(geometry, allow_point=True),
    }
    params = _autocomplete(params, schema)
    order: dict[str, Any] = {"dataProduct": data_product_id, "params": params}
    if tags is not None:
        order["tags"] = _tags(tags)
    return order


def missing_order_parameters(
    order_parameters: Mapping[str, Any], schema: Mapping[str, Any]
) -> dict[str, Any]:
    """Required parameters still missing or ``None``, mapped to their allowed options."""
    params = order_parameters.get("params") or {}
    return {
        name: schema_parameter_options(schema, name)
        for name in schema.get("required") or []
        if params.get(name) is None
    }


def with_tag(order_parameters: Mapping[str, Any], tag: str) -> dict[str, Any]:
    """A copy of the order body whose ``tags`` include ``tag`` (used for idempotent placement)."""
    order = copy.deepcopy(dict(order_parameters))
    tags = list(order.get("tags") or [])
    if tag not in tags:
        tags.append(tag)
    order["tags"] = tags
    return order


# ------------------------------------------------------------------------------------------------ jobs


def default_job_parameters(workflow_tasks: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Step 1 of :func:`job_parameters`: per task, parameters with a ``default`` (even null) and
    required ones as null."""
    inputs: dict[str, dict[str, Any]] = {}
    for task in workflow_tasks:
        name = task.get("name")
        if not name:
            raise ValueError(
                "workflow_tasks must be the task list of the workflow "
                "(UP42Hook.get_workflow_tasks items, each with a 'name')"
            )
        block_params = ((task.get("block") or {}).get("parameters")) or {}
        values: dict[str, Any] = {}
        for param, spec in block_params.items():
            if not isinstance(spec, Mapping):
                continue
            if "default" in spec:
                values[param] = copy.deepcopy(spec["default"])
            elif spec.get("required"):
                values[param] = None
        inputs[name] = values
    return inputs


def job_parameters(
    workflow_tasks: Sequence[Mapping[str, Any]],
    geometry: Any = None,
    geometry_operation: str | None = None,
    start_date: TimeInput | None = None,
    end_date: TimeInput | None = None,
    limit: int | None = None,
    scene_ids: Sequence[str] | None = None,
    asset_ids: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Job inputs of ``Workflow.construct_parameters`` from the ``V1.get_workflow_tasks`` task list."""
    if not workflow_tasks:
        raise ValueError(
            "The workflow has no tasks: add a data block (and processing blocks) before building inputs"
        )
    inputs = default_job_parameters(workflow_tasks)
    data_task = workflow_tasks[0]["name"]
    if asset_ids is not None:
        ids = parse_ids(asset_ids, name="asset_ids")
        inputs[data_task] = {"asset_ids": ids}
        return inputs
    data = inputs[data_task]
    if limit is not None:
        _check_positive_int(limit, "limit")
        data["limit"] = limit
    if scene_ids is not None:
        ids = parse_ids(scene_ids, name="scene_ids")
        data["ids"] = ids
        data["limit"] = len(ids)
        data.pop("time", None)
    elif start_date is not None or end_date is not None:
        if start_date is None or end_date is None:
            raise ValueError("start_date and end_date go together: pass both (or neither)")
        data["time"] = format_time_period(start_date, end_date)
    if geometry_operation is not None and geometry_operation not in GEOMETRY_OPERATIONS:
        raise ValueError(
            f"geometry_operation {geometry_operation!r} is unknown: use one of {_OPERATIONS_TEXT}"
        )
    if geometry is not None:
        if geometry_operation is None:
            raise ValueError(
                f"geometry needs geometry_operation: pass one of {_OPERATIONS_TEXT} (usually 'intersects')"
            )
        if geometry_operation == "bbox":
            data["bbox"] = to_bbox(geometry)
        else:
            data[geometry_operation] = to_polygon_geojson(geometry)
    return inputs


def job_parameters_parallel(
    workflow_tasks: Sequence[Mapping[str, Any]],
    geometries: Sequence[Any] | None = None,
    interval_dates: Sequence[tuple[TimeInput, TimeInput]] | None = None,
    scene_ids: Sequence[str] | None = None,
    limit_per_job: int = 1,
    geometry_operation: str = "intersects",
) -> list[dict[str, dict[str, Any]]]:
    """One job input per combination (``Workflow.construct_parameters_parallel``): geometries x
    scene_ids (one id per job), geometries x interval_dates (``limit_per_job`` each), or scene_ids alone.
    """
    if scene_ids is not None and interval_dates is not None:
        raise ValueError(
            "Pass scene_ids or interval_dates, not both: a job selects scenes either by id or by time"
        )
    if geometries is not None:
        if isinstance(geometries, (Mapping, str)):
            raise ValueError(
                "geometries must be a list of AOIs (one job per AOI); wrap a single AOI in a list"
            )
        result = []
        for geometry in geometries:
            if scene_ids is not None:
                for scene_id in parse_ids(scene_ids, name="scene_ids"):
                    result.append(
                        job_parameters(
                            workflow_tasks,
                            geometry=geometry,
                            geometry_operation=geometry_operation,
                            scene_ids=[scene_id],
                        )
                    )
            elif interval_dates is not None:
                for pair in interval_dates:
                    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                        raise ValueError(f"interval_dates items must be (start, end) pairs, got {pair!r}")
                    result.append(
                        job_parameters(
                            workflow_tasks,
                            geometry=geometry,
                            geometry_operation=geometry_operation,
                            start_date=pair[0],
                            end_date=pair[1],
                            limit=limit_per_job,
                        )
                    )
            else:
                raise ValueError(
                    "With geometries, also pass scene_ids or interval_dates (one job per combination)"
                )
        return result
    if scene_ids is not None:
        return [
            job_parameters(workflow_tasks, scene_ids=[scene_id])
            for scene_id in parse_ids(scene_ids, name="scene_ids")
        ]
    raise ValueError("Pass geometries with scene_ids, geometries with interval_dates, or scene_ids alone")


def with_job_mode(inputs: Mapping[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """A copy of the job inputs marked ``"config": {"mode": "DRY_RUN"}`` for test jobs (free of charge)."""
    result = copy.deepcopy(dict(inputs))
    if dry_run:
        config = dict(result.get("config") or {})
        config["mode"] = "DRY_RUN"
        result["config"] = config
    return result


# ------------------------------------------------------------------------------------------- checks


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _tags(tags: Sequence[str] | str) -> list[str]:
    if isinstance(tags, str):
        return [tags]
    result = list(tags)
    if not all(isinstance(t, str) for t in result):
        raise ValueError(f"tags must be strings, got {result!r}")
    return result
