"""Response shapes of both UP42 API generations and the route table helpers.

Every handler builds its answers with these helpers so that envelopes, problem bodies and Spring
pages look the same everywhere. Errors are raised as :class:`ApiError` and rendered by
:func:`error_response` in the shape of the endpoint's family (see :func:`error_shape`): the 2023
v1 envelope, the v2 problem object, the glossary's ``{code, message, details}`` or Keycloak's
``{error, error_description}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from up42_provider.emulator.clock import parse_iso

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """An error answer, rendered in the error shape of the endpoint it happened on.

    ``code`` is the machine-readable error of the OAuth endpoints (``invalid_grant``, ...); the
    other shapes ignore it.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        title: str | None = None,
        headers: dict | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title or message
        self.headers = headers or {}
        self.code = code


def emulator_state(request: Request) -> EmulatorState:
    """The world behind a request: plain handler functions reach their stores through it."""
    return request.app.state.emulator


def bad_request(message: str) -> ApiError:
    """The one 400 of the emulator (both generations render it in their own error shape)."""
    return ApiError(400, message, title="Bad request")


def is_v2(path: str) -> bool:
    return path.startswith("/v2/")


OIDC_PREFIX = "/realms/public/protocol/openid-connect/"
# Today's glossary answers errors as {code, message, details} (its OpenAPI), not as a problem object.
GLOSSARY_PREFIXES = ("/v2/collections", "/v2/eulas")
# Scope key set by the bearer check: the generation of the token a request carried.
GENERATION_KEY = "up42.generation"

_OAUTH_CODES = {400: "invalid_request", 401: "invalid_token", 403: "insufficient_scope"}


def error_shape(path: str) -> str:
    """Which error body an endpoint answers with: ``oauth``, ``glossary``, ``problem`` or ``envelope``."""
    if path.startswith(OIDC_PREFIX):
        return "oauth"
    if path.startswith(GLOSSARY_PREFIXES):
        return "glossary"
    return "problem" if is_v2(path) else "envelope"


def request_generation(request: Request) -> str:
    """``current`` when the request carried a token of today's generation, else ``2023``."""
    return str(request.scope.get(GENERATION_KEY, "2023"))


def error_response(request: Request, exc: ApiError) -> Response:
    """``exc`` in the error shape of the endpoint (and, for v1 envelopes, of the caller's generation)."""
    shape = error_shape(request.url.path)
    if shape == "oauth":
        code = exc.code or _OAUTH_CODES.get(
            exc.status, "server_error" if exc.status >= 500 else "invalid_request"
        )
        body: Any = {"error": code, "error_description": exc.message}
    elif shape == "glossary":
        body = {"code": exc.status, "message": exc.message, "details": exc.title}
    elif shape == "problem":
        # A message that says more than the title travels in ``detail`` (as the real 400s do);
        # today's callers always get it.
        named = request_generation(request) == "current" or exc.message != exc.title
        detail: Any = exc.message if named else {}
        body = {"status": exc.status, "title": exc.title, "detail": detail}
    elif request_generation(request) == "current":
        # Today's legacy catalog search still answers the envelope, with an object and details.
        body = {"data": {}, "error": {"code": exc.status, "message": exc.message, "details": exc.title}}
    else:
        body = {"data": None, "error": {"code": exc.status, "message": exc.message}}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def envelope(data: Any, status: int = 200) -> JSONResponse:
    """v1 envelope ``{"data": ..., "error": null}``."""
    return JSONResponse({"data": data, "error": None}, status_code=status)


def bare(data: Any, status: int = 200) -> JSONResponse:
    """Bare JSON body."""
    return JSONResponse(data, status_code=status)


def spring_page(items: Sequence[Any], page: int, size: int, sort_field: str | None = None) -> dict:
    """Spring Data page object for page ``page`` (0-based) of ``items``."""
    total = len(items)
    size = max(1, size)
    total_pages = math.ceil(total / size) if total else 0
    content = list(items[page * size : (page + 1) * size])
    sort = {"sorted": sort_field is not None, "unsorted": sort_field is None, "empty": sort_field is None}
    return {
        "content": content,
        "pageable": {
            "sort": sort,
            "pageNumber": page,
            "pageSize": size,
            "offset": page * size,
            "paged": True,
            "unpaged": False,
        },
        "totalPages": total_pages,
        "totalElements": total,
        "last": page >= total_pages - 1,
        "sort": sort,
        "numberOfElements": len(content),
        "first": page == 0,
        "size": size,
        "number": page,
        "empty": not content,
    }


def query_list(request: Request, name: str) -> list[str]:
    """All values of a list-valued query parameter, in any of the forms clients send.

    Accepts repeated keys (``tags=a&tags=b``), comma-separated values (``sources=A,B``) and the
    Python-list text the 2023 SDK sends (``collectionNames=['a', 'b']``).
    """
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        text = raw.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
            parts = [p.strip().strip("'\"") for p in text.split(",")]
        elif "," in text and name not in ("tags",):
            parts = [p.strip() for p in text.split(",")]
        else:
            parts = [text]
        values.extend(p for p in parts if p)
    return values


def query_sort(request: Request, allowed: Iterable[str], default: str = "createdAt") -> tuple[str, bool]:
    """``sort=field,asc|desc`` (also ``%2C``-encoded); returns (field, descending)."""
    raw = request.query_params.get("sort") or f"{default},desc"
    field, _, direction = raw.partition(",")
    field = field.strip() or default
    if field not in set(allowed):
        raise bad_request(f"Invalid sort field '{field}'")
    return field, direction.strip().lower() != "asc"


def query_int(request: Request, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Query parameter '{name}' must be an integer, got '{raw}'") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise bad_request(f"Query parameter '{name}' out of range: {value}")
    return value


def query_time(request: Request, name: str) -> datetime | None:
    """An ISO-8601 timestamp query parameter (an unencoded ``+00:00`` arrives as `` 00:00``)."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_iso(raw.replace(" ", "+"))
    except ValueError:
        raise bad_request(f"Query parameter '{name}' is not an ISO-8601 timestamp: '{raw}'") from None


async def json_body(request: Request, *, required: bool = True) -> Any:
    """Parse the JSON body; ``{}`` bodies on GET/DELETE are tolerated by simply not calling this."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise bad_request("Request body is missing")
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None


def base_url(request: Request) -> str:
    """The emulator's own base URL as the client reached it (absolute URLs in answers use it)."""
    return str(request.base_url).rstrip("/")


def route(path: str, endpoint: Handler, methods: Sequence[str]) -> list[Route]:
    """A route reachable with and without a trailing slash (clients send both)."""
    stripped = path.rstrip("/") or "/"
    paths = {stripped, stripped + "/"} if stripped != "/" else {"/"}
    return [Route(p, endpoint, methods=list(methods)) for p in sorted(paths)]


def split_url(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, dict(parse_qsl(parts.query))
