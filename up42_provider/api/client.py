"""UP42 clients: :class:`UP42Client` (requests, pooled) and its twin :class:`AsyncUP42Client` (httpx).

Both share everything except the socket work: endpoint definitions, request preparation (path
params, query and JSON encoding), response decoding and error mapping (:mod:`.responses`), the
token cache and login (:mod:`.auth`) and the retry policy (:mod:`.retry`). One call is:

    retry policy ( token from cache -> send -> on 401: renew token once, send once more -> decode )
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import os
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import httpx
import requests

from up42_provider.api import failures
from up42_provider.api.auth import AuthStrategy, Token, TokenCache, auth_for
from up42_provider.api.endpoints import Endpoint, ResponseKind
from up42_provider.api.errors import UP42Error
from up42_provider.api.masking import amask_secret, amask_signed_url, mask_secret, mask_signed_url
from up42_provider.api.redact import redact_url
from up42_provider.api.responses import decode, error_for
from up42_provider.api.retry import BEFORE_SEND, aretrying, retrying
from up42_provider.api.settings import ClientSettings

log = logging.getLogger("up42_provider.api")

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_JSON_KINDS = frozenset({"envelope", "bare", "none", "token"})


def _env_verify(verify: bool | str) -> bool | str:
    """``verify`` as requests would derive it from the environment (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE)."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


@dataclass(frozen=True)
class Prepared:
    """A request ready to send; ``path`` (no query) is what messages and logs show."""

    method: str
    url: str
    path: str
    params: list[tuple[str, str]] | None
    body: bytes | None
    kind: ResponseKind
    creates: bool
    authenticated: bool = True
    extra_headers: tuple[tuple[str, str], ...] = ()


