"""One token per hook: the sync client and the async client (triggers) share it."""

from __future__ import annotations

import asyncio

from up42_provider.api.endpoints import V1
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook


def test_sync_and_async_paths_share_one_token(fresh_emulator: EmulatorServer, fresh_hook: UP42Hook):
    fresh_hook.get_project()  # fetches the token
    before = fresh_emulator.state.requests_seen

    async def read_project() -> None:
        client = await fresh_hook.aget_client()
        await client.call(V1.get_project)
        await fresh_hook.aclose()

    asyncio.run(read_project())
    # Exactly the project read: no second token call from the async path.
    assert fresh_emulator.state.requests_seen - before == 1
