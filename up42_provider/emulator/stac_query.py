"""The one STAC query engine of the emulator: item search over a plain list of STAC items.

Storage (both generations) and the catalogs search STAC items the same way, so the rules live here
once: ``datetime`` intervals, ``bbox``/``intersects``, ``ids``/``collections``, CQL2-JSON filters
(and the comparison table the STAC ``query`` extension shares), ``sortby`` in its POST and GET
forms, the ``query`` and ``fields`` extensions, ``limit`` and self-contained paging tokens.

Everything is a function over items (dicts shaped like STAC items, or any object with a
``value_of`` accessor): a caller parses the request with :func:`parse_search`, then pages with
:func:`run_search`. Invalid input raises the emulator's one 400 (:func:`http.bad_request`), which
each generation renders in its own error shape.

Behaviour where the STAC specs leave room (our choices, as the real storage API behaves):

* ``datetime`` is an instant or ``start/end`` (``..`` or empty for an open end); an item matches
  when its ``start_datetime``..``end_datetime`` (or ``datetime``) overlaps the interval, bounds
  inclusive.
* CQL2-JSON: ``=, <>, <, <=, >, >=`` (also ``eq, neq, lt, lte, gt, gte``), ``and, or, not, like,
  in, between, isNull, s_intersects, s_within, s_contains, a_contains, a_containedBy,
  a_overlaps, a_equals``; ISO strings compare as instants; a comparison with a missing value is
  false (never an error).
* ``sortby`` is stable with ``id`` as the final tie-break, so pages never overlap.
* The ``next`` token carries the whole search, so following a next link with only its body (what
  pystac-client does) or the original body plus the token (what the 2023 SDK does) both work.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from up42_provider.emulator import geo
from up42_provider.emulator.clock import parse_iso
from up42_provider.emulator.http import ApiError, bad_request

T = TypeVar("T")
Item = Mapping[str, Any]
Predicate = Callable[[Item], bool]
ValueOf = Callable[[Item, str], Any]

TOKEN_PREFIX = "next:"
TOP_LEVEL = ("id", "collection", "bbox", "geometry", "type")

# -- time ---------------------------------------------------------------------------------------------


def as_datetime(value: Any) -> datetime | None:
    """A datetime or ISO string as an aware UTC datetime; None when absent or unreadable."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value:
        try:
            return parse_iso(value)
        except ValueError:
            return None
    return None


INTERVAL_MESSAGES = {
    "shape": "'datetime' must be an RFC 3339 timestamp or an interval 'start/end' ('..' for an open end)",
    "parts": "Invalid datetime interval '{value}': more than one '/'",
    "instant": "Invalid datetime '{value}': not an RFC 3339 timestamp",
    "ends": "Invalid datetime interval '{value}': not RFC 3339 timestamps",
    "open": "Invalid datetime interval '{value}': both ends are open",
    "order": "Invalid datetime interval '{value}': start is after end",
}
"""Storage's wording of ``geo.parse_interval``'s refusals (the catalog search keeps geo's)."""


def parse_interval(
    value: Any, parse: Callable[[str], datetime] = parse_iso
) -> tuple[datetime | None, datetime | None]:
    """STAC ``datetime`` as storage's search reads it: ``geo.parse_interval`` without the
    no-bounds form (a search without a time filter sends no ``datetime``), 400 in storage's words.

    ``parse`` reads one timestamp (a caller with stricter RFC 3339 rules passes its own).
    """
    try:
        return geo.parse_interval(value, parse=parse, open_both=False, messages=INTERVAL_MESSAGES)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def overlaps(
    start: datetime | None, end: datetime | None, low: datetime | None, high: datetime | None
) -> bool:
    """Whether ``[start, end]`` meets the (possibly open) interval ``[low, high]``."""
    if start is None or end is None:
        return False
    return (high is None or start <= high) and (low is None or end >= low)


# -- item access --------------------------------------------------------------------------------------