def encode_query(params: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    """Query pairs, identical for requests and httpx: None dropped, lists repeated, booleans lower-case."""
    if not params:
        return None

    def text(value: Any) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            pairs.extend((key, text(item)) for item in value if item is not None)
        else:
            pairs.append((key, text(value)))
    return pairs


def _signed_url_of(answer: Any) -> str:
    """The ``url`` of a download-URL answer (``{"url": ...}``), "" when there is none."""
    url = answer.get("url") if isinstance(answer, Mapping) else answer
    return url if isinstance(url, str) else ""


def encode_json(body: Any) -> bytes:
    return jsonlib.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class _ClientCore:
    """Everything but the I/O: preparing requests, headers, the token request, settings."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        auth: AuthStrategy | None = None,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.settings = settings
        self.auth: AuthStrategy = auth or auth_for(settings)
        # Private by default; pass one cache (e.g. TokenCache.for_settings) to share a token.
        self.tokens = token_cache if token_cache is not None else TokenCache()
        self._token_request = self.auth.token_request(settings)
        for secret in self._token_request.secrets:
            mask_secret(secret)
        self._json_headers = {"User-Agent": settings.user_agent, "Accept": "application/json"}
        self._raw_headers = {"User-Agent": settings.user_agent}

    def __repr__(self) -> str:
        settings = self.settings
        who = settings.project_id if settings.generation == "2023" else settings.username
        return f"{type(self).__name__}(base_url={settings.base_url!r}, login={who!r})"

    @property
    def project_id(self) -> str:
        return self.settings.project_id

    def _needs_workspace(self, endpoint: Endpoint, path_params: Mapping[str, Any]) -> bool:
        return "workspace_id" in endpoint.path_params and not path_params.get("workspace_id")

    def _prepare(
        self,
        endpoint: Endpoint,
        params: Mapping[str, Any] | None,
        json: Any,
        path_params: dict[str, Any],
        workspace_id: str | None = None,
    ) -> Prepared:
        if endpoint.response == "token":
            raise ValueError(f"{endpoint} is the login call; the client performs it by itself")
        if "project_id" in endpoint.path_params:
            path_params.setdefault("project_id", self.settings.project_id)
        if workspace_id is not None:
            path_params["workspace_id"] = workspace_id
        path = endpoint.format_path(**path_params)
        root = self.settings.auth_url if endpoint.host == "auth" else self.settings.base_url
        return Prepared(
            method=endpoint.method,
            url=root + path,
            path=path,
            params=encode_query(params),
            body=self._body(endpoint.method, json),
            kind=endpoint.response,
            creates=endpoint.creates,
        )

    def _prepare_url(self, url: str, endpoint: Endpoint, json: Any) -> Prepared:
        """An API link returned by UP42 (``next`` pages): absolute on the API host, or relative."""
        if url.startswith("/") and not url.startswith("//"):
            absolute = self.settings.base_url + url  # relative to the API root (keeps a path prefix)
        else:
            absolute = urljoin(self.settings.base_url + "/", url)
        parts = urlsplit(absolute)
        if (parts.scheme, parts.netloc.lower()) != self.settings.origin:
            raise ValueError(
                f"refusing to send UP42 credentials to {redact_url(absolute)}: "
                f"not on the API host {self.settings.base_url}"
            )
        return Prepared(
            method=endpoint.method,
            url=absolute,
            path=parts.path or "/",
            params=None,
            body=self._body(endpoint.method, json),
            kind=endpoint.response,
            creates=endpoint.creates,
        )

    @staticmethod
    def _prepare_external(url: str, headers: Mapping[str, str] | None) -> Prepared:
        """A signed download URL or public file: no UP42 credentials are sent."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {redact_url(url)}")
        extra = tuple((headers or {}).items())
        return Prepared("GET", url, redact_url(url), None, None, "binary", False, False, extra)

    @staticmethod
    def _body(method: str, json: Any) -> bytes | None:
        if json is None:
            # The 2023 SDK always sent a JSON body; some POSTs (cancel, tests, download-url) expect {}.
            return b"{}" if method in _WITH_BODY else None
        return encode_json(json)

    def _headers(self, req: Prepared, token: Token | None) -> dict[str, str]:
        headers = dict(self._json_headers if req.kind in _JSON_KINDS else self._raw_headers)
        if token is not None:
            headers["Authorization"] = f"Bearer {token.value}"
        if req.body is not None:
            headers["Content-Type"] = "application/json"
        headers.update(req.extra_headers)
        return headers

    def _log_answer(self, req: Prepared, status: int, started: float) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "UP42 %s %s -> %s in %.0f ms",
                req.method,
                req.path,
                status,
                (time.monotonic() - started) * 1e3,
            )


def _before_send(exc: UP42Error) -> None:
    """Mark an error of the token call: the request itself was never sent, so it may be retried."""
    setattr(exc, BEFORE_SEND, True)


class StreamResponse:
    """A 2xx answer whose body is read on demand; transport failures while reading become
    :class:`UP42TransportError`. Other attributes are those of the underlying ``requests.Response``."""

    def __init__(self, response: requests.Response, req: Prepared, timeout: tuple[float, float]) -> None:
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.url = redact_url(response.url)
        self._req = req
        self._timeout = timeout

    def iter_bytes(self, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        try:
            yield from self.response.iter_content(chunk_size)
        except requests.RequestException as exc:
            raise failures.from_requests(exc, self._req.method, self._req.path, self._timeout) from None

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.response, name)


