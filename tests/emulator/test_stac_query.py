"""The one STAC query engine (up42_provider/emulator/stac_query.py) on plain item lists."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from shapely.geometry import box

from up42_provider.emulator import geo
from up42_provider.emulator import stac_query as q
from up42_provider.emulator.http import ApiError

UTC = timezone.utc


def item(i: int, **props) -> dict:
    x = 13.0 + i
    return {
        "type": "Feature",
        "id": f"item-{i:02d}",
        "collection": "a" if i % 2 else "b",
        "bbox": [x, 52.0, x + 0.5, 52.5],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x, 52.0], [x + 0.5, 52.0], [x + 0.5, 52.5], [x, 52.5], [x, 52.0]]],
        },
        "properties": {"datetime": f"2024-01-{i + 1:02d}T00:00:00+00:00", "gsd": i / 2, **props},
        "links": [],
    }


ITEMS = [
    item(i, tags=["even"] if i % 2 == 0 else ["odd"], **({"cloud": None} if i == 3 else {})) for i in range(8)
]


def bad(fn, *args, fragment: str, **kwargs) -> None:
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    assert err.value.status == 400 and err.value.title == "Bad request"
    assert fragment in err.value.message, err.value.message


def ids(items) -> list[str]:
    return [i["id"] for i in items]


def matching(expr) -> list[str]:
    test = q.compile_cql2(expr)
    return [i["id"] for i in ITEMS if test(i)]


def test_interval_forms():
    t = datetime(2024, 1, 3, tzinfo=UTC)
    assert q.parse_interval("2024-01-03T00:00:00Z") == (t, t)
    assert q.parse_interval("2024-01-03T00:00:00Z/..") == (t, None)
    assert q.parse_interval("/2024-01-03") == (None, t)
    for text, reason in (
        ("../..", "both ends are open"),
        ("yesterday/today", "not RFC 3339 timestamps"),
        ("2024-02-01/2024-01-01", "start is after end"),
        ("2024-01-01/2024-01-02/2024-01-03", "more than one '/'"),
    ):
        bad(q.parse_interval, text, fragment=f"Invalid datetime interval '{text}': {reason}")
    bad(q.parse_interval, "yesterday", fragment="Invalid datetime 'yesterday': not an RFC 3339 timestamp")
    bad(q.parse_interval, 5, fragment="'datetime' must be an RFC 3339 timestamp or an interval")

    def strict(text: str) -> datetime:  # a caller's own timestamp rules
        if "T" not in text:
            raise ValueError(text)
        return q.parse_iso(text)

    bad(q.parse_interval, "2024-01-03", strict, fragment="not an RFC 3339 timestamp")
    assert q.parse_interval("2024-01-03T00:00:00Z", strict) == (t, t)


def test_query_extension():
    def found(query) -> list[str]:
        test = q.compile_query(query)
        return [i["id"] for i in ITEMS if test(i)]

    assert found({"gsd": {"gte": 3, "lt": 3.5}}) == ["item-06"]
    assert found({"collection": {"in": ["b"]}, "gsd": {"neq": 0}}) == ["item-02", "item-04", "item-06"]
    assert found({"cloud": {"eq": None}}) == []  # missing values never match
    bad(q.compile_query, {"gsd": {"near": 3}}, fragment="Unsupported query operator 'near'")
    bad(q.compile_query, {"gsd": 3}, fragment="query.gsd must be an object")
    bad(q.compile_query, {"gsd": {"in": 3}}, fragment="query.gsd.in must be a list")
    bad(q.compile_query, [], fragment="'query' must be an object")
    page, _ = q.run_search(
        ITEMS,
        q.parse_search({"query": {"gsd": {"lte": 0.5}}}, default_limit=10, max_limit=10),
        item=lambda i: i,
        default_sortby=[],
        max_page=10,
    )
    assert ids(page) == ["item-00", "item-01"]


def test_overlap_is_inclusive_and_open_ended():
    a, b = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 5, tzinfo=UTC)
    assert q.overlaps(a, b, b, None) and q.overlaps(a, b, None, a)
    assert not q.overlaps(a, a, b, None) and not q.overlaps(None, b, None, None)


def test_compare_table_and_spellings():
    assert q.compare("gte", 2, 2) and q.compare(">=", 2, 2) and q.compare("ge", 2, 2)
    assert q.compare("neq", "a", "b") and not q.compare("=", None, None)
    assert q.compare("<", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5+00:00")  # instants, not text
    assert not q.compare("=", True, 1) and not q.compare("<", "a", 1)
    bad(q.compare, "≈", 1, 1, fragment="Unsupported comparison '≈'")


def test_cql2_operators():
    gsd = {"property": "gsd"}
    assert matching({"op": "<", "args": [gsd, 1]}) == ["item-00", "item-01"]
    assert matching({"op": "between", "args": [gsd, 1, 2]}) == ["item-02", "item-03", "item-04"]
    assert matching({"op": "not", "args": [{"op": ">=", "args": [gsd, 0.5]}]}) == ["item-00"]
    assert matching(
        {
            "op": "and",
            "args": [{"op": "=", "args": [{"property": "collection"}, "a"]}, {"op": "<", "args": [gsd, 2]}],
        }
    ) == [
        "item-01",
        "item-03",
    ]
    assert matching({"op": "in", "args": [{"property": "id"}, ["item-05", "nope"]]}) == ["item-05"]
    assert matching({"op": "like", "args": [{"property": "id"}, "item-0_"]}) == ids(ITEMS)
    assert matching({"op": "isNull", "args": [{"property": "cloud"}]}) == ids(ITEMS)  # null and missing
    assert matching({"op": "a_contains", "args": [{"property": "tags"}, ["odd"]]}) == [
        "item-01",
        "item-03",
        "item-05",
        "item-07",
    ]
    assert matching({"op": "a_overlaps", "args": [{"property": "tags"}, ["x", "even"]]})[:2] == [
        "item-00",
        "item-02",
    ]
    after = {"op": ">", "args": [{"property": "datetime"}, {"timestamp": "2024-01-07T12:00:00Z"}]}
    assert matching(after) == ["item-07"]
    box = {
        "type": "Polygon",
        "coordinates": [[[15.1, 52.1], [15.2, 52.1], [15.2, 52.2], [15.1, 52.2], [15.1, 52.1]]],
    }
    assert matching({"op": "s_intersects", "args": [{"property": "geometry"}, box]}) == ["item-02"]
    assert matching({"op": "s_within", "args": [{"property": "geometry"}, box]}) == []
    assert matching(True) == ids(ITEMS)


def test_cql2_errors_name_the_problem():
    gsd = {"property": "gsd"}
    bad(q.compile_cql2, {"op": "≈", "args": [gsd, 1]}, fragment="Unsupported CQL2 operator '≈'")
    bad(q.compile_cql2, {"op": "=", "args": [gsd]}, fragment="'=' needs exactly two arguments")
    bad(q.compile_cql2, {"op": "and", "args": [True]}, fragment="'and' needs at least two")
    bad(q.compile_cql2, {"args": []}, fragment="Invalid CQL2 expression")
    bad(q.compile_cql2, {"op": "="}, fragment="needs an 'args' list")
    bad(q.compile_cql2, {"op": "in", "args": [gsd, 1]}, fragment="'in' needs a property and a list")
    bad(q.compile_cql2, {"op": "=", "args": [gsd, {"timestamp": "soon"}]}, fragment="Invalid CQL2 timestamp")
    bad(
        q.compile_cql2,
        {"op": "s_intersects", "args": [gsd, {"type": "Polygon"}]},
        fragment="not a valid GeoJSON",
    )


def test_aliases_resolve_queryables():
    value_of = q.value_getter({"order_id": "up42-order:id"})
    it = item(0, **{"up42-order:id": "o-1"})
    assert value_of(it, "order_id") == "o-1" and value_of(it, "properties.gsd") == 0.0
    assert value_of(it, "collection") == "b" and value_of(it, "missing") is None
    assert q.compile_cql2({"op": "=", "args": [{"property": "order_id"}, "o-1"]}, value_of)(it)


def test_sortby_forms_and_stable_order():
    assert q.parse_sortby("-properties.gsd,+id") == [
        {"field": "properties.gsd", "direction": "desc"},
        {"field": "id", "direction": "asc"},
    ]
    assert q.parse_sortby([{"field": "gsd"}]) == [{"field": "gsd", "direction": "asc"}]
    bad(q.parse_sortby, [{"field": "gsd", "direction": "up"}], fragment="Invalid sort direction 'up'")
    bad(
        q.parse_sortby,
        [{"field": "x"}],
        ["gsd"],
        fragment="Unsupported sort field 'x'; use one of properties.gsd",
    )
    bad(q.parse_sortby, {"field": "gsd"}, fragment="'sortby' must be a list")
    rows = [{"id": "c", "v": 1}, {"id": "a", "v": 2}, {"id": "b", "v": 1}, {"id": "d", "v": None}]
    ordered = q.sort_items(rows, [{"field": "v", "direction": "desc"}], lambda r, f: r[f], lambda r: r["id"])
    assert [r["id"] for r in ordered] == [
        "a",
        "b",
        "c",
        "d",
    ]  # ties by id, missing values last when descending


def test_fields_include_and_exclude():
    it = item(1)
    assert q.parse_fields("id,properties.gsd,-links") == {
        "include": ["id", "properties.gsd"],
        "exclude": ["links"],
    }
    reduced = q.apply_fields(it, q.parse_fields("properties.gsd"))
    assert reduced == {"id": it["id"], "type": "Feature", "links": [], "properties": {"gsd": 0.5}}
    without = q.apply_fields(it, {"include": [], "exclude": ["geometry", "properties.gsd", "id"]})
    assert "geometry" not in without and "gsd" not in without["properties"] and without["id"] == it["id"]
    assert "geometry" in it and it["properties"]["gsd"] == 0.5  # the stored item is untouched
    assert q.apply_fields(it, None) is it
    bad(q.parse_fields, {"include": "id"}, fragment="'fields.include' must be a list")


def test_tokens_round_trip_and_refuse_garbage():
    token = q.encode_token({"o": 5, "p": {"ids": ["x"]}})
    assert token.startswith("next:") and q.decode_token(token) == {"o": 5, "p": {"ids": ["x"]}}
    for garbage in ("next:garbage", "abc", 5, q.encode_token([1])):  # type: ignore[arg-type]
        bad(q.decode_token, garbage, fragment="Invalid pagination token")
    bad(q.search_from_token, q.encode_token({"p": {}}), fragment="Invalid pagination token")


def test_limit():
    assert q.parse_limit(None, 10, 100) == 10 and q.parse_limit("7", 10, 100) == 7
    for raw in (0, 101, "x", True):
        bad(q.parse_limit, raw, 10, 100, fragment="'limit'")


def search(body: dict, **kwargs):
    return q.parse_search(body, default_limit=3, max_limit=1000, **kwargs)


def test_search_pages_never_overlap_and_tokens_continue():
    s = search({"limit": 3, "sortby": [{"field": "collection", "direction": "asc"}]})
    seen: list[str] = []
    while True:
        page, more = q.run_search(ITEMS, s, item=lambda i: i, default_sortby=[], max_page=100)
        seen += ids(page)
        if not more:
            break
        s = search({"token": s.token(s.offset + len(page)), "limit": 99})  # the token wins
    assert len(seen) == len(set(seen)) == len(ITEMS)
    assert seen == ["item-01", "item-03", "item-05", "item-07", "item-00", "item-02", "item-04", "item-06"]
    page, more = q.run_search(ITEMS, search({"limit": 1000}), item=lambda i: i, default_sortby=[], max_page=5)
    assert len(page) == 5 and more  # the server caps the page


def test_search_filters_combine():
    def found(body: dict) -> list[str]:
        page, _ = q.run_search(
            ITEMS, search({"limit": 100, **body}), item=lambda i: i, default_sortby=[], max_page=100
        )
        return ids(page)

    assert found({"collections": ["a"], "ids": ["item-01", "item-02"]}) == ["item-01"]
    assert found({"datetime": "2024-01-07T00:00:00Z/.."}) == ["item-06", "item-07"]
    assert found({"bbox": [16.1, 52.1, 16.2, 52.2]}) == ["item-03"]
    assert found({"bbox": [16.1, 52.1, 0, 16.2, 52.2, 10]}) == ["item-03"]
    point = {"type": "Point", "coordinates": [13.25, 52.25]}
    assert found({"intersects": point, "filter": {"op": "=", "args": [{"property": "gsd"}, 0]}}) == [
        "item-00"
    ]
    bad(search, {"bbox": [1, 2, 3]}, fragment="'bbox' must be a list of 4 or 6 numbers")
    bad(search, {"ids": "item-01"}, fragment="'ids' must be a list of strings")
    bad(
        search,
        {"filter": {"op": "=", "args": [1, 1]}, "filter-lang": "cql2-text"},
        fragment="filter-lang 'cql2-text'",
    )
    bad(
        search,
        {"intersects": {"type": "Polygon", "coordinates": []}},
        fragment="'intersects' is an empty geometry",
    )
    bad(search, [], fragment="Search body must be a JSON object")


def test_query_body_converts_a_get_search():
    query = {
        "limit": "5",
        "bbox": "1,2,3,4",
        "collections": "a,b",
        "filter": '{"op": "=", "args": [{"property": "gsd"}, 1]}',
        "datetime": "2024-01-01/..",
        "fields": "id",
    }
    body = q.query_body(query, lambda k: query[k].split(","))
    assert body == {
        "limit": "5",
        "datetime": "2024-01-01/..",
        "fields": "id",
        "collections": ["a", "b"],
        "bbox": [1.0, 2.0, 3.0, 4.0],
        "filter": {"op": "=", "args": [{"property": "gsd"}, 1]},
    }
    assert search(body).limit == 5
    bad(q.query_body, {"bbox": "1,x"}, lambda k: [], fragment="'bbox' must be comma-separated numbers")
    bad(q.query_body, {"filter": "gsd = 1"}, lambda k: [], fragment="only cql2-json filters are supported")


# -- the one parser behind each endpoint's wording (geo.py and the engine's parameters) ---------------


def test_one_interval_parser_two_wordings():
    """geo.parse_interval is the catalog search's reading; stac_query's is the same rule for storage,
    without the no-bounds form and in storage's words."""
    t = datetime(2024, 1, 3, tzinfo=UTC)
    assert geo.parse_interval(None) == (None, None) and geo.parse_interval("../..") == (None, None)
    assert geo.parse_interval("2024-01-03/..") == q.parse_interval("2024-01-03/..") == (t, None)
    for text, catalog_says, storage_says in (
        ("2024-02-01/2024-01-01", "start is after end", "start is after end"),
        ("a/b/c", "Invalid datetime interval 'a/b/c'", "more than one '/'"),
        ("yesterday", "Invalid datetime 'yesterday': invalid timestamp", "not an RFC 3339 timestamp"),
    ):
        with pytest.raises(ValueError, match=catalog_says):
            geo.parse_interval(text)
        bad(q.parse_interval, text, fragment=storage_says)
    bad(q.parse_interval, None, fragment="'datetime' must be an RFC 3339 timestamp")
    with pytest.raises(ValueError, match="both ends are open"):
        geo.parse_interval("../..", open_both=False)