def value_getter(aliases: Mapping[str, str] | None = None) -> ValueOf:
    """An accessor for STAC item fields by name: top-level keys, properties, ``properties.`` names
    and queryable aliases (``asset_id`` -> ``up42-system:asset_id``)."""
    table = dict(aliases or {})

    def value_of(item: Item, name: str) -> Any:
        name = name.removeprefix("properties.")
        if name in TOP_LEVEL:
            return item.get(name)
        props = item.get("properties") or {}
        if name in props:
            return props[name]
        return props.get(table.get(name, name))

    return value_of


item_value = value_getter()


def item_geometry(item: Item) -> BaseGeometry:
    if item.get("geometry"):
        return shape(item["geometry"])
    return box(*item["bbox"][:4]) if len(item["bbox"]) == 4 else box(*item["bbox"][:2], *item["bbox"][3:5])


def item_interval(item: Item) -> tuple[datetime | None, datetime | None]:
    props = item.get("properties") or {}
    start = as_datetime(props.get("start_datetime") or props.get("datetime"))
    end = as_datetime(props.get("end_datetime") or props.get("datetime"))
    return start, end


GEOMETRY_MESSAGES = {
    **dict.fromkeys(geo.GEOMETRY_MESSAGES, "'{what}' is not a valid GeoJSON geometry"),
    "empty": "'{what}' is an empty geometry",
}


def parse_geometry(value: Any, name: str) -> BaseGeometry:
    """A GeoJSON geometry of a search body: ``geo.parse_geometry`` of any type, coordinates
    unchecked (storage holds what it was given); 400 naming the parameter when it is unusable."""
    try:
        return geo.parse_geometry(value, name, allow=None, checked=False, messages=GEOMETRY_MESSAGES)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def bbox_geometry(bbox: Sequence[float]) -> BaseGeometry:
    """A 2D or 3D STAC bbox as a box (the first four or the x/y of six numbers)."""
    return box(bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else box(*bbox)


# -- comparisons (CQL2 and the STAC ``query`` extension) -----------------------------------------------

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
OP_ALIASES = {
    "eq": "=",
    "==": "=",
    "neq": "<>",
    "ne": "<>",
    "!=": "<>",
    "lt": "<",
    "lte": "<=",
    "le": "<=",
    "gt": ">",
    "gte": ">=",
    "ge": ">=",
}
_ISO_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")


def comparison(op: str) -> Callable[[Any, Any], bool] | None:
    """The comparison named ``op`` in any spelling (``>=``, ``gte``, ``ge``), or None."""
    return COMPARISONS.get(OP_ALIASES.get(op.lower(), op))


def compare(op: str, left: Any, right: Any) -> bool:
    """``left op right`` with STAC semantics: missing values never match, ISO strings compare as
    instants, booleans only equal booleans, incomparable types are simply false."""
    fn = comparison(op)
    if fn is None:
        raise bad_request(f"Unsupported comparison '{op}'")
    if left is None or right is None:
        return False
    if (
        isinstance(left, datetime)
        or isinstance(right, datetime)
        or (
            isinstance(left, str)
            and isinstance(right, str)
            and _ISO_PREFIX.match(left)
            and _ISO_PREFIX.match(right)
        )
    ):
        left_dt, right_dt = as_datetime(left), as_datetime(right)
        if left_dt is not None and right_dt is not None:
            left, right = left_dt, right_dt
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    try:
        return bool(fn(left, right))
    except TypeError:
        return False


# -- the STAC ``query`` extension ---------------------------------------------------------------------

QUERY_OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "in")


def compile_query(value: Any, value_of: ValueOf = item_value) -> Predicate:
    """``{"prop": {"op": operand}}`` (the STAC query extension) as one predicate over items."""
    if not isinstance(value, Mapping):
        raise bad_request("'query' must be an object {property: {operator: value}}")
    tests: list[Predicate] = []
    for prop, cond in value.items():
        if not isinstance(cond, Mapping):
            raise bad_request(f"query.{prop} must be an object {{operator: value}}")
        for op, operand in cond.items():
            if op not in QUERY_OPERATORS:
                raise bad_request(f"Unsupported query operator '{op}' (use {', '.join(QUERY_OPERATORS)})")
            if op == "in" and not isinstance(operand, list):
                raise bad_request(f"query.{prop}.in must be a list")
            tests.append(_query_test(prop, op, operand, value_of))
    return lambda item: all(t(item) for t in tests)