class UP42Client(_ClientCore):
    """Synchronous UP42 client over one pooled ``requests.Session``.

    ``call(V1.get_job, job_id=...)`` fills ``project_id``/``workspace_id`` itself and returns
    the decoded answer (envelope ``data``, bare JSON, text, bytes or None).
    """

    def __init__(
        self,
        settings: ClientSettings,
        session: requests.Session | None = None,
        *,
        auth: AuthStrategy | None = None,
        token_cache: TokenCache | None = None,
    ) -> None:
        super().__init__(settings, auth=auth, token_cache=token_cache)
        self._owns_session = session is None
        self.session = session or requests.Session()
        self._workspace_lock = threading.Lock()
        if self._owns_session:
            # requests re-reads the proxy and CA-bundle environment on every request (most of its
            # per-call cost) and lets a ~/.netrc entry replace our Authorization header: read the
            # environment once per host instead, and never consult netrc.
            self.session.trust_env = False
        self._env_proxies: dict[str, dict[str, str]] = {}
        self._verify = _env_verify(settings.verify) if self._owns_session else settings.verify

    # -- public API -----------------------------------------------------------------------------
    @property
    def workspace_id(self) -> str:
        """The project's workspace (``V1.get_project`` once, then cached with the token)."""
        workspace = self.tokens.workspace_id
        if workspace is None:
            with self._workspace_lock:
                workspace = self.tokens.workspace_id
                if workspace is None:
                    endpoint = self.auth.workspace_endpoint
                    workspace = self.auth.workspace_id(self.call(endpoint))
                    self.tokens.workspace_id = workspace
        return workspace

    def call(
        self,
        endpoint: Endpoint,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        **path_params: Any,
    ) -> Any:
        workspace = self.workspace_id if self._needs_workspace(endpoint, path_params) else None
        req = self._prepare(endpoint, params, json, path_params, workspace)
        result = self._execute(req)
        if endpoint.signed_url:
            mask_signed_url(_signed_url_of(result))
        return result

    def call_url(self, url: str, endpoint: Endpoint, *, json: Any = None) -> Any:
        """Follow a link UP42 returned (a catalog ``next`` page) with ``endpoint``'s method and decoding."""
        return self._execute(self._prepare_url(url, endpoint, json))

    @contextmanager
    def stream(
        self, endpoint: Endpoint, *, params: Mapping[str, Any] | None = None, **path_params: Any
    ) -> Iterator[StreamResponse]:
        """A binary answer read in chunks (quicklooks); retried until the status line arrives."""
        workspace = self.workspace_id if self._needs_workspace(endpoint, path_params) else None
        req = self._prepare(endpoint, params, None, path_params, workspace)
        response = self._execute(req, stream=True)
        try:
            yield StreamResponse(response, req, self.settings.timeout)  # type: ignore[arg-type]
        finally:
            response.close()

    @contextmanager
    def stream_url(self, url: str, *, headers: Mapping[str, str] | None = None) -> Iterator[StreamResponse]:
        """GET a signed download URL or public file without UP42 credentials, pooled and retried.

        ``headers`` e.g. ``{"Range": "bytes=1000-"}`` to resume a download that broke off.
        """
        req = self._prepare_external(url, headers)
        mask_signed_url(url)
        response = self._execute(req, stream=True)
        try:
            yield StreamResponse(response, req, self.settings.timeout)  # type: ignore[arg-type]
        finally:
            response.close()

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> UP42Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- machinery ------------------------------------------------------------------------------
    def _execute(self, req: Prepared, stream: bool = False) -> Any:
        for attempt in retrying(self.settings, creates=req.creates):
            with attempt:
                try:
                    return self._attempt(req, stream)
                except UP42Error as exc:
                    exc.attempts = attempt.retry_state.attempt_number
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _attempt(self, req: Prepared, stream: bool) -> Any:
        token = self._token() if req.authenticated else None
        started = time.monotonic()
        response = self._send(req, token, stream)
        if response.status_code == 401 and token is not None:
            response.close()
            token = self._token(stale=token.value)
            response = self._send(req, token, stream)
        self._log_answer(req, response.status_code, started)
        if stream:
            if 200 <= response.status_code < 300:
                return response
            content = self._read_error_body(response, req)
            raise error_for(response.status_code, response.headers, content, req.method, req.path)
        return decode(
            req.kind,
            response.status_code,
            response.headers,
            response.content,
            req.method,
            req.path,
        )

    def _read_error_body(self, response: requests.Response, req: Prepared) -> bytes:
        try:
            return response.content
        except requests.RequestException:
            return b""
        finally:
            response.close()

    def _send(self, req: Prepared, token: Token | None, stream: bool) -> requests.Response:
        try:
            return self.session.request(
                req.method,
                req.url,
                params=req.params,
                data=req.body,
                headers=self._headers(req, token),
                timeout=self.settings.timeout,
                verify=self._verify,
                proxies=self._proxies(req.url),
                stream=stream,
            )
        except requests.RequestException as exc:
            error = failures.from_requests(exc, req.method, req.path, self.settings.timeout)  # type: ignore[arg-type]
            if req.authenticated:
                raise error from exc
            raise error from None  # the library's text would repeat the signed URL

    def _proxies(self, url: str) -> dict[str, str] | None:
        """The environment's proxies for ``url``'s host (HTTP(S)_PROXY, NO_PROXY), read once per host."""
        if not self._owns_session:
            return None
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        proxies = self._env_proxies.get(key)
        if proxies is None:
            proxies = self._env_proxies[key] = requests.utils.get_environ_proxies(url)
        return proxies

    def bearer_token(self) -> str:
        """A valid access token (e.g. for pystac-client, which sends its own requests)."""
        return self._token().value

    def _token(self, stale: str | None = None) -> Token:
        try:
            return self.tokens.get(self._fetch_token, stale)
        except UP42Error as exc:
            _before_send(exc)
            raise

    def _fetch_token(self) -> Token:
        tr = self._token_request
        now = time.monotonic()
        try:
            response = self.session.post(
                tr.url,
                data=dict(tr.form),
                headers=dict(tr.headers),
                timeout=self.settings.timeout,
                verify=self._verify,
                proxies=self._proxies(tr.url),
            )
        except requests.RequestException as exc:
            raise failures.from_requests(
                exc,
                tr.endpoint.method,
                tr.endpoint.path,
                self.settings.timeout,  # type: ignore[arg-type]
            ) from exc
        token = self.auth.parse_token(
            response.status_code, response.headers, response.content, self.settings.token_margin, now
        )
        mask_secret(token.value)
        log.debug("UP42 token renewed")
        return token


