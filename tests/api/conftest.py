"""Helpers for the transport tests: client factories, a request-counting session, a dropping proxy."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from up42_provider.api import AsyncUP42Client, ClientSettings, TokenCache, UP42Client
from up42_provider.emulator.server import EmulatorServer

FAST = {
    "timeout": (2.0, 5.0),
    "max_attempts": 4,
    "max_retry_wait": 10.0,
    "backoff_initial": 0.01,
    "backoff_max": 0.05,
}

PROJECT = "0d3f5a7c-1b2e-4c6d-8e9f-a1b2c3d4e5f6"  # a well-formed project id for canned (non-emulator) answers


def settings_for(server: EmulatorServer, **overrides: object) -> ClientSettings:
    values: dict[str, object] = {
        "base_url": server.url,
        "project_id": server.config.project_id,
        "api_key": server.config.project_api_key,
        **FAST,
        **overrides,
    }
    return ClientSettings(**values)  # type: ignore[arg-type]


class CountingSession(requests.Session):
    """A requests session that records (method, path, status) of every exchange."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, int | None]] = []
        self._lock = threading.Lock()

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        status = None
        try:
            response = super().request(method, url, *args, **kwargs)
            status = response.status_code
            return response
        finally:
            with self._lock:
                self.seen.append((method, urlsplit(url).path, status))

    def count(self, method: str | None = None, path_suffix: str = "", status: int | None = None) -> int:
        return sum(
            1
            for m, p, s in self.seen
            if (method is None or m == method) and p.endswith(path_suffix) and (status is None or s == status)
        )

    def statuses(self) -> Counter[int | None]:
        return Counter(s for _, _, s in self.seen)


@pytest.fixture
def make_client() -> Iterator[Callable[..., tuple[UP42Client, CountingSession]]]:
    """``make_client(server, **settings)`` -> (client with a private token cache, its counting session)."""
    clients: list[UP42Client] = []

    def factory(server: EmulatorServer, token_cache: TokenCache | None = None, **overrides: object):
        session = CountingSession()
        client = UP42Client(
            settings_for(server, **overrides), session, token_cache=token_cache or TokenCache()
        )
        clients.append(client)
        return client, session

    yield factory
    for client in clients:
        client.close()
        client.session.close()


@pytest.fixture
async def make_aclient():
    clients: list[AsyncUP42Client] = []

    def factory(server: EmulatorServer, token_cache: TokenCache | None = None, **overrides: object):
        client = AsyncUP42Client(settings_for(server, **overrides), token_cache=token_cache or TokenCache())
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


class DroppingProxy:
    """A TCP proxy in front of the emulator that drops the first ``drop`` connections.

    A dropped connection reads the request and closes without answering, like a load balancer
    that lost the backend: the client cannot know whether the request was executed.
    """

    def __init__(self, target: str, drop: int) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname, parts.port)
        self.drop = drop
        self.connections = 0
        self.dropped = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.dropped < self.drop:
                self.dropped += 1
                with contextlib.suppress(OSError):
                    conn.settimeout(2)
                    conn.recv(65536)
                conn.close()
                continue
            upstream = socket.create_connection(self.target)  # type: ignore[arg-type]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop = True
        self._sock.close()


@pytest.fixture
def dropping_proxy() -> Iterator[Callable[[str, int], DroppingProxy]]:
    proxies: list[DroppingProxy] = []

    def factory(target: str, drop: int) -> DroppingProxy:
        proxy = DroppingProxy(target, drop)
        proxies.append(proxy)
        return proxy

    yield factory
    for proxy in proxies:
        proxy.close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


WEBHOOK = {
    "name": "transport-test",
    "url": "https://example.com/hook",
    "events": ["job.status"],
    "secret": None,
    "active": False,
}
