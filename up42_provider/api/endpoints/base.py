"""What an endpoint is, independent of the API generation that declares it."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from up42_provider.utils.ids import check_id

ResponseKind = Literal["envelope", "bare", "text", "binary", "none", "token"]
RESPONSE_KINDS: tuple[str, ...] = ("envelope", "bare", "text", "binary", "none", "token")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Endpoint:
    """One UP42 operation: ``path`` is a template such as ``/projects/{project_id}/jobs/{job_id}``.

    ``response`` says how a 2xx body is decoded (v1 envelope unwrapped, bare JSON, text, bytes,
    ignored, token JSON). ``creates`` marks calls that create something billable or duplicable:
    the retry policy never re-sends them unless the request surely did not reach UP42.
    Every ``{..._id}`` parameter must be a UUID, except those named in ``text_ids`` (e.g. a
    quicklook's file name); other parameters (``{host}``) are only checked as safe segments.
    ``signed_url`` marks answers whose ``url`` is a signed download URL: the client registers its
    query with Airflow's secrets masker before the answer leaves it.
    ``host`` is "api" (the API base URL) or "auth" (today's login host: token and userinfo).
    """

    id: str
    name: str
    method: str
    path: str
    response: ResponseKind
    creates: bool = False
    text_ids: tuple[str, ...] = ()
    signed_url: bool = False
    host: Literal["api", "auth"] = "api"
    path_params: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"{self.id}: unknown method {self.method!r}")
        if self.response not in RESPONSE_KINDS:
            raise ValueError(f"{self.id}: unknown response kind {self.response!r}")
        if "?" in self.path or not self.path.startswith("/"):
            raise ValueError(f"{self.id}: path must be a plain '/...' template without query: {self.path!r}")
        if self.host not in ("api", "auth"):
            raise ValueError(f"{self.id}: host must be 'api' or 'auth', got {self.host!r}")
        names = tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)
        object.__setattr__(self, "path_params", names)
        stray = sorted(set(self.text_ids) - set(names))
        if stray:
            raise ValueError(f"{self.id}: text_ids {stray} are not path parameters of {self.path!r}")

    def is_uuid(self, param: str) -> bool:
        return param.endswith("_id") and param not in self.text_ids

    def format_path(self, **params: Any) -> str:
        """The path with every ``{param}`` checked (:func:`~up42_provider.utils.ids.check_id`) and
        percent-quoted: this is the one place every id passes before a request, so ``..``, ``a/b``
        or a malformed UUID fails here, naming the parameter, and nothing is sent."""
        missing = [name for name in self.path_params if params.get(name) in (None, "")]
        if missing:
            raise ValueError(f"{self.id} {self.name} needs path parameter(s): {', '.join(missing)}")
        unknown = sorted(set(params) - set(self.path_params))
        if unknown:
            raise ValueError(f"{self.id} {self.name} has no path parameter(s): {', '.join(unknown)}")
        values = {
            name: check_id(params[name], name=name, uuid=self.is_uuid(name)) for name in self.path_params
        }
        return self.path.format(**{name: quote(value, safe="") for name, value in values.items()})

    def __str__(self) -> str:
        return f"{self.id} {self.method} {self.path}"


class EndpointTable:
    """A generation's endpoints as typed class attributes (``V1.get_job``) plus id/name lookups.

    Subclasses only declare ``name = Endpoint(...)``; uniqueness of ids, names and
    method+path is checked when the class is created, so a typo fails at import time.
    """

    generation: ClassVar[str] = ""
    _by_id: ClassVar[dict[str, Endpoint]] = {}
    _by_name: ClassVar[dict[str, Endpoint]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        by_id: dict[str, Endpoint] = {}
        by_name: dict[str, Endpoint] = {}
        routes: set[tuple[str, str]] = set()
        for attr, value in vars(cls).items():
            if not isinstance(value, Endpoint):
                continue
            if attr != value.name:
                raise TypeError(f"{cls.__name__}.{attr} declares endpoint named {value.name!r}")
            if value.id in by_id:
                raise TypeError(f"{cls.__name__}: endpoint id {value.id} declared twice")
            route = (value.method, value.path)
            if route in routes:
                raise TypeError(f"{cls.__name__}: {value.method} {value.path} declared twice")
            routes.add(route)
            by_id[value.id] = value
            by_name[value.name] = value
        cls._by_id = by_id
        cls._by_name = by_name

    def __init__(self) -> None:
        raise TypeError("endpoint tables are namespaces; use the class itself")

    @classmethod
    def by_id(cls, endpoint_id: str) -> Endpoint:
        try:
            return cls._by_id[endpoint_id]
        except KeyError:
            raise KeyError(f"{cls.__name__} has no endpoint {endpoint_id!r}") from None

    @classmethod
    def by_name(cls, name: str) -> Endpoint:
        try:
            return cls._by_name[name]
        except KeyError:
            raise KeyError(f"{cls.__name__} has no endpoint named {name!r}") from None

    @classmethod
    def all(cls) -> tuple[Endpoint, ...]:
        return tuple(cls._by_id.values())

    @classmethod
    def iter(cls) -> Iterator[Endpoint]:
        return iter(cls._by_id.values())
