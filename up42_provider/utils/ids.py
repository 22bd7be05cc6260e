"""UP42 ids: the one parser of id inputs and the one check of an id before it becomes a URL path segment.

Every operator, sensor, trigger and request builder reads ids through :func:`parse_ids`, so
``order_ids="a,b"`` means two orders everywhere. :func:`check_id` runs where endpoint paths are
formatted (:meth:`up42_provider.api.endpoints.base.Endpoint.format_path`): an id such as ``..``
would otherwise be resolved away by urllib3 and ``get_job("..")`` would read the project.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Dict keys of what our own operators push to XCom, by parameter: the parallel-jobs operator
# returns {"job_ids": [...], "succeeded": [...], ...}; "succeeded" wins so failed jobs are not read.
RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "job_ids": ("succeeded", "job_ids"),
    "order_ids": ("order_ids",),
    "asset_ids": ("asset_ids",),
}

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FORBIDDEN = re.compile(r"[\s/\\\x00-\x1f\x7f]")


class InvalidIdError(ValueError):
    """An id that cannot be sent to UP42 (empty, a dot segment, a slash, ...): nothing was sent."""


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is text shaped like a UUID (what UP42 ids of most objects are)."""
    return isinstance(value, str) and bool(_UUID.match(value.strip()))


def check_id(value: Any, *, name: str, uuid: bool = False) -> str:
    """``value`` unchanged when it is safe as one URL path segment (and a UUID when ``uuid``)."""
    if not isinstance(value, str):
        raise InvalidIdError(f"{name} must be an id string, got {type(value).__name__} {value!r}")
    if not value:
        raise InvalidIdError(f"{name} is empty: pass the UP42 id")
    if value in (".", ".."):
        raise InvalidIdError(f"{name} {value!r} is not an id (a dot path segment); pass the UP42 id")
    if _FORBIDDEN.search(value):
        raise InvalidIdError(
            f"{name} {value!r} contains whitespace, a slash or a control character; pass one UP42 id"
        )
    if uuid and not _UUID.match(value):
        raise InvalidIdError(
            f"{name} {value!r} is not a UUID (like 3fa85f64-5717-4562-b3fc-2c963f66afa6); "
            "UP42 ids of this kind always are"
        )
    return value


def id_from_href(value: Any, *, name: str) -> str:
    """The id a UP42 link ends in (``.../stac/collections/<id>``, a job's ``results.collection``),
    or ``value`` itself when it is already an id; checked like every other id (:func:`check_id`)."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and "://" in text:
        text = text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return check_id(text, name=name)


def parse_ids(
    value: Any, *, name: str, required: bool = True, keys: Sequence[str] | None = None
) -> list[str]:
    """Unique ids, in order, from any way a user or an upstream task can give them.

    Accepted: one id, ``"a,b"``, a list/tuple/set (nested too), JSON or Python list text
    (``'["a", "b"]'``, ``"['a', 'b']"``, how a template renders a list), and the dicts our
    operators return (first of ``keys`` present, by default :data:`RESULT_KEYS` of ``name``).
    ``required=False`` allows an empty result.
    """
    if keys is None:
        keys = RESULT_KEYS.get(name, ("succeeded", "job_ids", "order_ids", "asset_ids"))
    ids = list(dict.fromkeys(_collect(value, name, keys)))
    if required and not ids:
        raise InvalidIdError(f"{name} is empty: give at least one id")
    return ids


def _collect(value: Any, name: str, keys: Sequence[str]) -> Iterable[str]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "{", "(")):
            return _collect(_literal(text, name), name, keys)
        parts = [part.strip() for part in text.split(",")]
        return [check_id(part, name=name) for part in parts if part]
    if isinstance(value, Mapping):
        for key in keys:
            if key in value:
                return _collect(value[key], name, keys)
        raise InvalidIdError(
            f"{name}: a dict must have one of the keys {', '.join(keys)}, got {sorted(map(str, value))}"
        )
    if isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        items = list(value)
        if any(item is None for item in items):
            raise InvalidIdError(f"{name} must be an id or a list of ids, got None in {items!r}")
        return [id_ for item in items for id_ in _collect(item, name, keys)]
    raise InvalidIdError(f"{name} must be an id or a list of ids, got {type(value).__name__} {value!r}")


def _literal(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise InvalidIdError(f"{name} {text[:80]!r} looks like a list but does not parse") from None
