"""Async UP42 clients shared by all triggers of one event loop and connection id.

A triggerer runs hundreds of triggers in one asyncio loop. One ``httpx.AsyncClient`` (one
connection pool, one token, one workspace lookup) per (loop, connection id) serves them all
instead of one client, one TCP connection and one login per trigger. Clients are reference
counted: the first trigger that needs one builds it (reading the Airflow connection through the
async API, once), the last one to let go closes it. Entries are per loop because an httpx client
must not be used from another loop (``dag.test`` runs each trigger in a fresh loop).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from up42_provider.api.auth import TokenCache, auth_for
from up42_provider.api.endpoints import Endpoint
from up42_provider.api.settings import ClientSettings

if TYPE_CHECKING:  # httpx and the client load when the first trigger runs, not when DAGs are parsed
    import httpx

    from up42_provider.api.client import AsyncUP42Client

# At most this many requests of one shared client are in flight; the others wait on a semaphore
# (cheap) instead of in httpcore's pool queue, whose bookkeeping costs O(queued x connections) per
# request and stalls the event loop when hundreds of triggers poll at once.
MAX_IN_FLIGHT = 10
# As many keep-alive connections as requests in flight; idle ones close before typical server
# keep-alive time-outs (uvicorn: 5 s) so a poll never meets a connection the server just closed.
KEEPALIVE_EXPIRY = 4.0


def limits() -> httpx.Limits:
    import httpx

    return httpx.Limits(
        max_connections=MAX_IN_FLIGHT,
        max_keepalive_connections=MAX_IN_FLIGHT,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )


class SharedClient:
    """An :class:`AsyncUP42Client` whose ``call`` waits for one of ``MAX_IN_FLIGHT`` slots.

    Everything else (``tokens``, ``aworkspace_id``, ``stream``...) is the wrapped client's.
    """

    def __init__(self, client: AsyncUP42Client, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.client = client
        self._slots = asyncio.Semaphore(max_in_flight)

    async def call(self, endpoint: Endpoint, **kwargs: Any) -> Any:
        async with self._slots:
            return await self.client.call(endpoint, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@dataclass
class _Entry:
    ready: asyncio.Future[SharedClient]
    refs: int = 0
    http: httpx.AsyncClient | None = field(default=None, repr=False)


async def _settings_for(conn_id: str) -> ClientSettings:
    """Client settings from the Airflow connection, through the async connection API only."""
    from up42_provider.hooks.up42 import UP42Hook

    return await UP42Hook(up42_conn_id=conn_id).asettings()


class ClientPool:
    """Reference-counted :class:`AsyncUP42Client` per (event loop, connection id)."""

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Entry]] = (
            weakref.WeakKeyDictionary()
        )
        self.created = 0  # clients built so far (tests, benchmark)

    def _entries(self) -> dict[str, _Entry]:
        loop = asyncio.get_running_loop()
        entries = self._loops.get(loop)
        if entries is None:
            entries = self._loops[loop] = {}
        return entries

    def size(self) -> int:
        """Clients of the running loop (open or being built)."""
        return len(self._entries())

    def refs(self, conn_id: str) -> int:
        entry = self._entries().get(conn_id)
        return entry.refs if entry else 0

    async def acquire(self, conn_id: str) -> SharedClient:
        while True:
            entries = self._entries()
            entry = entries.get(conn_id)
            if entry is None:
                return await self._create(entries, conn_id)
            entry.refs += 1
            try:
                # asyncio.wait does not raise when the builder was cancelled: then build anew.
                await asyncio.wait({entry.ready})
            except BaseException:
                entry.refs -= 1
                raise
            if not entry.ready.cancelled():
                if entry.ready.exception() is not None:
                    entry.refs -= 1
                return entry.ready.result()
            entry.refs -= 1

    async def _create(self, entries: dict[str, _Entry], conn_id: str) -> SharedClient:
        entry = entries[conn_id] = _Entry(ready=asyncio.get_running_loop().create_future())
        entry.refs += 1
        try:
            import httpx

            from up42_provider.api.client import AsyncUP42Client

            settings = await _settings_for(conn_id)
            entry.http = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
                verify=settings.verify,
                follow_redirects=True,
                limits=limits(),
            )
            # One token per credentials for the whole process (all loops, all clients).
            auth = auth_for(settings)  # the login of the connection's generation
            client = SharedClient(
                AsyncUP42Client(
                    settings, entry.http, auth=auth, token_cache=TokenCache.for_settings(settings, auth)
                )
            )
        except BaseException as exc:
            if entries.get(conn_id) is entry:
                del entries[conn_id]
            if isinstance(exc, Exception):
                entry.ready.set_exception(exc)
                entry.ready.exception()  # retrieved: every waiter re-raises it itself
            else:
                entry.ready.cancel()
            raise
        self.created += 1
        entry.ready.set_result(client)
        return client

    async def release(self, conn_id: str, client: SharedClient) -> None:
        entries = self._entries()
        entry = entries.get(conn_id)
        if entry is None or not entry.ready.done() or entry.ready.result() is not client:
            await _close(client, None)  # not pooled (any more): just close it
            return
        entry.refs -= 1
        if entry.refs <= 0:
            del entries[conn_id]
            await _close(client, entry.http)

    @asynccontextmanager
    async def client(self, conn_id: str) -> AsyncIterator[SharedClient]:
        """``async with POOL.client(conn_id) as client:`` - the shared client of this loop."""
        client = await self.acquire(conn_id)
        try:
            yield client
        finally:
            await asyncio.shield(self.release(conn_id, client))


async def _close(client: SharedClient, http: httpx.AsyncClient | None) -> None:
    await client.client.aclose()
    if http is not None:
        await http.aclose()


POOL = ClientPool()


def shared_client(conn_id: str):
    """Shortcut for ``POOL.client(conn_id)``."""
    return POOL.client(conn_id)


__all__ = ["MAX_IN_FLIGHT", "POOL", "ClientPool", "SharedClient", "limits", "shared_client"]
