"""``UP42Hook``: one method per UP42 API operation (API.md §14), on top of ``up42_provider.api``.

The transport (auth, retries, decoding, error mapping) lives in ``up42_provider.api``; this hook
adds what is Airflow- or workflow-specific: reading the Airflow connection (sync and async),
pagination as generators, client-side filters of up42-py, input validation before any request,
and idempotent creation (orders, jobs, workflows, webhooks are looked up before being re-sent
when UP42 may have received a request whose answer was lost).

Heavy geospatial libraries are only imported inside the methods that need them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from up42_provider.api.auth import TokenCache
from up42_provider.api.client import AsyncUP42Client, UP42Client
from up42_provider.api.endpoints import V1
from up42_provider.api.errors import (
    UP42AuthenticationError,
    UP42Error,
    UP42TransportError,
)
from up42_provider.api.settings import ClientSettings
from up42_provider.hooks._account import AccountMixin
from up42_provider.hooks._catalog import CatalogMixin
from up42_provider.hooks._connection import UP42ConnectionConfigError, settings_from_connection
from up42_provider.hooks._helpers import CREDITS_PAGE_SIZE, PAGE_SIZE, T, _is_ambiguous
from up42_provider.hooks._processing import ProcessingMixin
from up42_provider.hooks._storage import StorageMixin

if TYPE_CHECKING:
    from airflow.sdk import Connection


class UP42Hook(AccountMixin, CatalogMixin, StorageMixin, ProcessingMixin, BaseHook):
    """Talk to UP42 (or its emulator) through an Airflow connection of type ``up42``.

    Connection: host = API base URL (default https://api.up42.com; scheme optional, https
    assumed), login = project id, password = project API key; optional extras ``timeout``
    (seconds, or [connect, read]), ``max_attempts``, ``max_retry_wait`` (seconds), ``verify_ssl``.

    :param up42_conn_id: the Airflow connection id.
    """

    conn_name_attr = "up42_conn_id"
    default_conn_name = "up42_default"
    conn_type = "up42"
    hook_name = "UP42"

    page_size: int = PAGE_SIZE  # P3 pages (orders, assets), as up42-py
    credits_page_size: int = CREDITS_PAGE_SIZE  # P1 pages (credit history), the documented maximum

    def __init__(self, up42_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.up42_conn_id = up42_conn_id
        self._settings: ClientSettings | None = None
        self._client: UP42Client | None = None
        self._async_client: tuple[asyncio.AbstractEventLoop, AsyncUP42Client] | None = None
        self._hosts: dict[str, str] | None = None
        # One token for the hook's sync and async clients (fetched once, refreshed before expiry).
        self._tokens = TokenCache()

    # ------------------------------------------------------------------------------- UI (fallback)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 3.2+ reads ``ui-field-behaviour`` from provider info; kept for older UIs."""
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "API base URL", "login": "Project ID", "password": "Project API key"},
            "placeholders": {
                "host": "https://api.up42.com",
                "login": "your UP42 project id (UUID)",
                "password": "your UP42 project API key",
                "extra": '{"timeout": 60, "max_attempts": 5, "max_retry_wait": 120, "verify_ssl": true}',
            },
        }

    # ------------------------------------------------------------------------------- connection

    @staticmethod
    def settings_from(conn: Connection, extra: Mapping[str, Any] | None) -> ClientSettings:
        """Client settings from an Airflow connection and its already-decoded extras."""
        return settings_from_connection(
            conn.conn_id,
            host=conn.host,
            login=conn.login,
            password=conn.password,
            port=conn.port,
            extra=extra,
        )

    @property
    def settings(self) -> ClientSettings:
        """Settings of the sync path (reads the connection once per hook)."""
        if self._settings is None:
            conn = self.get_connection(self.up42_conn_id)
            self._settings = self.settings_from(conn, conn.extra_dejson)
        return self._settings

    async def asettings(self) -> ClientSettings:
        """Settings of the async path: async connection lookup and extras, never sync calls."""
        if self._settings is None:
            conn = await self.aget_connection(self.up42_conn_id)
            self._settings = self.settings_from(conn, await conn.aextra_dejson())
        return self._settings

    def get_conn(self) -> UP42Client:
        """The hook's (cached) sync UP42 client."""
        if self._client is None:
            self._client = UP42Client(self.settings, token_cache=self._tokens)
        return self._client

    @property
    def client(self) -> UP42Client:
        return self.get_conn()

    async def aget_client(self) -> AsyncUP42Client:
        """The async UP42 client of the running event loop (an httpx client is bound to its loop)."""
        loop = asyncio.get_running_loop()
        if self._async_client is not None and self._async_client[0] is loop:
            return self._async_client[1]
        client = AsyncUP42Client(await self.asettings(), token_cache=self._tokens)
        self._async_client = (loop, client)
        return client

    def close(self) -> None:
        """Close the sync client (the async one is closed with :meth:`aclose`)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        cached, self._async_client = self._async_client, None
        if cached is not None and cached[0] is asyncio.get_running_loop():
            await cached[1].aclose()

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate and read the project: the Airflow UI's "Test" button."""
        try:
            settings = self.settings
        except UP42ConnectionConfigError as exc:
            return False, str(exc)
        except Exception as exc:  # connection not found, ...
            return False, f"Cannot read UP42 connection {self.up42_conn_id!r}: {exc}"
        client = UP42Client(settings)
        try:
            project = client.call(V1.get_project) or {}
        except UP42AuthenticationError as exc:
            return False, (
                f"UP42 rejected the credentials of connection {self.up42_conn_id!r} ({exc.message}); "
                "check the project id (login) and the project API key (password)"
            )
        except UP42TransportError as exc:
            return False, f"Cannot reach UP42 at {settings.base_url}: {exc.message}; check the host field"
        except UP42Error as exc:
            return False, str(exc)
        finally:
            client.close()
        name = project.get("name") or "?"
        message = f"Connected to UP42 project {name} ({project.get('id') or settings.project_id})"
        # `airflow connections test` prints only "Connection success!" and mutes logging: say which
        # project answered (the UI shows the returned message).
        print(message, flush=True)
        return True, message

    # --------------------------------------------------------------------------- internals

    def _call(self, endpoint: Any, **kwargs: Any) -> Any:
        return self.get_conn().call(endpoint, **kwargs)

    def _create_once(
        self,
        what: str,
        create: Callable[[], T],
        find: Callable[[], T | None],
    ) -> T:
        """Create; if the outcome is unknown, return what UP42 did create, else send once more."""
        try:
            return create()
        except UP42Error as exc:
            if not _is_ambiguous(exc):
                raise
            self.log.warning("%s: outcome unknown (%s); looking up whether UP42 created it", what, exc)
            try:
                found = find()
            except UP42Error as lookup_error:
                self.log.warning("%s: lookup failed too (%s)", what, lookup_error)
                raise exc from lookup_error
            if found is not None:
                self.log.info("%s: UP42 had created it; using the existing one", what)
                return found
            self.log.warning("%s: UP42 did not create it; sending the request once more", what)
            return create()
