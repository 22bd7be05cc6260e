"""The one factory of async UP42 clients: one per event loop and connection id, shared.

A triggerer runs hundreds of triggers in one asyncio loop, each reading UP42 through its own
:class:`~up42_provider.hooks.up42.UP42Hook`; the hooks' :meth:`aget_client` all come here, so one
``httpx.AsyncClient`` (one connection pool, one token, one workspace lookup) per (loop, connection
id) serves them all instead of one client, one TCP connection and one login per trigger. Clients
are reference counted: the first hook that needs one builds it (from the settings the hook read
through the async connection API), the last one to let go (``hook.aclose()``) closes it. Entries
are per loop because an httpx client must not be used from another loop (``dag.test`` runs each
trigger in a fresh loop).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from up42_provider.api.auth import TokenCache
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


@dataclass
class _Entry:
    ready: asyncio.Future[AsyncUP42Client]
    refs: int = 0
    http: httpx.AsyncClient | None = field(default=None, repr=False)


SettingsSource = Callable[[], Awaitable[ClientSettings]]


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

    async def acquire(self, conn_id: str, settings: SettingsSource) -> AsyncUP42Client:
        """The loop's client of ``conn_id`` (built from ``settings()`` - the hook's - when none is
        open yet); every ``acquire`` needs one :meth:`release`."""
        while True:
            entries = self._entries()
            entry = entries.get(conn_id)
            if entry is None:
                return await self._create(entries, conn_id, settings)
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

    async def _create(
        self, entries: dict[str, _Entry], conn_id: str, source: SettingsSource
    ) -> AsyncUP42Client:
        entry = entries[conn_id] = _Entry(ready=asyncio.get_running_loop().create_future())
        entry.refs += 1
        try:
            import httpx

            from up42_provider.api.client import AsyncUP42Client

            settings = await source()
            entry.http = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
                verify=settings.verify,
                follow_redirects=True,
                limits=limits(),
            )
            # One token per credentials for the whole process (all loops, all clients, the hooks').
            client = AsyncUP42Client(
                settings,
                entry.http,
                token_cache=TokenCache.for_settings(settings),
                max_in_flight=MAX_IN_FLIGHT,
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

    async def release(self, conn_id: str, client: AsyncUP42Client) -> None:
        entries = self._entries()
        entry = entries.get(conn_id)
        if entry is None or not entry.ready.done() or entry.ready.result() is not client:
            await _close(client, None)  # not pooled (any more): just close it
            return
        entry.refs -= 1
        if entry.refs <= 0:
            del entries[conn_id]
            await _close(client, entry.http)


async def _close(client: AsyncUP42Client, http: httpx.AsyncClient | None) -> None:
    await client.aclose()
    if http is not None:
        await http.aclose()


POOL = ClientPool()


__all__ = ["MAX_IN_FLIGHT", "POOL", "ClientPool", "SettingsSource", "limits"]