def _query_test(prop: str, op: str, operand: Any, value_of: ValueOf) -> Predicate:
    """One ``{"prop": {"op": operand}}`` condition of :func:`compile_query`."""
    if op == "in":
        return lambda item: any(compare("=", value_of(item, prop), x) for x in operand)
    return lambda item: compare(op, value_of(item, prop), operand)


# -- CQL2-JSON ------------------------------------------------------------------------------------

_SPATIAL = {"s_intersects": "intersects", "s_within": "within", "s_contains": "contains"}
_ARRAY = ("a_contains", "a_containedby", "a_overlaps", "a_equals")


def compile_cql2(
    expr: Any, value_of: ValueOf = item_value, geometry: Callable[[Item], BaseGeometry] = item_geometry
) -> Predicate:
    """Compile a CQL2-JSON boolean expression into a predicate over items (400 if invalid)."""
    if isinstance(expr, bool):
        return lambda item: expr
    if not isinstance(expr, dict) or not isinstance(expr.get("op"), str):
        raise bad_request(f"Invalid CQL2 expression: {json.dumps(expr)[:200]}")
    lowered = expr["op"].lower()
    op = "isNull" if lowered == "isnull" else OP_ALIASES.get(lowered, lowered)
    args = expr.get("args")
    if not isinstance(args, list):
        raise bad_request(f"CQL2 operator '{op}' needs an 'args' list")

    def operand(arg: Any) -> Callable[[Item], Any]:
        return _operand(arg, value_of)

    if op in ("and", "or"):
        if len(args) < 2:
            raise bad_request(f"CQL2 '{op}' needs at least two arguments")
        parts = [compile_cql2(a, value_of, geometry) for a in args]
        if op == "and":
            return lambda item: all(p(item) for p in parts)
        return lambda item: any(p(item) for p in parts)
    if op == "not":
        if len(args) != 1:
            raise bad_request("CQL2 'not' needs exactly one argument")
        inner = compile_cql2(args[0], value_of, geometry)
        return lambda item: not inner(item)
    if op in COMPARISONS:
        if len(args) != 2:
            raise bad_request(f"CQL2 '{op}' needs exactly two arguments")
        left, right = operand(args[0]), operand(args[1])
        return lambda item: compare(op, left(item), right(item))
    if op == "like":
        if len(args) != 2 or not isinstance(args[1], str):
            raise bad_request("CQL2 'like' needs a property and a pattern string")
        pattern = re.compile(
            "^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in args[1]) + "$",
            re.S,
        )
        subject = operand(args[0])
        return lambda item: isinstance(subject(item), str) and bool(pattern.match(subject(item)))
    if op == "in":
        if len(args) != 2 or not isinstance(args[1], list):
            raise bad_request("CQL2 'in' needs a property and a list")
        subject, options = operand(args[0]), [operand(a) for a in args[1]]
        return lambda item: any(compare("=", subject(item), o(item)) for o in options)
    if op == "between":
        if len(args) != 3:
            raise bad_request("CQL2 'between' needs three arguments")
        subject, low, high = (operand(a) for a in args)
        return lambda item: (
            compare(">=", subject(item), low(item)) and compare("<=", subject(item), high(item))
        )
    if op == "isNull":
        if len(args) != 1:
            raise bad_request("CQL2 'isNull' needs one argument")
        subject = operand(args[0])
        return lambda item: subject(item) is None
    if op in _SPATIAL:
        if len(args) != 2:
            raise bad_request(f"CQL2 '{op}' needs two arguments")
        geom, method = parse_geometry(args[1], op), _SPATIAL[op]
        return lambda item: getattr(geometry(item), method)(geom)
    if op in _ARRAY:
        if len(args) != 2:
            raise bad_request(f"CQL2 '{op}' needs two arguments")
        left, right = operand(args[0]), operand(args[1])
        return lambda item: _array_op(op, left(item), right(item))
    raise bad_request(f"Unsupported CQL2 operator '{expr['op']}'")


