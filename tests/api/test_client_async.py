"""The async twin over real HTTP against the emulator: same tokens, retries and errors as the sync client."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import httpx
import pytest
import requests

from tests.api.conftest import PROJECT, WEBHOOK, closed_port_url, settings_for
from up42_provider.api import (
    V1,
    AsyncUP42Client,
    ClientSettings,
    TokenCache,
    UP42AuthenticationError,
    UP42Client,
    UP42Error,
    UP42NotFoundError,
    UP42RateLimitedError,
    UP42ServerError,
    UP42TransportError,
)


class Recorder:
    """httpx event hooks counting requests and answers by (method, path[, status])."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()
        self.answers: Counter[tuple[str, str, int]] = Counter()

    async def on_request(self, request: httpx.Request) -> None:
        self.requests[(request.method, request.url.path)] += 1

    async def on_response(self, response: httpx.Response) -> None:
        self.answers[(response.request.method, response.request.url.path, response.status_code)] += 1

    def sent(self, method: str, suffix: str) -> int:
        return sum(n for (m, p), n in self.requests.items() if m == method and p.endswith(suffix))

    def status(self, code: int) -> int:
        return sum(n for (_, _, s), n in self.answers.items() if s == code)


@pytest.fixture
async def aclient_factory():
    made: list[tuple[AsyncUP42Client, httpx.AsyncClient]] = []

    def factory(server, token_cache: TokenCache | None = None, **overrides):
        recorder = Recorder()
        http = httpx.AsyncClient(
            event_hooks={"request": [recorder.on_request], "response": [recorder.on_response]}
        )
        client = AsyncUP42Client(
            settings_for(server, **overrides), http, token_cache=token_cache or TokenCache()
        )
        made.append((client, http))
        return client, recorder

    yield factory
    for client, http in made:
        await client.aclose()
        await http.aclose()


async def test_token_fetched_once_for_concurrent_calls(emulator, aclient_factory):
    client, rec = aclient_factory(emulator)
    results = await asyncio.gather(*(client.call(V1.get_webhook_events) for _ in range(30)))
    assert all(r == [{"name": "job.status"}, {"name": "order.status"}] for r in results)
    assert await client.aworkspace_id() == emulator.config.workspace_id
    assert await client.aworkspace_id() == emulator.config.workspace_id
    assert rec.sent("POST", "/oauth/token") == 1
    assert client.tokens.fetches == 1


async def test_workspace_looked_up_once_for_concurrent_callers(emulator, aclient_factory):
    client, rec = aclient_factory(emulator)
    ids = await asyncio.gather(*(client.aworkspace_id() for _ in range(20)))
    assert set(ids) == {emulator.config.workspace_id}
    assert rec.sent("GET", f"/projects/{emulator.config.project_id}") == 1


async def test_sync_and_async_clients_share_one_token(emulator):
    cache = TokenCache()
    settings = settings_for(emulator)
    with UP42Client(settings, token_cache=cache) as sync_client:
        sync_client.call(V1.get_project)
        async with AsyncUP42Client(settings, token_cache=cache) as async_client:
            await async_client.call(V1.get_project)
    assert cache.fetches == 1


async def test_expired_token_is_renewed_transparently(fresh_emulator, aclient_factory):
    client, rec = aclient_factory(fresh_emulator)
    await client.call(V1.get_project)
    fresh_emulator.state.clock.advance(fresh_emulator.config.token_lifetime + 5)
    results = await asyncio.gather(*(client.call(V1.get_project) for _ in range(10)))
    assert {r["id"] for r in results} == {fresh_emulator.config.project_id}
    assert rec.sent("POST", "/oauth/token") == 2  # one renewal for all ten rejected calls


async def test_forced_expiry_via_control_api(fresh_emulator, aclient_factory):
    client, rec = aclient_factory(fresh_emulator)
    await client.call(V1.get_project)
    async with httpx.AsyncClient() as control:
        (await control.post(f"{fresh_emulator.url}/_emulator/expire-tokens")).raise_for_status()
    await client.call(V1.get_webhook_events)
    assert rec.sent("POST", "/oauth/token") == 2 and rec.status(401) == 1


