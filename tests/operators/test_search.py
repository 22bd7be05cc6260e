"""UP42SearchCatalogOperator: AOI forms, validation before any request, XCom shape, output files."""

from __future__ import annotations

import json

import pytest

from up42_provider.operators.search import UP42SearchCatalogOperator

from .conftest import BERLIN, Up42, execute


def search(**kwargs) -> UP42SearchCatalogOperator:
    args = {
        "task_id": "search",
        "aoi": BERLIN,
        "collections": ["phr"],
        "acquisition_start": "2022-01-01",
        "acquisition_end": "2022-12-31",
        "limit": 3,
    }
    return UP42SearchCatalogOperator(**{**args, **kwargs})


def test_search_returns_a_small_feature_collection(up42: Up42):
    result = execute(search(max_cloud_cover=50))
    assert result["type"] == "FeatureCollection" and 1 <= len(result["features"]) <= 3
    for feature in result["features"]:
        assert feature["properties"]["id"] and feature["geometry"]["type"] == "Polygon"
        assert "providerProperties" not in feature["properties"]
        assert feature["properties"]["cloudCoverage"] <= 50
    full = execute(search(include_provider_properties=True))
    assert any("providerProperties" in f["properties"] for f in full["features"])
    json.dumps(result)  # XCom-safe


@pytest.mark.parametrize(
    "aoi",
    [
        [13.375, 52.510, 13.395, 52.522],
        "POLYGON ((13.375 52.51, 13.395 52.51, 13.395 52.522, 13.375 52.522, 13.375 52.51))",
        json.dumps({"type": "Feature", "properties": {}, "geometry": BERLIN}),
    ],
    ids=["bbox", "wkt", "geojson-text"],
)
def test_aoi_forms(up42: Up42, aoi):
    assert execute(search(aoi=aoi, limit="2"))["features"]  # templated "2" is fine too


def test_aoi_from_a_uri_and_results_to_files(up42: Up42, tmp_path):
    source = tmp_path / "in" / "aoi.geojson"
    source.parent.mkdir()
    source.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": BERLIN}],
            }
        )
    )
    out = tmp_path / "out" / "scenes.geojson"
    result = execute(search(aoi=f"file://{source}", output_path=f"file://{out}"))
    assert result["count"] == len(result["image_ids"]) >= 1 and result["uri"].endswith("scenes.geojson")
    written = json.loads(out.read_text())
    assert [f["properties"]["id"] for f in written["features"]] == result["image_ids"]
    assert any("providerProperties" in f["properties"] for f in written["features"])  # the file is complete

    import geopandas

    gpkg = tmp_path / "out" / "scenes.gpkg"
    result = execute(search(aoi=str(source), output_path=str(gpkg)))
    frame = geopandas.read_file(gpkg)
    assert list(frame["id"]) == result["image_ids"] and frame.crs.to_epsg() == 4326


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aoi": [13.4, 52.5, 13.3, 52.6]}, "aoi: .*inverted"),
        ({"aoi": "POLYGON ((1 2, 3"}, "aoi: "),
        ({"aoi": "s3-bucket/none.geojson"}, "aoi: AOI file .* does not exist"),
        ({"aoi": "file:///nonexistent/aoi.geojson"}, "aoi: AOI file .* does not exist"),
        ({"acquisition_start": "2022-12-31", "acquisition_end": "2022-01-01"}, "swap them"),
        (
            {"acquisition_end": "yesterday"},
            "acquisition_start/acquisition_end: end_date .yesterday. is not a date",
        ),
        ({"collections": []}, "collections must name at least one"),
        ({"limit": "ten"}, "limit must be a positive whole number"),
        ({"max_cloud_cover": 120}, "between 0 and 100"),
        ({"output_path": "/tmp/result.csv"}, r"must end in \.geojson, \.json or \.gpkg"),
    ],
)
def test_bad_input_fails_before_any_request(up42: Up42, kwargs, message):
    before = up42.requests
    with pytest.raises(ValueError, match=message):
        execute(search(**kwargs))
    assert up42.requests == before


def test_limit_all_is_the_explicit_way_to_get_every_match(up42: Up42):
    body = search(limit="all").search_parameters()
    assert body["limit"] == 500  # one full page per request
    every = up42.hook.search(body, limit="all")["features"]
    assert len(every) > 10
    result = execute(search(limit="ALL"))
    assert len(result["features"]) == len(every)
    default = UP42SearchCatalogOperator(
        task_id="default",
        aoi=BERLIN,
        collections=["phr"],
        acquisition_start="2022-01-01",
        acquisition_end="2022-12-31",
    )
    assert len(execute(default)["features"]) == 10  # no limit given: the safe default, not everything


def test_empty_result(up42: Up42):
    op = search(acquisition_start="1990-01-01", acquisition_end="1990-01-02")
    assert execute(op)["features"] == []
    with pytest.raises(ValueError, match="No images in"):
        execute(search(acquisition_start="1990-01-01", acquisition_end="1990-01-02", fail_on_empty=True))


def test_unknown_collection_is_reported(up42: Up42):
    with pytest.raises(ValueError, match="unknown collection"):
        execute(search(collections=["no-such"]))


def test_coverage_plot_of_the_results(up42: Up42, tmp_path):
    from PIL import Image

    target = tmp_path / "plots" / "coverage.png"
    result = execute(search(limit=5, plot_coverage_to=str(target)))
    assert result["features"]
    with Image.open(target) as image:
        low, high = image.convert("L").getextrema()
        assert image.size[0] > 100 and high - low > 20  # not blank