def _operand(arg: Any, value_of: ValueOf) -> Callable[[Item], Any]:
    if isinstance(arg, dict):
        if "property" in arg:
            name = str(arg["property"])
            return lambda item: value_of(item, name)
        for key in ("timestamp", "date"):
            if key in arg:
                when = as_datetime(arg[key])
                if when is None:
                    raise bad_request(f"Invalid CQL2 {key} {arg[key]!r}")
                return lambda item: when
        raise bad_request(f"Unsupported CQL2 value {json.dumps(arg)[:200]}")
    if isinstance(arg, list):
        values = [_operand(a, value_of) for a in arg]
        return lambda item: [v(item) for v in values]
    return lambda item: arg


def _array_op(op: str, left: Any, right: Any) -> bool:
    if not isinstance(left, list) or not isinstance(right, list):
        return False
    try:
        a, b = set(left), set(right)
    except TypeError:
        return False
    if op == "a_contains":
        return a >= b
    if op == "a_containedby":
        return a <= b
    if op == "a_overlaps":
        return bool(a & b)
    return a == b


# -- sortby ---------------------------------------------------------------------------------------


SORTBY_MESSAGES = {
    "list": "'sortby' must be a list",
    "entry": "'sortby' entries need a 'field'",
    "direction": "Invalid sort direction '{direction}'",
    "field": "Unsupported sort field '{field}'; use one of {names}",
}
"""The wording of :func:`parse_sortby`'s refusals, by reason (format fields: ``direction`` as
lowered, ``sent`` as given, ``field``, ``names``); the catalog search passes its own."""


def parse_sortby(
    value: Any,
    allowed: Sequence[str] | None = None,
    *,
    text_form: bool = True,
    messages: Mapping[str, str] = SORTBY_MESSAGES,
) -> list[dict[str, str]]:
    """POST form ``[{"field", "direction"}]`` or (with ``text_form``) GET form ``"-properties.datetime,+id"``.

    ``allowed`` (names without ``properties.``) restricts the sortable fields.
    """

    def refuse(reason: str, **fields: Any) -> ApiError:
        return bad_request(messages[reason].format(**fields))

    if text_form and isinstance(value, str):
        value = sortby_rules(value)
    if not isinstance(value, list):
        raise refuse("list")
    result = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
            raise refuse("entry")
        direction = str(entry.get("direction", "asc")).lower()
        if direction not in ("asc", "desc"):
            raise refuse("direction", direction=direction, sent=entry.get("direction"))
        if allowed is not None and entry["field"].removeprefix("properties.") not in allowed:
            names = ", ".join(f"properties.{f}" for f in allowed)
            raise refuse("field", field=entry["field"], names=names)
        result.append({"field": entry["field"], "direction": direction})
    return result


def sortby_rules(text: str) -> list[dict[str, str]]:
    """The GET form of ``sortby`` (``"-properties.datetime,+id"``) as POST-form rules."""
    return [
        {"field": part.lstrip("+-"), "direction": "desc" if part.startswith("-") else "asc"}
        for part in (p.strip() for p in text.split(","))
        if part
    ]


def sort_value(value: Any) -> tuple[int, Any]:
    """A sort key that orders missing values first and strings case-insensitively."""
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.lower())
    return (1, value)


def sort_items(
    items: Sequence[T],
    sortby: Sequence[Mapping[str, str]],
    value_of: Callable[[T, str], Any],
    tie_break: Callable[[T], Any],
) -> list[T]:
    """``items`` ordered by ``sortby`` (first rule most significant), ties broken by ``tie_break``."""
    ordered = sorted(items, key=tie_break)
    for rule in reversed(sortby):
        ordered.sort(key=_sort_key(value_of, rule["field"]), reverse=rule["direction"] == "desc")
    return ordered


def _sort_key(value_of: Callable[[T, str], Any], field: str) -> Callable[[T], tuple[int, Any]]:
    """The :func:`sort_items` key of one ``sortby`` rule."""
    return lambda item: sort_value(value_of(item, field))


# -- fields ----------------------------------------------------------------------------------------