def test_one_geometry_parser_checked_or_not():
    far = {"type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 0]]]}
    with pytest.raises(ValueError, match="EPSG:4326"):
        geo.parse_geometry(far, "aoi")
    assert geo.parse_geometry(far, "aoi", checked=False).bounds == (200, 0, 201, 1)
    assert q.parse_geometry(far, "intersects").bounds == (200, 0, 201, 1)  # storage keeps what it is given
    point = {"type": "Point", "coordinates": [13.4, 52.5]}
    with pytest.raises(ValueError, match="aoi must be a GeoJSON Polygon or MultiPolygon, got 'Point'"):
        geo.parse_geometry(point, "aoi", allow=("Polygon", "MultiPolygon"))
    assert geo.parse_geometry(point, "aoi", allow=None).geom_type == "Point"
    with pytest.raises(ValueError, match=r"^x: no$"):
        geo.parse_geometry(point, "x", messages={**geo.GEOMETRY_MESSAGES, "type": "{what}: no"})
    bad(q.parse_geometry, 5, "intersects", fragment="'intersects' is not a valid GeoJSON geometry")


def test_area_km2_degree_of_latitude():
    square = box(13.0, 52.0, 13.1, 52.1)
    assert geo.area_km2(square) == pytest.approx(75.70, abs=0.01)
    assert geo.area_km2(square, km_per_degree_lat=111.32) == pytest.approx(
        geo.area_km2(square) * 111.32 / 110.574
    )


def test_sortby_text_form_and_wording_are_per_caller():
    assert q.sortby_rules("-gsd, +id,") == [
        {"field": "gsd", "direction": "desc"},
        {"field": "id", "direction": "asc"},
    ]
    bad(q.parse_sortby, "-gsd", text_form=False, fragment="'sortby' must be a list")
    words = {**q.SORTBY_MESSAGES, "direction": "got {sent!r}, lowered {direction}"}
    bad(
        q.parse_sortby, [{"field": "gsd", "direction": "UP"}], messages=words, fragment="got 'UP', lowered up"
    )


def test_query_body_wording_is_per_caller():
    words = {**q.QUERY_BODY_MESSAGES, "bbox": "bbox {value} is not numbers"}
    bad(q.query_body, {"bbox": "1,x"}, lambda k: [], messages=words, fragment="bbox 1,x is not numbers")