class AsyncStreamResponse:
    """Async twin of :class:`StreamResponse` over an ``httpx.Response``."""

    def __init__(self, response: httpx.Response, req: Prepared, timeout: tuple[float, float]) -> None:
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.url = redact_url(str(response.url))
        self._req = req
        self._timeout = timeout

    async def aiter_bytes(self, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.HTTPError as exc:
            raise failures.from_httpx(exc, self._req.method, self._req.path, self._timeout) from None

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.response, name)


class AsyncUP42Client(_ClientCore):
    """Asynchronous twin of :class:`UP42Client` over one ``httpx.AsyncClient`` (for triggers).

    Nothing here blocks the event loop: no requests calls, token refresh under an asyncio lock.
    """

    def __init__(
        self,
        settings: ClientSettings,
        client: httpx.AsyncClient | None = None,
        *,
        auth: AuthStrategy | None = None,
        token_cache: TokenCache | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        super().__init__(settings, auth=auth, token_cache=token_cache)
        self._owns_client = client is None
        self._client = client
        self._timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        self._workspace_lock: asyncio.Lock | None = None
        # Requests in flight at once (None: no limit). The others wait on a semaphore (cheap), not in
        # httpcore's pool queue, whose bookkeeping stalls the loop when hundreds of triggers poll.
        self._slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            verify = self.settings.verify
            if isinstance(verify, str):  # a CA bundle path; httpx wants an SSL context for it
                verify = ssl.create_default_context(cafile=verify)  # type: ignore[assignment]
            self._client = httpx.AsyncClient(timeout=self._timeout, verify=verify, follow_redirects=True)
        return self._client

    # -- public API -----------------------------------------------------------------------------
    async def aworkspace_id(self) -> str:
        """The project's workspace id, looked up once however many coroutines ask at the same time."""
        workspace = self.tokens.workspace_id
        if workspace is not None:
            return workspace
        if self._workspace_lock is None:  # created in the loop that uses it (one client per loop)
            self._workspace_lock = asyncio.Lock()
        async with self._workspace_lock:
            workspace = self.tokens.workspace_id
            if workspace is None:
                endpoint = self.auth.workspace_endpoint
                workspace = self.auth.workspace_id(await self.call(endpoint))
                self.tokens.workspace_id = workspace
        return workspace

    async def call(
        self,
        endpoint: Endpoint,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        **path_params: Any,
    ) -> Any:
        workspace = await self.aworkspace_id() if self._needs_workspace(endpoint, path_params) else None
        req = self._prepare(endpoint, params, json, path_params, workspace)
        result = await self._execute(req)
        if endpoint.signed_url:
            await amask_signed_url(_signed_url_of(result))
        return result

    async def call_url(self, url: str, endpoint: Endpoint, *, json: Any = None) -> Any:
        return await self._execute(self._prepare_url(url, endpoint, json))

    @asynccontextmanager
    async def stream(
        self, endpoint: Endpoint, *, params: Mapping[str, Any] | None = None, **path_params: Any
    ) -> AsyncIterator[AsyncStreamResponse]:
        workspace = await self.aworkspace_id() if self._needs_workspace(endpoint, path_params) else None
        req = self._prepare(endpoint, params, None, path_params, workspace)
        response = await self._execute(req, stream=True)
        try:
            yield AsyncStreamResponse(response, req, self.settings.timeout)  # type: ignore[arg-type]
        finally:
            await response.aclose()

    @asynccontextmanager
    async def stream_url(
        self, url: str, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[AsyncStreamResponse]:
        req = self._prepare_external(url, headers)
        await amask_signed_url(url)
        response = await self._execute(req, stream=True)
        try:
            yield AsyncStreamResponse(response, req, self.settings.timeout)  # type: ignore[arg-type]
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> AsyncUP42Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- machinery ------------------------------------------------------------------------------
    async def _execute(self, req: Prepared, stream: bool = False) -> Any:
        async for attempt in aretrying(self.settings, creates=req.creates):
            with attempt:
                try:
                    return await self._attempt(req, stream)
                except UP42Error as exc:
                    exc.attempts = attempt.retry_state.attempt_number
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _attempt(self, req: Prepared, stream: bool) -> Any:
        token = await self._token() if req.authenticated else None
        started = time.monotonic()
        response = await self._send(req, token, stream)
        if response.status_code == 401 and token is not None:
            await response.aclose()
            token = await self._token(stale=token.value)
            response = await self._send(req, token, stream)
        self._log_answer(req, response.status_code, started)
        if stream:
            if 200 <= response.status_code < 300:
                return response
            try:
                content = await response.aread()
            except httpx.HTTPError:
                content = b""
            finally:
                await response.aclose()
            raise error_for(response.status_code, response.headers, content, req.method, req.path)
        return decode(
            req.kind,
            response.status_code,
            response.headers,
            response.content,
            req.method,
            req.path,
        )

    async def _send(self, req: Prepared, token: Token | None, stream: bool) -> httpx.Response:
        request = self.client.build_request(
            req.method,
            req.url,
            params=cast(Any, req.params),
            content=req.body,
            headers=self._headers(req, token),
            timeout=self._timeout,
        )
        try:
            if self._slots is None:
                return await self.client.send(request, stream=stream)
            async with self._slots:
                return await self.client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            error = failures.from_httpx(exc, req.method, req.path, self.settings.timeout)  # type: ignore[arg-type]
            if req.authenticated:
                raise error from exc
            raise error from None

    async def _token(self, stale: str | None = None) -> Token:
        try:
            return await self.tokens.aget(self._fetch_token, stale)
        except UP42Error as exc:
            _before_send(exc)
            raise

    async def _fetch_token(self) -> Token:
        tr = self._token_request
        now = time.monotonic()
        try:
            response = await self.client.post(
                tr.url, data=dict(tr.form), headers=dict(tr.headers), timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise failures.from_httpx(
                exc,
                tr.endpoint.method,
                tr.endpoint.path,
                self.settings.timeout,  # type: ignore[arg-type]
            ) from exc
        token = self.auth.parse_token(
            response.status_code, response.headers, response.content, self.settings.token_margin, now
        )
        await amask_secret(token.value)
        log.debug("UP42 token renewed")
        return token


__all__ = ["AsyncStreamResponse", "AsyncUP42Client", "Prepared", "StreamResponse", "UP42Client"]