def parse_fields(value: Any) -> dict[str, list[str]]:
    """The fields extension: ``{"include": [...], "exclude": [...]}`` or GET ``"id,-properties.gsd"``."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        value = {
            "include": [p.lstrip("+") for p in parts if not p.startswith("-")],
            "exclude": [p[1:] for p in parts if p.startswith("-")],
        }
    if not isinstance(value, dict):
        raise bad_request("'fields' must be an object with 'include' and/or 'exclude' lists")
    out: dict[str, list[str]] = {}
    for key in ("include", "exclude"):
        names = value.get(key) or []
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise bad_request(f"'fields.{key}' must be a list of field names")
        out[key] = list(names)
    return out


def apply_fields(item: dict[str, Any], fields: Mapping[str, Sequence[str]] | None) -> dict[str, Any]:
    """The item reduced as the fields extension says; ``id``, ``type`` and ``links`` always stay
    (clients such as pystac need them). ``exclude`` wins over ``include``."""
    if not fields or not (fields.get("include") or fields.get("exclude")):
        return item
    include = list(fields.get("include") or [])
    if include:
        out: dict[str, Any] = {k: item[k] for k in ("id", "type", "links") if k in item}
        for path in include:
            _copy_path(item, out, path.split("."))
    else:
        out = json.loads(json.dumps(item))
    for path in fields.get("exclude") or []:
        if path in ("id", "type", "links"):
            continue
        *parents, last = path.split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def _copy_path(source: Mapping[str, Any], target: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head not in source:
        return
    if not rest:
        target[head] = json.loads(json.dumps(source[head]))
    elif isinstance(source[head], Mapping):
        _copy_path(source[head], target.setdefault(head, {}), rest)


# -- limit and paging tokens ----------------------------------------------------------------------


def parse_limit(raw: Any, default: int, maximum: int) -> int:
    """``limit`` of a search: an integer in 1..maximum (numeric strings from GET queries too)."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise bad_request(f"'limit' must be an integer, got {raw!r}")
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise bad_request(f"'limit' must be an integer, got {raw!r}") from None
    if not 1 <= limit <= maximum:
        raise bad_request(f"'limit' must be between 1 and {maximum}")
    return limit


def encode_token(payload: Mapping[str, Any]) -> str:
    """A self-contained ``next:`` token (compact JSON, zlib, URL-safe base64)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def decode_token(token: Any) -> dict[str, Any]:
    """The payload of a token made by :func:`encode_token`; 400 when it is not one."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        raise bad_request("Invalid pagination token")
    text = token[len(TOKEN_PREFIX) :]
    try:
        data = json.loads(zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))
    except (ValueError, TypeError, zlib.error):
        raise bad_request("Invalid pagination token") from None
    if not isinstance(data, dict):
        raise bad_request("Invalid pagination token")
    return data


# -- search ----------------------------------------------------------------------------------------


@dataclass
class Search:
    """A parsed item search; serialisable into the self-contained next token."""

    params: dict[str, Any]
    limit: int
    offset: int = 0

    def token(self, offset: int) -> str:
        return encode_token({"p": self.params, "l": self.limit, "o": offset})


def search_from_token(token: Any) -> Search:
    data = decode_token(token)
    try:
        return Search(params=dict(data["p"]), limit=int(data["l"]), offset=int(data["o"]))
    except (KeyError, TypeError, ValueError):
        raise bad_request("Invalid pagination token") from None


def parse_search(
    body: Any,
    *,
    default_limit: int,
    max_limit: int,
    sortable: Sequence[str] | None = None,
    value_of: ValueOf = item_value,
) -> Search:
    """Validate a STAC item search body (POST form; convert GET queries with :func:`query_body`).

    A body with a ``token`` is the continuation of the search inside the token.
    """
    if not isinstance(body, dict):
        raise bad_request("Search body must be a JSON object")
    if body.get("token"):
        return search_from_token(body["token"])
    limit = parse_limit(body.get("limit"), default_limit, max_limit)
    params: dict[str, Any] = {}
    for key in ("collections", "ids"):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad_request(f"'{key}' must be a list of strings")
            params[key] = value
    if body.get("bbox") is not None:
        bbox = body["bbox"]
        if (
            not isinstance(bbox, list)
            or len(bbox) not in (4, 6)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        ):
            raise bad_request("'bbox' must be a list of 4 or 6 numbers")
        params["bbox"] = bbox
    if body.get("intersects") is not None:
        parse_geometry(body["intersects"], "intersects")
        params["intersects"] = body["intersects"]
    if body.get("datetime") not in (None, ""):
        parse_interval(body["datetime"])
        params["datetime"] = body["datetime"]
    flt = body.get("filter")
    if flt:
        lang = body.get("filter-lang") or body.get("filter_lang") or "cql2-json"
        if lang != "cql2-json":
            raise bad_request(f"Unsupported filter-lang '{lang}' (only cql2-json is supported)")
        if not isinstance(flt, dict):
            raise bad_request("'filter' must be a CQL2-JSON object")
        compile_cql2(flt, value_of)
        params["filter"] = flt
    if body.get("query") is not None:
        compile_query(body["query"], value_of)
        params["query"] = body["query"]
    if body.get("sortby"):
        params["sortby"] = parse_sortby(body["sortby"], sortable)
    if body.get("fields"):
        params["fields"] = parse_fields(body["fields"])
    return Search(params=params, limit=limit)


