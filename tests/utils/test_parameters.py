"""Request-body builders: up42-py's payloads (API.md §9.3-9.4), with clear errors."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from up42_provider.utils import parameters as P

BBOX = [13.3, 52.4, 13.4, 52.5]
POLYGON = {
    "type": "Polygon",
    "coordinates": [[[13.4, 52.4], [13.4, 52.5], [13.3, 52.5], [13.3, 52.4], [13.4, 52.4]]],
}

# A data-product order schema of our own, shaped like E20 answers (required + allOf/$ref enums).
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["id", "aoi", "processingLevel", "bands"],
    "properties": {
        "id": {"title": "Image id", "type": "string"},
        "aoi": {"title": "AOI", "type": "object"},
        "processingLevel": {
            "title": "Processing level",
            "allOf": [{"$ref": "#/definitions/processingLevel"}],
        },
        "bands": {"title": "Bands", "type": "integer", "minimum": 1, "maximum": 4},
        "deliveredAs": {"title": "Delivered as", "allOf": [{"$ref": "#/definitions/deliveredAs"}]},
    },
    "definitions": {
        "processingLevel": {
            "anyOf": [{"const": "ORTHO", "title": "ORTHO"}, {"const": "SENSOR", "title": "SENSOR"}]
        },
        "deliveredAs": {"anyOf": [{"const": "GEOTIFF", "title": "GeoTIFF"}]},
    },
}
TASKING_SCHEMA = {
    "required": ["displayName", "acquisitionStart", "acquisitionEnd", "geometry", "acquisitionMode"],
    "properties": {
        "displayName": {"title": "Name"},
        "acquisitionStart": {"title": "Start"},
        "acquisitionEnd": {"title": "End"},
        "geometry": {"title": "Geometry"},
        "acquisitionMode": {"title": "Mode", "allOf": [{"$ref": "#/definitions/acquisitionMode"}]},
    },
    "definitions": {"acquisitionMode": {"anyOf": [{"const": "MONO", "title": "Mono"}]}},
}

# Workflow tasks as E42 returns them (our own data): a data block and a processing block.
WORKFLOW_TASKS = [
    {
        "id": "a1",
        "name": "esa-s2-l2a-gtiff-visual:1",
        "blockName": "esa-s2-l2a-gtiff-visual",
        "blockVersionTag": "1.0.1",
        "block": {
            "name": "esa-s2-l2a-gtiff-visual",
            "parameters": {
                "time": {
                    "type": "dateRange",
                    "default": "2018-01-01T00:00:00+00:00/2020-12-31T23:59:59+00:00",
                },
                "ids": {"type": "array", "default": None},
                "bbox": {"type": "array", "default": None},
                "intersects": {"type": "geometry"},
                "limit": {"type": "integer", "default": 1},
            },
        },
    },
    {
        "id": "a2",
        "name": "tiling:1",
        "blockName": "tiling",
        "blockVersionTag": "2.2.3",
        "block": {
            "name": "tiling",
            "parameters": {
                "nodata": {"type": "number", "default": None},
                "tile_width": {"type": "number", "default": 768},
                "required_but_no_default": {"type": "number", "required": True},
                "optional_without_default": {"type": "string"},
            },
        },
    },
]


# --------------------------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("value", "end_of_day", "expected"),
    [
        ("2021-01-01", False, "2021-01-01T00:00:00Z"),
        ("2021-01-01", True, "2021-01-01T23:59:59Z"),
        (date(2021, 2, 3), True, "2021-02-03T23:59:59Z"),
        (date(2021, 2, 3), False, "2021-02-03T00:00:00Z"),
        ("2021-01-01T10:11:12", True, "2021-01-01T10:11:12Z"),  # a time of day is kept
        ("2021-01-01T10:11:12Z", False, "2021-01-01T10:11:12Z"),
        ("2021-01-01T10:11:12.987654Z", False, "2021-01-01T10:11:12Z"),
        ("2021-01-01T10:11:12+02:00", False, "2021-01-01T08:11:12Z"),  # converted to UTC
        (datetime(2021, 1, 1, 5, 6, 7), False, "2021-01-01T05:06:07Z"),
        (datetime(2021, 1, 1, 5, 6, 7, tzinfo=timezone(timedelta(hours=-5))), False, "2021-01-01T10:06:07Z"),
    ],
)
def test_format_timestamp(value, end_of_day, expected):
    assert P.format_timestamp(value, end_of_day=end_of_day) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2021-02-30", "not a valid date: use YYYY-MM-DD"),
        ("yesterday", "not a date or timestamp"),
        (20210101, "must be a date, datetime or ISO string"),
    ],
)
def test_format_timestamp_errors(value, message):
    with pytest.raises(ValueError, match=message):
        P.format_timestamp(value, field="start_date")


def test_format_time_period():
    assert P.format_time_period("2021-01-01", "2021-02-01") == "2021-01-01T00:00:00Z/2021-02-01T23:59:59Z"
    assert P.format_time_period("2021-01-01", "2021-01-01") == "2021-01-01T00:00:00Z/2021-01-01T23:59:59Z"
    with pytest.raises(ValueError, match=r"start_date 2021-03-01T00:00:00Z is after end_date .*: swap them"):
        P.format_time_period("2021-03-01", "2021-02-01")
    with pytest.raises(ValueError, match="needs both start and end"):
        P.format_time_period("2021-03-01", None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ search


def test_search_parameters_match_the_sdk_body():
    body = P.search_parameters(
        geometry=BBOX,
        collections=["phr"],
        start_date="2022-01-01",
        end_date="2022-01-31",
        usage_type=["DATA"],
        limit=3,
        max_cloudcover=20,
    )
    assert body == {
        "datetime": "2022-01-01T00:00:00Z/2022-01-31T23:59:59Z",
        "intersects": POLYGON,
        "limit": 3,
        "collections": ["phr"],
        "query": {"cloudCoverage": {"lte": 20}, "up42:usageType": {"in": ["DATA"]}},
        "sortby": [{"field": "properties.acquisitionDate", "direction": "asc"}],
    }


def test_search_parameters_defaults_and_variants():
    body = P.search_parameters(POLYGON, "phr", sortby="cloudCoverage", ascending=False)
    assert body["datetime"] == "2020-01-01T00:00:00Z/2020-01-30T23:59:59Z"
    assert body["collections"] == ["phr"]
    assert body["query"] == {}
    assert body["limit"] == 10
    assert body["sortby"] == [{"field": "properties.cloudCoverage", "direction": "desc"}]
    both = P.search_parameters(POLYGON, ["phr"], usage_type=["ANALYTICS", "DATA"])
    assert both["query"] == {"up42:usageType": {"in": ["ANALYTICS", "DATA"]}}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"usage_type": ["RAW"]}, "usage_type .* is not allowed"),
        ({"usage_type": ["DATA", "DATA"]}, "usage_type .* is not allowed"),
        ({"sortby": "price"}, "sortby 'price' is not sortable"),
        ({"max_cloudcover": 120}, "between 0 and 100"),
        ({"max_cloudcover": "low"}, "must be a number 0-100"),
        ({"limit": 0}, "limit must be a positive integer"),
        ({"collections": []}, "collections must name at least one"),
        ({"geometry": [0, 0, 200, 1]}, "outside longitude"),
        ({"start_date": "2022-02-01", "end_date": "2022-01-01"}, "swap them"),
    ],
)
def test_search_parameters_errors(kwargs, message):
    args = {"geometry": BBOX, "collections": ["phr"], **kwargs}
    with pytest.raises(ValueError, match=message):
        P.search_parameters(**args)


# ------------------------------------------------------------------------------------------ orders


def test_catalog_order_parameters_fill_missing_required_with_none():
    order = P.catalog_order_parameters(SCHEMA, "dp-1", "img-1", aoi=BBOX, tags=["t1"])
    assert order == {
        "dataProduct": "dp-1",
        "params": {"id": "img-1", "aoi": POLYGON, "processingLevel": None, "bands": None},
        "tags": ["t1"],
    }
    assert P.missing_order_parameters(order, SCHEMA) == {
        "processingLevel": ["ORTHO", "SENSOR"],
        "bands": {"type": "integer", "minimum": 1, "maximum": 4},
    }


def test_catalog_order_parameters_without_aoi_and_tags():
    order = P.catalog_order_parameters(SCHEMA, "dp-1", "img-1")
    assert "tags" not in order
    assert order["params"] == {"id": "img-1", "aoi": None, "processingLevel": None, "bands": None}
    assert P.catalog_order_parameters(SCHEMA, "dp-1", "img-1", tags="one")["tags"] == ["one"]


def test_catalog_order_parameter_errors():
    with pytest.raises(ValueError, match="image_id is empty"):
        P.catalog_order_parameters(SCHEMA, "dp-1", "")
    with pytest.raises(ValueError, match="schema must be the data product's order schema"):
        P.catalog_order_parameters([], "dp-1", "img")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="AOI has 2 features"):
        P.catalog_order_parameters(
            SCHEMA,
            "dp-1",
            "img",
            aoi={"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": POLYGON}] * 2},
        )


def test_schema_parameter_options():
    assert P.schema_parameter_options(SCHEMA, "deliveredAs") == ["GEOTIFF"]
    assert P.schema_parameter_options(SCHEMA, "id") == {"type": "string"}
    assert P.schema_parameter_options(SCHEMA, "unknown") == {}


def test_tasking_order_parameters():
    order = P.tasking_order_parameters(
        TASKING_SCHEMA,
        "dp-t",
        "My tasking",
        "2024-05-01",
        "2024-05-31",
        {"type": "Point", "coordinates": [13.4, 52.5]},
    )
    assert order == {
        "dataProduct": "dp-t",
        "params": {
            "displayName": "My tasking",
            "acquisitionStart": "2024-05-01T00:00:00Z",
            "acquisitionEnd": "2024-05-31T23:59:59Z",
            "geometry": {"type": "Point", "coordinates": [13.4, 52.5]},
            "acquisitionMode": None,
        },
    }
    with_polygon = P.tasking_order_parameters(
        TASKING_SCHEMA, "dp-t", "n", "2024-05-01", "2024-05-02", BBOX, ["x"]
    )
    assert with_polygon["params"]["geometry"] == POLYGON and with_polygon["tags"] == ["x"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dp", "", "2024-05-01", "2024-05-02", BBOX), "needs a name"),
        (("dp", "n", "2024-06-01", "2024-05-02", BBOX), "acquisition_start .* is after acquisition_end"),
        (("dp", "n", "soon", "2024-05-02", BBOX), "acquisition_start 'soon' is not a date"),
        (("dp", "n", "2024-05-01", "2024-05-02", "LINESTRING (0 0, 1 1)"), "AOI is a LineString"),
    ],
)
def test_tasking_order_parameter_errors(args, message):
    with pytest.raises(ValueError, match=message):
        P.tasking_order_parameters(TASKING_SCHEMA, *args)


def test_with_tag_copies_and_deduplicates():
    order = {"dataProduct": "dp", "params": {"id": "x"}, "tags": ["a"]}
    tagged = P.with_tag(order, "b")
    assert tagged["tags"] == ["a", "b"] and order["tags"] == ["a"]
    assert P.with_tag(tagged, "b")["tags"] == ["a", "b"]
    assert P.with_tag({"dataProduct": "dp", "params": {}}, "c")["tags"] == ["c"]


# -------------------------------------------------------------------------------------------- jobs


def test_default_job_parameters():
    assert P.default_job_parameters(WORKFLOW_TASKS) == {
        "esa-s2-l2a-gtiff-visual:1": {
            "time": "2018-01-01T00:00:00+00:00/2020-12-31T23:59:59+00:00",
            "ids": None,
            "bbox": None,
            "limit": 1,
        },
        "tiling:1": {"nodata": None, "tile_width": 768, "required_but_no_default": None},
    }


def test_job_parameters_match_the_sdk_example():
    inputs = P.job_parameters(
        WORKFLOW_TASKS,
        geometry=BBOX,
        geometry_operation="intersects",
        start_date="2021-01-01",
        end_date="2021-02-01",
        limit=2,
    )
    assert inputs == {
        "esa-s2-l2a-gtiff-visual:1": {
            "time": "2021-01-01T00:00:00Z/2021-02-01T23:59:59Z",
            "ids": None,
            "bbox": None,
            "limit": 2,
            "intersects": POLYGON,
        },
        "tiling:1": {"nodata": None, "tile_width": 768, "required_but_no_default": None},
    }


def test_job_parameters_scene_ids_replace_time():
    data = P.job_parameters(WORKFLOW_TASKS, scene_ids=["s1", "s2"], limit=5)["esa-s2-l2a-gtiff-visual:1"]
    assert data["ids"] == ["s1", "s2"] and data["limit"] == 2 and "time" not in data


def test_job_parameters_read_ids_like_every_operator():
    """One parser: "s1,s2" and a rendered list mean two scenes here as in the sensors."""
    for given in ("s1,s2", "['s1', 's2']", '["s1", "s2"]', ("s1", "s2", "s1")):
        data = P.job_parameters(WORKFLOW_TASKS, scene_ids=given)["esa-s2-l2a-gtiff-visual:1"]
        assert data["ids"] == ["s1", "s2"] and data["limit"] == 2


def test_job_parameters_asset_ids_replace_the_data_block():
    inputs = P.job_parameters(WORKFLOW_TASKS, asset_ids=["as1"], geometry=BBOX, geometry_operation="bbox")
    assert inputs["esa-s2-l2a-gtiff-visual:1"] == {"asset_ids": ["as1"]}
    assert inputs["tiling:1"]["tile_width"] == 768


def test_job_parameters_bbox_and_contains():
    data = P.job_parameters(WORKFLOW_TASKS, geometry=POLYGON, geometry_operation="bbox")[
        "esa-s2-l2a-gtiff-visual:1"
    ]
    assert data["bbox"] == BBOX
    assert data["time"].startswith("2018")  # defaults untouched
    contains = P.job_parameters(WORKFLOW_TASKS, geometry=BBOX, geometry_operation="contains")
    assert contains["esa-s2-l2a-gtiff-visual:1"]["contains"] == POLYGON


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"geometry": BBOX}, "geometry needs geometry_operation"),
        ({"geometry": BBOX, "geometry_operation": "within"}, "geometry_operation 'within' is unknown"),
        ({"start_date": "2021-01-01"}, "start_date and end_date go together"),
        ({"limit": -1}, "limit must be a positive integer"),
        ({"scene_ids": ["s1", "a b"]}, "scene_ids 'a b' contains whitespace"),
        ({"scene_ids": []}, "scene_ids is empty"),
        ({"asset_ids": [""]}, "asset_ids is empty"),
        ({"asset_ids": [1]}, "asset_ids must be an id or a list of ids"),
        ({"geometry": "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "geometry_operation": "intersects"}, "invalid"),
    ],
)
def test_job_parameter_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        P.job_parameters(WORKFLOW_TASKS, **kwargs)


def test_job_parameters_need_tasks():
    with pytest.raises(ValueError, match="The workflow has no tasks"):
        P.job_parameters([])
    with pytest.raises(ValueError, match="get_workflow_tasks items, each with a 'name'"):
        P.job_parameters([{"block": {}}])


def test_job_parameters_parallel_combinations():
    geometries = [BBOX, [13.0, 52.0, 13.1, 52.1]]
    by_scene = P.job_parameters_parallel(WORKFLOW_TASKS, geometries=geometries, scene_ids=["s1", "s2", "s3"])
    assert len(by_scene) == 6
    assert [p["esa-s2-l2a-gtiff-visual:1"]["ids"] for p in by_scene[:3]] == [["s1"], ["s2"], ["s3"]]
    intervals = [("2021-01-01", "2021-01-31"), ("2021-02-01", "2021-02-28")]
    by_time = P.job_parameters_parallel(
        WORKFLOW_TASKS, geometries=geometries, interval_dates=intervals, limit_per_job=3
    )
    assert len(by_time) == 4
    assert by_time[1]["esa-s2-l2a-gtiff-visual:1"]["time"] == "2021-02-01T00:00:00Z/2021-02-28T23:59:59Z"
    assert all(p["esa-s2-l2a-gtiff-visual:1"]["limit"] == 3 for p in by_time)
    only_scenes = P.job_parameters_parallel(WORKFLOW_TASKS, scene_ids=["s1", "s2"])
    assert len(only_scenes) == 2 and "intersects" not in only_scenes[0]["esa-s2-l2a-gtiff-visual:1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Pass geometries with scene_ids"),
        ({"geometries": [BBOX]}, "also pass scene_ids or interval_dates"),
        (
            {"geometries": [BBOX], "scene_ids": ["a"], "interval_dates": [("2021-01-01", "2021-01-02")]},
            "not both",
        ),
        ({"geometries": POLYGON, "scene_ids": ["a"]}, "wrap a single AOI in a list"),
        ({"geometries": [BBOX], "interval_dates": ["2021-01-01"]}, "must be \\(start, end\\) pairs"),
    ],
)
def test_job_parameters_parallel_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        P.job_parameters_parallel(WORKFLOW_TASKS, **kwargs)


def test_with_job_mode():
    inputs = {"task:1": {"limit": 1}}
    assert P.with_job_mode(inputs, dry_run=True) == {"task:1": {"limit": 1}, "config": {"mode": "DRY_RUN"}}
    assert P.with_job_mode(inputs, dry_run=False) == inputs
    assert "config" not in inputs
