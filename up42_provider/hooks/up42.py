"""``UP42Hook``: one method per UP42 API operation (``V1``/``V2`` endpoints), on top of ``up42_provider.api``.

The transport (auth, retries, decoding, error mapping) lives in ``up42_provider.api``; this hook
adds what is Airflow- or workflow-specific: reading the Airflow connection (sync and async),
pagination as generators, client-side filters of up42-py, input validation before any request,
and exactly-once creation (orders, jobs, workflows, webhooks whose answer was lost are looked up
for a settle window before anything is re-sent, and duplicates are resolved by one rule).

Heavy geospatial libraries are only imported inside the methods that need them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from up42_provider.api.auth import TokenCache
from up42_provider.api.endpoints import V1, V2
from up42_provider.api.errors import (
    UP42AuthenticationError,
    UP42Error,
    UP42NotFoundError,
    UP42TransportError,
)
from up42_provider.api.settings import ClientSettings
from up42_provider.hooks import DEFAULT_CONN_ID
from up42_provider.hooks._account import AccountMixin
from up42_provider.hooks._catalog import CatalogMixin
from up42_provider.hooks._connection import (
    UP42ConnectionConfigError,
    settings_from_connection,
    settle_seconds_from,
)
from up42_provider.hooks._current import CurrentApiMixin
from up42_provider.hooks._helpers import (
    CREDITS_PAGE_SIZE,
    MAX_LOOKUP_INTERVAL,
    PAGE_SIZE,
    _is_ambiguous,
    keep_one,
)
from up42_provider.hooks._processing import ProcessingMixin
from up42_provider.hooks._storage import StorageMixin

NOT_CANCELLABLE = "cannot be cancelled through the API; cancel it in the UP42 console"

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from up42_provider.api.client import AsyncUP42Client, UP42Client


class UP42Hook(AccountMixin, CatalogMixin, StorageMixin, ProcessingMixin, CurrentApiMixin, BaseHook):
    """Talk to UP42 (or its emulator) through an Airflow connection of type ``up42``.

    Connection: host = API base URL (default https://api.up42.com; scheme optional, https
    assumed), login = project id, password = project API key; optional extras ``timeout``
    (seconds, or [connect, read]), ``max_attempts``, ``max_retry_wait`` (seconds), ``verify_ssl``,
    ``create_settle_seconds`` (see :attr:`create_settle_seconds`).

    :param up42_conn_id: the Airflow connection id.
    :param create_settle_seconds: overrides the connection's ``create_settle_seconds``.
    """

    conn_name_attr = "up42_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "up42"
    hook_name = "UP42"

    page_size: int = PAGE_SIZE  # Spring pages of orders and assets, as up42-py
    credits_page_size: int = CREDITS_PAGE_SIZE  # credit history pages, the service's maximum

    def __init__(
        self,
        up42_conn_id: str = default_conn_name,
        *,
        create_settle_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.up42_conn_id = up42_conn_id
        if create_settle_seconds is not None and not create_settle_seconds >= 0:
            raise ValueError(f"create_settle_seconds must be >= 0 seconds, got {create_settle_seconds!r}")
        self._create_settle = None if create_settle_seconds is None else float(create_settle_seconds)
        self._settings: ClientSettings | None = None
        self._client: UP42Client | None = None
        self._async_client: tuple[asyncio.AbstractEventLoop, AsyncUP42Client] | None = None
        self._hosts = None
        self._tasking_collections = set()

    # ------------------------------------------------------------------------------- UI (fallback)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 3.2+ reads ``ui-field-behaviour`` from provider info; the same one for older UIs."""
        from up42_provider.get_provider_info import ui_field_behaviour

        return ui_field_behaviour()

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
            from up42_provider.api.client import UP42Client  # requests loads on first use, not at parse

            self._client = UP42Client(self.settings, token_cache=self._token_cache(self.settings))
        return self._client

    @property
    def client(self) -> UP42Client:
        return self.get_conn()

    @property
    def generation(self) -> str:
        """ "2023" (project id + API key) or "current" (account e-mail + password), from the connection."""
        return self.settings.generation

    async def ageneration(self) -> str:
        """:attr:`generation` read through the async connection path."""
        return (await self.asettings()).generation

    async def aget_client(self) -> AsyncUP42Client:
        """The async UP42 client of the running event loop: the one every hook of this connection
        shares in this loop (:data:`up42_provider.api.pool.POOL`), held until :meth:`aclose`."""
        loop = asyncio.get_running_loop()
        if self._async_client is not None and self._async_client[0] is loop:
            return self._async_client[1]
        from up42_provider.api.pool import POOL

        client = await POOL.acquire(self.up42_conn_id, self.asettings)
        self._async_client = (loop, client)
        if self._settings is None:  # a shared client already read them: no second connection lookup
            self._settings = client.settings
        return client

    @staticmethod
    def _token_cache(settings: ClientSettings) -> TokenCache:
        """One token per credentials per process, shared by sync and async clients and triggers."""
        return TokenCache.for_settings(settings)

    def close(self) -> None:
        """Close the sync client (the async one is closed with :meth:`aclose`)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Let go of the shared async client (the last hook of the loop to do so closes it)."""
        cached, self._async_client = self._async_client, None
        if cached is not None and cached[0] is asyncio.get_running_loop():
            from up42_provider.api.pool import POOL

            await POOL.release(self.up42_conn_id, cached[1])

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate and read the project: the Airflow UI's "Test" button."""
        try:
            settings = self.settings
        except UP42ConnectionConfigError as exc:
            return False, str(exc)
        except Exception as exc:  # connection not found, ...
            return False, f"Cannot read UP42 connection {self.up42_conn_id!r}: {exc}"
        from up42_provider.api.client import UP42Client

        client = UP42Client(settings)
        current = settings.generation == "current"
        hint = (
            "check the account e-mail (login) and the account password (password)"
            if current
            else "check the project id (login) and the project API key (password)"
        )
        try:
            answer = (client.call(V2.userinfo) if current else client.call(V1.get_project)) or {}
        except UP42AuthenticationError as exc:
            return False, (
                f"UP42 rejected the credentials of connection {self.up42_conn_id!r} ({exc.message}); {hint}"
            )
        except UP42TransportError as exc:
            where = settings.auth_url if current else settings.base_url
            return False, f"Cannot reach UP42 at {where}: {exc.message}; check the host field and region"
        except UP42Error as exc:
            return False, str(exc)
        finally:
            client.close()
        if current:
            workspace = answer.get("sub") or "?"
            who = answer.get("email") or answer.get("preferred_username") or settings.username
            message = f"Connected to UP42 (today's API) as {who}, workspace {workspace}"
        else:
            name = answer.get("name") or "?"
            message = f"Connected to UP42 project {name} ({answer.get('id') or settings.project_id})"
        # `airflow connections test` prints only "Connection success!" and mutes logging: say which
        # project or workspace answered (the UI shows the returned message).
        print(message, flush=True)
        return True, message

    # --------------------------------------------------------------------------- internals

    def _call(self, endpoint: Any, **kwargs: Any) -> Any:
        return self.get_conn().call(endpoint, **kwargs)

    @property
    def create_settle_seconds(self) -> float:
        """How long a lookup must find nothing before a creating call with a lost answer is re-sent.

        The hook argument wins over the connection extra ``create_settle_seconds``; the default,
        twice the read timeout and at least 30 s, outlasts a backend still working on the request.
        """
        if self._create_settle is None:
            conn = self.get_connection(self.up42_conn_id)
            self._create_settle = settle_seconds_from(
                conn.conn_id, conn.extra_dejson, read_timeout=self.settings.read_timeout
            )
        return self._create_settle

    def _create_once(
        self,
        what: str,
        create: Callable[[], dict[str, Any]],
        find: Callable[[], list[dict[str, Any]]],
        *,
        fetch: Callable[[str], dict[str, Any]],
        discard: Callable[[str], object] | None,
        converge: bool = False,
    ) -> dict[str, Any]:
        """Create exactly once, even when UP42 finishes a request whose answer the client lost.

        ``find`` lists the objects this call may have created (same tag or name, not there
        before). After an ambiguous outcome nothing is sent again until ``find`` has come back
        empty for :attr:`create_settle_seconds`; if it finds something, that is used. After a
        re-send (and always with ``converge``: concurrent workers sharing a name), the objects
        are listed once more and one is kept by :func:`keep_one`'s rule.
        """
        sent = 0
        while True:
            sent += 1
            try:
                created = create()
                break
            except UP42Error as exc:
                if not _is_ambiguous(exc):
                    raise
                self.log.warning(
                    "%s: outcome unknown (%s); waiting up to %g s for UP42 to show it",
                    what,
                    exc,
                    self.create_settle_seconds,
                )
                found = self._await_creation(what, find)
                if found is None:
                    raise exc from None
                if found:
                    self.log.info("%s: UP42 had created it; using the existing one", what)
                    return self._keep_one(what, found, fetch, discard)
                if sent >= 2:
                    raise
                self.log.warning(
                    "%s: not created after %g s; sending the request once more",
                    what,
                    self.create_settle_seconds,
                )
        if sent == 1 and not converge:
            return created
        try:
            matches = find()
        except UP42Error as lookup_error:  # created for sure: keep it rather than fail the task
            self.log.warning(
                "%s: duplicate check failed (%s); keeping %s", what, lookup_error, created.get("id")
            )
            return created
        if created.get("id") not in {m.get("id") for m in matches}:
            matches.append(created)
        return self._keep_one(what, matches, fetch, discard)

    def _await_creation(
        self, what: str, find: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]] | None:
        """Poll ``find`` with back-off until it finds something or the settle window has passed.

        Returns what was found, ``[]`` when a lookup at the end of the window confirmed absence,
        or ``None`` when absence could not be confirmed (the lookups failed): never re-send then.
        """
        settle = self.create_settle_seconds
        deadline = time.monotonic() + settle
        delay = min(1.0, max(settle / 10, 0.05))
        while True:
            final = time.monotonic() >= deadline
            try:
                found = find()
            except UP42Error as lookup_error:
                self.log.warning("%s: lookup failed (%s)", what, lookup_error)
            else:
                if found or final:
                    return found
            if final:
                return None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, MAX_LOOKUP_INTERVAL)

    def _keep_one(
        self,
        what: str,
        matches: list[dict[str, Any]],
        fetch: Callable[[str], dict[str, Any]],
        discard: Callable[[str], object] | None,
    ) -> dict[str, Any]:
        """Keep the :func:`keep_one` winner; cancel or delete the others where UP42 allows it.

        Duplicates are logged as warnings and listed under ``"duplicates"`` in the result.
        """
        winner, others = keep_one(matches)
        report: list[dict[str, Any]] = []
        for dup in others:
            entry: dict[str, Any] = {"id": dup.get("id"), "createdAt": dup.get("createdAt"), "removed": False}
            if discard is not None:
                try:
                    discard(str(dup["id"]))
                    entry["removed"] = True
                except UP42NotFoundError:
                    entry["removed"] = True  # another worker removed it already
                except UP42Error as exc:
                    entry["error"] = str(exc)
            report.append(entry)
        result = fetch(str(winner["id"]))
        if report:
            states = [
                f"{e['id']} ({'removed' if e['removed'] else e.get('error') or NOT_CANCELLABLE})"
                for e in report
            ]
            self.log.warning(
                "%s: UP42 holds %d duplicate(s) besides %s, kept by the oldest-first rule: %s",
                what,
                len(report),
                winner["id"],
                "; ".join(states),
            )
            result = {**result, "duplicates": report}
        return result