def predicates(params: Mapping[str, Any], value_of: ValueOf = item_value) -> list[Predicate]:
    """The item tests of a parsed search (all must hold)."""
    tests: list[Predicate] = []
    if params.get("collections"):
        wanted = set(params["collections"])
        tests.append(lambda i: i.get("collection") in wanted)
    if params.get("ids"):
        ids = set(params["ids"])
        tests.append(lambda i: i.get("id") in ids)
    if params.get("bbox"):
        area = bbox_geometry(params["bbox"])
        tests.append(lambda i: item_geometry(i).intersects(area))
    if params.get("intersects"):
        geom = shape(params["intersects"])
        tests.append(lambda i: item_geometry(i).intersects(geom))
    if params.get("datetime"):
        low, high = parse_interval(params["datetime"])
        tests.append(lambda i: overlaps(*item_interval(i), low, high))
    if params.get("filter"):
        tests.append(compile_cql2(params["filter"], value_of))
    if params.get("query"):
        tests.append(compile_query(params["query"], value_of))
    return tests


def run_search(
    candidates: Sequence[T],
    search: Search,
    *,
    item: Callable[[T], Item],
    default_sortby: Sequence[Mapping[str, str]],
    max_page: int,
    value_of: ValueOf = item_value,
) -> tuple[list[T], bool]:
    """The page of ``candidates`` (``item`` gives each one's STAC item) for ``search`` and whether
    more follow. Ties are broken by item id, so pages never overlap."""
    tests = predicates(search.params, value_of)
    matched = [c for c in candidates if all(t(item(c)) for t in tests)]
    ordered = sort_items(
        matched,
        search.params.get("sortby") or list(default_sortby),
        lambda c, f: value_of(item(c), f),
        lambda c: str(item(c).get("id")),
    )
    page_size = min(search.limit, max_page)
    page = ordered[search.offset : search.offset + page_size]
    return page, search.offset + page_size < len(ordered)


QUERY_BODY_MESSAGES = {
    "bbox": "'bbox' must be comma-separated numbers",
    "json": "'{key}' must be JSON (only cql2-json filters are supported)",
}
"""The wording of :func:`query_body`'s refusals (format fields: ``key``, ``value``)."""


def query_body(
    query: Mapping[str, str],
    getlist: Callable[[str], list[str]],
    *,
    messages: Mapping[str, str] = QUERY_BODY_MESSAGES,
) -> dict[str, Any]:
    """A GET search's query string as the equivalent POST body (``getlist`` reads list values)."""
    body: dict[str, Any] = {}
    for key in ("token", "limit", "datetime", "sortby", "filter-lang", "fields"):
        if query.get(key):
            body[key] = query[key]
    for key in ("collections", "ids"):
        if query.get(key):
            body[key] = getlist(key)
    if query.get("bbox"):
        try:
            body["bbox"] = [float(v) for v in query["bbox"].split(",")]
        except ValueError:
            raise bad_request(messages["bbox"].format(key="bbox", value=query["bbox"])) from None
    for key in ("intersects", "filter"):
        if query.get(key):
            try:
                body[key] = json.loads(query[key])
            except ValueError:
                raise bad_request(messages["json"].format(key=key, value=query[key])) from None
    return body
