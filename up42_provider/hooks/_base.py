"""The typed base of the hook's mixins: what each mixin may use of :class:`~.up42.UP42Hook`.

Declared for type checkers only (nothing at run time), so the mixins' MRO is unchanged and the
hook itself stays the one implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk.types import Logger

    from up42_provider.api.client import AsyncUP42Client, UP42Client
    from up42_provider.api.endpoints import Endpoint
    from up42_provider.api.settings import ClientSettings


class HookBase:
    page_size: int
    credits_page_size: int
    up42_conn_id: str
    _hosts: dict[str, str] | None  # catalog host per collection name (read once)
    _tasking_collections: set[str]

    if TYPE_CHECKING:

        @property
        def log(self) -> Logger: ...

        @property
        def settings(self) -> ClientSettings: ...

        @property
        def generation(self) -> str: ...

        @property
        def client(self) -> UP42Client: ...

        @property
        def create_settle_seconds(self) -> float: ...

        async def ageneration(self) -> str: ...

        async def asettings(self) -> ClientSettings: ...

        def get_conn(self) -> UP42Client: ...

        async def aget_client(self) -> AsyncUP42Client: ...

        def _call(self, endpoint: Endpoint, **kwargs: Any) -> Any: ...

        # used across mixins (each defined once, in its resource's mixin)
        def get_blocks(self, *args: Any, **kwargs: Any) -> Any: ...

        def get_asset(self, asset_id: str) -> dict[str, Any]: ...

        def get_job(self, job_id: str) -> dict[str, Any]: ...

        def iter_storage_stac(self, search_parameters: Any = None) -> Iterator[dict[str, Any]]: ...
        def iter_order_items(self, order_id: str) -> Iterator[dict[str, Any]]: ...
        def iter_stac_items(self, collection_id: str) -> Iterator[dict[str, Any]]: ...

        def _require_current(self, what: str) -> None: ...

        def _create_once(
            self,
            what: str,
            create: Callable[[], dict[str, Any]],
            find: Callable[[], list[dict[str, Any]]],
            *,
            fetch: Callable[[str], dict[str, Any]],
            discard: Callable[[str], object] | None,
            converge: bool = False,
        ) -> dict[str, Any]: ...