async def test_wrong_credentials_message(emulator, aclient_factory):
    client, rec = aclient_factory(emulator, api_key="definitely-wrong-key")
    with pytest.raises(UP42AuthenticationError) as info:
        await client.call(V1.get_project)
    text = str(info.value)
    assert text.startswith("UP42 401 on POST /oauth/token:") and "API key" in text
    assert "definitely-wrong-key" not in text + repr(info.value)
    assert rec.sent("POST", "/oauth/token") == 1


async def test_429_retried_honouring_retry_after(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.configure(retry_after=0.3)
    fresh_emulator.state.faults.add_rule("rate_limit", count=2, path=r"^/webhooks/events$")
    client, rec = aclient_factory(fresh_emulator)
    started = time.monotonic()
    assert await client.call(V1.get_webhook_events)
    assert time.monotonic() - started >= 0.6
    assert rec.status(429) == 2


async def test_5xx_retried(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.add_rule("error", count=2, method="GET", path=r"^/projects/")
    client, rec = aclient_factory(fresh_emulator)
    assert (await client.call(V1.get_project))["id"] == fresh_emulator.config.project_id
    assert rec.sent("GET", fresh_emulator.config.project_id) == 3


async def test_slow_answer_times_out_then_retry_succeeds(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.configure(slow_seconds=1.5)
    fresh_emulator.state.faults.add_rule("slow", count=1, method="GET", path=r"^/webhooks/events$")
    client, rec = aclient_factory(fresh_emulator, timeout=(2.0, 0.3))
    await client.call(V1.get_project)
    started = time.monotonic()
    assert await client.call(V1.get_webhook_events)
    assert time.monotonic() - started < 1.4
    assert rec.sent("GET", "/webhooks/events") == 2


async def test_slow_answers_exhaust_attempts(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.configure(slow_seconds=1.0)
    fresh_emulator.state.faults.add_rule("slow", count=10, method="GET", path=r"^/webhooks/events$")
    client, _ = aclient_factory(fresh_emulator, timeout=(2.0, 0.2), max_attempts=3)
    await client.call(V1.get_project)
    with pytest.raises(UP42TransportError) as info:
        await client.call(V1.get_webhook_events)
    assert info.value.maybe_sent is True and info.value.attempts == 3
    assert str(info.value).startswith("UP42 transport error on GET /webhooks/events: no answer within 0.2 s")


async def test_dropped_connection_on_get_is_retried(emulator, aclient_factory, dropping_proxy):
    warm, _ = aclient_factory(emulator)
    await warm.call(V1.get_project)
    proxy = dropping_proxy(emulator.url, drop=1)
    client, _ = aclient_factory(emulator, token_cache=warm.tokens, base_url=proxy.url)
    assert await client.call(V1.get_webhook_events)
    assert proxy.dropped == 1 and proxy.connections >= 2


async def test_connection_refused_create_is_retried_as_not_sent(emulator, aclient_factory):
    warm, _ = aclient_factory(emulator)
    await warm.call(V1.get_project)
    client, _ = aclient_factory(emulator, token_cache=warm.tokens, base_url=closed_port_url(), max_attempts=3)
    with pytest.raises(UP42TransportError) as info:
        await client.call(V1.create_webhook, json=WEBHOOK, workspace_id=emulator.config.workspace_id)
    assert info.value.maybe_sent is False and info.value.attempts == 3


async def _webhooks(client: AsyncUP42Client) -> list[dict]:
    return [w for w in await client.call(V1.get_webhooks) if w["name"] == WEBHOOK["name"]]


async def test_create_with_lost_response_is_not_resent(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/webhooks$")
    client, rec = aclient_factory(fresh_emulator)
    with pytest.raises(UP42TransportError) as info:
        await client.call(V1.create_webhook, json=WEBHOOK)
    assert info.value.maybe_sent is True and info.value.attempts == 1
    assert rec.sent("POST", "/webhooks") == 1
    assert len(await _webhooks(client)) == 1


async def test_create_after_429_is_retried_and_created_once(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.configure(retry_after=0.05)
    fresh_emulator.state.faults.add_rule("rate_limit", count=2, method="POST", path=r"/webhooks$")
    client, rec = aclient_factory(fresh_emulator)
    created = await client.call(V1.create_webhook, json=WEBHOOK)
    assert rec.sent("POST", "/webhooks") == 3
    assert [w["id"] for w in await _webhooks(client)] == [created["id"]]


async def test_create_after_5xx_is_not_retried(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.add_rule("error", count=1, method="POST", path=r"/webhooks$")
    client, rec = aclient_factory(fresh_emulator)
    with pytest.raises(UP42ServerError):
        await client.call(V1.create_webhook, json=WEBHOOK)
    assert rec.sent("POST", "/webhooks") == 1


async def test_total_retry_time_is_bounded(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.configure(retry_after=0.3)
    fresh_emulator.state.faults.add_rule("rate_limit", count=1000, path=r"^/webhooks/events$")
    client, _ = aclient_factory(fresh_emulator, max_attempts=100, max_retry_wait=1.0)
    await client.call(V1.get_project)
    started = time.monotonic()
    with pytest.raises(UP42RateLimitedError) as info:
        await client.call(V1.get_webhook_events)
    assert time.monotonic() - started < 1.6 and 2 <= info.value.attempts <= 5


async def test_retry_waits_do_not_block_the_loop(fresh_emulator, aclient_factory):
    fresh_emulator.state.faults.configure(retry_after=0.4)
    fresh_emulator.state.faults.add_rule("rate_limit", count=1, path=r"^/webhooks/events$")
    client, _ = aclient_factory(fresh_emulator)
    await client.call(V1.get_project)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    await client.call(V1.get_webhook_events)
    task.cancel()
    assert ticks >= 10  # the loop kept running during the Retry-After wait


async def test_v2_problem_404_is_mapped(emulator, aclient_factory):
    client, _ = aclient_factory(emulator)
    with pytest.raises(UP42NotFoundError) as info:
        await client.call(V1.get_asset, asset_id="9b1c7a52-4d0e-4f6a-8c3b-2e5f7d9a1b04")
    assert info.value.title == "Resource does not exist."
    path = "/v2/assets/9b1c7a52-4d0e-4f6a-8c3b-2e5f7d9a1b04/metadata"
    assert str(info.value) == f"UP42 404 on GET {path}: Resource does not exist."


async def test_envelope_with_null_data_and_error_on_200_raises():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "canned", "expires_in": 300})
        assert request.headers["authorization"] == "Bearer canned"
        return httpx.Response(200, json={"data": None, "error": {"code": 403, "message": "no access"}})

    settings = ClientSettings("https://api.up42.test", PROJECT, "k1")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = AsyncUP42Client(settings, http, token_cache=TokenCache())
        with pytest.raises(UP42AuthenticationError) as info:
            await client.call(V1.get_project)
    assert str(info.value) == f"UP42 403 on GET /projects/{PROJECT}: no access"


async def test_stream_url_errors_never_show_the_signature(emulator, aclient_factory):
    client, _ = aclient_factory(emulator)
    url = f"{emulator.url}/storage/missing/archive.zip?X-Goog-Signature=topsecretsig"
    with pytest.raises(UP42Error) as info:
        async with client.stream_url(url):
            pass
    assert "topsecretsig" not in str(info.value)


async def test_secrets_never_in_logs(fresh_emulator, aclient_factory, caplog):
    caplog.set_level(logging.DEBUG)
    client, _ = aclient_factory(fresh_emulator, max_attempts=2)
    await client.call(V1.get_project)
    first = client.tokens.token.value
    fresh_emulator.state.clock.advance(fresh_emulator.config.token_lifetime + 5)
    await client.call(V1.get_project)
    second = client.tokens.token.value
    fresh_emulator.state.faults.add_rule("error", count=5, path=r"^/webhooks/events$")
    with pytest.raises(UP42ServerError) as info:
        await client.call(V1.get_webhook_events)
    assert first != second
    for secret in (fresh_emulator.config.project_api_key, first, second):
        assert secret not in caplog.text and secret not in str(info.value)


def test_no_requests_calls_in_async_code(monkeypatch, emulator):
    """The async client must never fall back to blocking requests I/O."""

    def forbidden(*args, **kwargs):
        raise AssertionError("requests used from async code")

    monkeypatch.setattr(requests.Session, "request", forbidden)

    async def main() -> None:
        async with AsyncUP42Client(settings_for(emulator), token_cache=TokenCache()) as client:
            await client.call(V1.get_project)
            await client.call(V1.get_webhooks)

    asyncio.run(main())
