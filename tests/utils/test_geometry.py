"""AOI parsing: every accepted input form, reprojection, and the ValueErrors that name the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, box, mapping, shape

from up42_provider.utils.geometry import example_aoi, read_vector_file, to_bbox, to_polygon_geojson

BERLIN_BOUNDS = [13.3, 52.4, 13.4, 52.5]
# The ring of API.md §8.4 (shapely ``box`` order): what up42-py sends for this bbox.
BERLIN_RING = [[13.4, 52.4], [13.4, 52.5], [13.3, 52.5], [13.3, 52.4], [13.4, 52.4]]
BERLIN_POLYGON = {"type": "Polygon", "coordinates": [BERLIN_RING]}


def feature(geometry: dict, **props: object) -> dict:
    return {"type": "Feature", "properties": dict(props), "geometry": geometry}


def collection(*geometries: dict) -> dict:
    return {"type": "FeatureCollection", "features": [feature(g) for g in geometries]}


def project(geom, epsg: int):
    return shapely.transform(
        geom, Transformer.from_crs(4326, epsg, always_xy=True).transform, interleaved=False
    )


def assert_same_shape(result: dict, expected: dict, tolerance: float = 1e-6) -> None:
    assert result["type"] == expected["type"]
    assert (
        shape(result).equals_exact(shape(expected), tolerance)
        or shape(result).symmetric_difference(shape(expected)).area < tolerance
    )


# ----------------------------------------------------------------------------------- accepted forms


def test_bbox_gives_the_sdk_ring_exactly():
    assert to_polygon_geojson(BERLIN_BOUNDS) == BERLIN_POLYGON
    assert to_polygon_geojson(tuple(BERLIN_BOUNDS)) == BERLIN_POLYGON
    assert to_polygon_geojson("[13.3, 52.4, 13.4, 52.5]") == BERLIN_POLYGON


def test_geojson_geometry_feature_and_collection():
    assert to_polygon_geojson(BERLIN_POLYGON) == BERLIN_POLYGON
    assert to_polygon_geojson(feature(BERLIN_POLYGON, name="x")) == BERLIN_POLYGON
    assert to_polygon_geojson(collection(BERLIN_POLYGON)) == BERLIN_POLYGON
    assert to_polygon_geojson(json.dumps(collection(BERLIN_POLYGON))) == BERLIN_POLYGON
    assert (
        to_polygon_geojson({"type": "GeometryCollection", "geometries": [BERLIN_POLYGON]}) == BERLIN_POLYGON
    )


def test_output_is_plain_json():
    result = to_polygon_geojson(box(*BERLIN_BOUNDS))
    assert json.loads(json.dumps(result)) == result
    assert isinstance(result["coordinates"][0][0], list)


def test_wkt_with_and_without_srid():
    wkt = "POLYGON ((13.3 52.4, 13.4 52.4, 13.4 52.5, 13.3 52.5, 13.3 52.4))"
    assert_same_shape(to_polygon_geojson(wkt), BERLIN_POLYGON)
    assert_same_shape(to_polygon_geojson(f"SRID=4326;{wkt}"), BERLIN_POLYGON)
    assert_same_shape(to_polygon_geojson(wkt.lower()), BERLIN_POLYGON)


def test_shapely_geometry_and_single_part_multipolygon():
    assert_same_shape(to_polygon_geojson(box(*BERLIN_BOUNDS)), BERLIN_POLYGON)
    result = to_polygon_geojson(MultiPolygon([box(*BERLIN_BOUNDS)]))
    assert result["type"] == "Polygon"


def test_z_coordinates_are_dropped():
    ring = [[x, y, 35.0] for x, y in BERLIN_RING]
    result = to_polygon_geojson({"type": "Polygon", "coordinates": [ring]})
    assert all(len(point) == 2 for point in result["coordinates"][0])


def test_reprojection_with_crs_argument():
    # Web-Mercator metres of the Berlin bbox.
    mercator = project(box(*BERLIN_BOUNDS), 3857)
    assert_same_shape(to_polygon_geojson(mercator, crs="EPSG:3857"), BERLIN_POLYGON, 1e-9)
    assert_same_shape(to_polygon_geojson(list(mercator.bounds), crs=3857), BERLIN_POLYGON, 1e-9)


def test_reprojection_from_legacy_geojson_crs_member():
    value = collection(mapping(project(box(*BERLIN_BOUNDS), 25833)))
    value["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25833"}}
    assert_same_shape(to_polygon_geojson(json.loads(json.dumps(value))), BERLIN_POLYGON, 1e-7)


def test_geodataframe_is_reprojected():
    import geopandas

    gdf = geopandas.GeoDataFrame({"name": ["x"]}, geometry=[box(*BERLIN_BOUNDS)], crs=4326).to_crs(3857)
    assert_same_shape(to_polygon_geojson(gdf), BERLIN_POLYGON, 1e-9)
    assert_same_shape(to_polygon_geojson(gdf.geometry), BERLIN_POLYGON, 1e-9)


def test_point_only_when_allowed():
    assert to_polygon_geojson(Point(13.4, 52.5), allow_point=True) == {
        "type": "Point",
        "coordinates": [13.4, 52.5],
    }
    with pytest.raises(ValueError, match="AOI is a Point; UP42 needs exactly one Polygon: buffer it"):
        to_polygon_geojson(Point(13.4, 52.5))


def test_dissolve_merges_touching_features():
    left, right = box(13.3, 52.4, 13.35, 52.5), box(13.35, 52.4, 13.4, 52.5)
    value = collection(mapping(left), mapping(right))
    assert_same_shape(to_polygon_geojson(value, dissolve=True), BERLIN_POLYGON)


def test_bbox_helper():
    assert to_bbox(BERLIN_POLYGON) == BERLIN_BOUNDS


# --------------------------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("suffix", "driver"),
    [(".geojson", "GeoJSON"), (".shp", "ESRI Shapefile"), (".gpkg", "GPKG"), (".kml", "KML")],
)
def test_vector_files(tmp_path: Path, suffix: str, driver: str):
    import geopandas

    path = tmp_path / f"aoi{suffix}"
    crs = 4326 if driver == "KML" else 25833  # KML is always WGS84
    gdf = geopandas.GeoDataFrame({"name": ["berlin"]}, geometry=[box(*BERLIN_BOUNDS)], crs=4326).to_crs(crs)
    gdf.to_file(path, driver=driver)
    assert_same_shape(to_polygon_geojson(path), BERLIN_POLYGON, 1e-7)
    assert_same_shape(to_polygon_geojson(str(path)), BERLIN_POLYGON, 1e-7)
    fc = read_vector_file(path)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 1


def test_wkt_file(tmp_path: Path):
    path = tmp_path / "aoi.wkt"
    path.write_text(box(*BERLIN_BOUNDS).wkt)
    assert_same_shape(to_polygon_geojson(path), BERLIN_POLYGON)


def test_file_with_several_features_names_the_file(tmp_path: Path):
    path = tmp_path / "many.geojson"
    path.write_text(json.dumps(collection(BERLIN_POLYGON, BERLIN_POLYGON, BERLIN_POLYGON)))
    with pytest.raises(
        ValueError, match=r"AOI has 3 features; UP42 needs exactly one Polygon: dissolve them"
    ) as err:
        to_polygon_geojson(path)
    assert "many.geojson" in str(err.value)


def test_missing_and_unreadable_files(tmp_path: Path):
    with pytest.raises(ValueError, match="does not exist: check the path"):
        to_polygon_geojson(tmp_path / "nope.geojson")
    broken = tmp_path / "broken.gpkg"
    broken.write_text("not a geopackage")
    with pytest.raises(ValueError, match="Cannot read AOI file"):
        to_polygon_geojson(broken)


# ------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("aoi", "message"),
    [
        (None, "No AOI given"),
        ([1, 2, 3], "needs 4 numbers"),
        ([13.4, 52.4, 13.3, 52.5], "empty or inverted"),
        (["a", "b", "c", "d"], "must be numbers"),
        ([0, 0, float("nan"), 1], "finite"),
        (
            collection(BERLIN_POLYGON, BERLIN_POLYGON, BERLIN_POLYGON),
            "AOI has 3 features; UP42 needs exactly one",
        ),
        ({"type": "FeatureCollection", "features": []}, "AOI has no features"),
        ({"type": "Feature", "geometry": None}, "has no geometry"),
        ({"type": "Polygon"}, "has no 'coordinates'"),
        ({"type": "Banana"}, "expected a GeoJSON Polygon"),
        ("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "invalid \\(Self-intersection"),
        ("POLYGON ((0 0, 1 1, 2 2, 0 0))", "invalid|zero area"),
        ("POLYGON EMPTY", "empty"),
        ("LINESTRING (0 0, 1 1)", "AOI is a LineString"),
        (MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)]), "AOI is a MultiPolygon.*dissolve them"),
        ([1486000, 6890000, 1487000, 6891000], "outside longitude -180..180.*crs='EPSG:<code>'"),
        ("POLYGON ((0 0, 1 0", "WKT does not parse"),
        ("{not json", "does not parse"),
        ("just words", "Cannot read AOI text"),
        ("", "AOI text is empty"),
        (42, "Cannot use a int as AOI"),
    ],
)
def test_invalid_aoi_messages(aoi: object, message: str):
    with pytest.raises(ValueError, match=message):
        to_polygon_geojson(aoi)


def test_unknown_crs():
    with pytest.raises(ValueError, match="Unknown AOI CRS"):
        to_polygon_geojson(box(0, 0, 1, 1), crs="EPSG:999999")


# ---------------------------------------------------------------------------------------- examples


@pytest.mark.parametrize("location", ["Berlin", "berlin", "Washington"])
def test_example_aoi_is_a_small_valid_polygon(location: str):
    fc = example_aoi(location)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 1
    polygon = to_polygon_geojson(fc)
    geom = shape(polygon)
    assert geom.is_valid and 0 < geom.area < 0.01


def test_example_aoi_locations_differ_and_unknown_fails():
    assert to_polygon_geojson(example_aoi("Berlin")) != to_polygon_geojson(example_aoi("Washington"))
    with pytest.raises(ValueError, match="choose one of: Berlin, Washington"):
        example_aoi("Paris")
