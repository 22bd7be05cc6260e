"""The sync client over real HTTP against the emulator: tokens, retries, errors, secrets."""

from __future__ import annotations

import base64
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.api.conftest import PROJECT, WEBHOOK, closed_port_url, settings_for
from up42_provider.api import (
    V1,
    ClientCredentialsAuth,
    TokenCache,
    UP42AuthenticationError,
    UP42Client,
    UP42Error,
    UP42NotFoundError,
    UP42RateLimitedError,
    UP42ServerError,
    UP42TransportError,
    UP42ValidationError,
)
from up42_provider.utils.ids import InvalidIdError

# -- tokens ------------------------------------------------------------------------------------


def test_token_fetched_once_for_many_calls(emulator, make_client):
    client, session = make_client(emulator)
    for _ in range(10):
        assert client.call(V1.get_project)["id"] == emulator.config.project_id
    assert client.workspace_id == emulator.config.workspace_id
    assert client.workspace_id == emulator.config.workspace_id
    assert session.count("POST", "/oauth/token") == 1
    # 10 calls + one E02 for the workspace
    assert session.count("GET", f"/projects/{emulator.config.project_id}") == 11
    assert client.tokens.fetches == 1


def test_token_shared_by_threads_single_refresh(emulator, make_client):
    client, session = make_client(emulator)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: client.call(V1.get_webhook_events), range(64)))
    assert all(r == [{"name": "job.status"}, {"name": "order.status"}] for r in results)
    assert session.count("POST", "/oauth/token") == 1


def test_token_cache_private_by_default_shared_on_request(emulator):
    settings = settings_for(emulator)
    assert UP42Client(settings).tokens is not UP42Client(settings).tokens
    first = UP42Client(settings, token_cache=TokenCache.for_settings(settings))
    second = UP42Client(settings, token_cache=TokenCache.for_settings(settings))
    assert first.tokens is second.tokens
    other = TokenCache.for_settings(settings.with_changes(api_key="another-key"))
    assert other is not first.tokens


def test_expired_token_is_renewed_transparently(fresh_emulator, make_client):
    client, session = make_client(fresh_emulator)
    client.call(V1.get_project)
    fresh_emulator.state.clock.advance(fresh_emulator.config.token_lifetime + 5)  # UP42 now rejects the token
    assert client.call(V1.get_project)["workspaceId"] == fresh_emulator.config.workspace_id
    assert session.count("POST", "/oauth/token") == 2
    assert session.count(status=401) == 1


def test_forced_token_expiry_is_renewed_transparently(fresh_emulator, make_client):
    client, session = make_client(fresh_emulator)
    client.call(V1.get_project)
    requests.post(f"{fresh_emulator.url}/_emulator/expire-tokens", timeout=5).raise_for_status()
    client.call(V1.get_webhook_events)
    client.call(V1.get_webhook_events)
    assert session.count("POST", "/oauth/token") == 2


@pytest.mark.parametrize("fresh_emulator", [{"token_lifetime": 2}], indirect=True)
def test_token_renewed_before_it_expires(fresh_emulator, make_client):
    client, session = make_client(fresh_emulator, token_margin=1.0)  # usable for 1 s of its 2 s
    client.call(V1.get_project)
    time.sleep(1.1)
    client.call(V1.get_project)
    assert session.count("POST", "/oauth/token") == 2
    assert session.count(status=401) == 0  # renewed proactively, UP42 never refused it


def test_second_401_after_renewal_is_raised(fresh_emulator, make_client):
    fresh_emulator.state.faults.add_rule("token_expiry", count=2, path=r"^/projects/")
    client, session = make_client(fresh_emulator)
    with pytest.raises(UP42AuthenticationError) as info:
        client.call(V1.get_project)
    assert info.value.status == 401 and info.value.attempts == 1
    assert session.count("POST", "/oauth/token") == 2
    assert session.count("GET", status=401) == 2


def test_wrong_credentials_message(emulator, make_client):
    client, session = make_client(emulator, api_key="definitely-wrong-key")
    with pytest.raises(UP42AuthenticationError) as info:
        client.call(V1.get_project)
    text = str(info.value)
    assert text.startswith("UP42 401 on POST /oauth/token:")
    assert "project id" in text and "API key" in text and "connection" in text
    assert "definitely-wrong-key" not in text + repr(info.value) + repr(info.value.args)
    assert session.count("POST", "/oauth/token") == 1  # wrong credentials are not retried


# -- retries -----------------------------------------------------------------------------------


def test_429_retried_honouring_retry_after(fresh_emulator, make_client):
    fresh_emulator.state.faults.configure(retry_after=0.3)
    fresh_emulator.state.faults.add_rule("rate_limit", count=2, path=r"^/webhooks/events$")
    client, session = make_client(fresh_emulator)
    started = time.monotonic()
    assert client.call(V1.get_webhook_events)
    assert time.monotonic() - started >= 0.6  # two waits of Retry-After, not the 10 ms back-off
    assert session.count("GET", "/webhooks/events", status=429) == 2
    assert session.count("GET", "/webhooks/events", status=200) == 1


def test_5xx_retried(fresh_emulator, make_client):
    fresh_emulator.state.faults.add_rule("error", count=2, method="GET", path=r"^/projects/")
    client, session = make_client(fresh_emulator)
    assert client.call(V1.get_project)["id"] == fresh_emulator.config.project_id
    assert session.count("GET", status=200) == 1
    assert sum(session.count("GET", status=s) for s in (500, 502, 503)) == 2


def test_5xx_gives_up_after_max_attempts(fresh_emulator, make_client):
    fresh_emulator.state.faults.add_rule("error", count=100, method="GET", path=r"^/projects/")
    client, session = make_client(fresh_emulator, max_attempts=3)
    with pytest.raises(UP42ServerError) as info:
        client.call(V1.get_project)
    assert info.value.attempts == 3 and "gave up after 3 attempts" in str(info.value)
    assert session.count("GET") == 3


def test_token_call_failures_are_retried(fresh_emulator, make_client):
    fresh_emulator.state.faults.add_rule("error", count=1, path=r"^/oauth/token$")
    client, session = make_client(fresh_emulator)
    client.call(V1.get_project)
    assert session.count("POST", "/oauth/token") == 2


def test_slow_answer_times_out_then_retry_succeeds(fresh_emulator, make_client):
    fresh_emulator.state.faults.configure(slow_seconds=1.5)
    fresh_emulator.state.faults.add_rule("slow", count=1, method="GET", path=r"^/webhooks/events$")
    client, session = make_client(fresh_emulator, timeout=(2.0, 0.3))
    client.call(V1.get_project)  # token first, so only the GET is slow
    started = time.monotonic()
    assert client.call(V1.get_webhook_events)
    assert time.monotonic() - started < 1.4  # did not wait for the slow answer
    assert session.count("GET", "/webhooks/events") == 2


def test_slow_answers_exhaust_attempts_as_transport_error(fresh_emulator, make_client):
    fresh_emulator.state.faults.configure(slow_seconds=1.0)
    fresh_emulator.state.faults.add_rule("slow", count=10, method="GET", path=r"^/webhooks/events$")
    client, _ = make_client(fresh_emulator, timeout=(2.0, 0.2), max_attempts=3)
    client.call(V1.get_project)
    with pytest.raises(UP42TransportError) as info:
        client.call(V1.get_webhook_events)
    exc = info.value
    assert exc.maybe_sent is True and exc.status is None and exc.attempts == 3
    assert str(exc).startswith("UP42 transport error on GET /webhooks/events: no answer within 0.2 s")


def test_dropped_connection_on_get_is_retried(emulator, make_client, dropping_proxy):
    warm, _ = make_client(emulator)
    warm.call(V1.get_project)  # token cached, so the first proxied connection carries the GET itself
    proxy = dropping_proxy(emulator.url, drop=1)
    client = UP42Client(settings_for(emulator, base_url=proxy.url), token_cache=warm.tokens)
    assert client.call(V1.get_webhook_events)
    assert proxy.dropped == 1 and proxy.connections >= 2
    client.close()


def test_dropped_connection_on_create_is_not_resent(emulator, make_client, dropping_proxy):
    warm, _ = make_client(emulator)
    workspace = warm.workspace_id
    proxy = dropping_proxy(emulator.url, drop=1)
    client = UP42Client(settings_for(emulator, base_url=proxy.url), token_cache=warm.tokens)
    with pytest.raises(UP42TransportError) as info:
        client.call(V1.create_webhook, json=WEBHOOK, workspace_id=workspace)
    assert info.value.maybe_sent is True and info.value.attempts == 1
    assert proxy.connections == 1
    client.close()


def test_connection_refused_is_retried_and_marked_not_sent(make_client, emulator):
    warm, _ = make_client(emulator)
    warm.call(V1.get_project)
    settings = settings_for(emulator, base_url=closed_port_url(), max_attempts=3)
    client = UP42Client(settings, token_cache=warm.tokens)
    with pytest.raises(UP42TransportError) as info:
        client.call(V1.create_webhook, json=WEBHOOK, workspace_id=emulator.config.workspace_id)
    exc = info.value
    # A creating call that surely never arrived is retried.
    assert exc.maybe_sent is False and exc.attempts == 3
    assert "could not connect" in str(exc)


# -- creating calls --------------------------------------------------------------------------


def _webhooks(client: UP42Client) -> list[dict]:
    return [w for w in client.call(V1.get_webhooks) if w["name"] == WEBHOOK["name"]]


def test_create_with_lost_response_is_not_resent(fresh_emulator, make_client):
    fresh_emulator.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/webhooks$")
    client, session = make_client(fresh_emulator)
    with pytest.raises(UP42TransportError) as info:
        client.call(V1.create_webhook, json=WEBHOOK)
    assert info.value.maybe_sent is True and info.value.attempts == 1
    assert "may have reached UP42" in str(info.value)
    assert session.count("POST", "/webhooks") == 1
    assert len(_webhooks(client)) == 1  # UP42 did create it: the caller must look it up, not re-send


BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.38, 52.50], [13.42, 52.50], [13.42, 52.52], [13.38, 52.52], [13.38, 52.50]]],
}


def archive_order(client: UP42Client, tag: str) -> dict:
    """A valid archive order body, found through the API itself (E19 data products, E21 search)."""
    product = next(
        p
        for p in client.call(V1.get_data_products)
        if p["collectionName"] == "phr"
        and p["collection"]["type"] == "ARCHIVE"
        and p.get("isIntegrated", True)
    )
    host = product["collection"]["host"]["name"]
    search = {"collections": ["phr"], "intersects": BERLIN, "limit": 1}
    scene = client.call(V1.search_catalog, json=search, host=host)["features"][0]["properties"]["id"]
    return {"dataProduct": product["id"], "params": {"id": scene, "aoi": BERLIN}, "tags": [tag]}


def _orders(client: UP42Client, tag: str) -> list[dict]:
    page = client.call(V1.get_orders, params={"format": "paginated", "tags": [tag], "size": 50})
    return [o for o in page["content"] if tag in (o.get("tags") or [])]


def test_order_with_lost_response_is_not_resent(fresh_emulator, make_client):
    client, session = make_client(fresh_emulator)
    body = archive_order(client, "lost-response")
    fresh_emulator.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/orders$")
    with pytest.raises(UP42TransportError) as info:
        client.call(V1.create_order, json=body)
    assert info.value.maybe_sent is True and info.value.attempts == 1
    assert session.count("POST", "/orders") == 1
    assert len(_orders(client, "lost-response")) == 1  # placed once; the hook finds it by tag


def test_order_after_429_is_retried_and_placed_once(fresh_emulator, make_client):
    fresh_emulator.state.faults.configure(retry_after=0.05)
    client, session = make_client(fresh_emulator)
    body = archive_order(client, "rate-limited")
    fresh_emulator.state.faults.add_rule("rate_limit", count=2, method="POST", path=r"/orders$")
    order = client.call(V1.create_order, json=body)
    assert session.count("POST", "/orders") == 3
    assert [o["id"] for o in _orders(client, "rate-limited")] == [order["id"]]


def test_create_after_429_is_retried_and_created_once(fresh_emulator, make_client):
    fresh_emulator.state.faults.configure(retry_after=0.05)
    fresh_emulator.state.faults.add_rule("rate_limit", count=2, method="POST", path=r"/webhooks$")
    client, session = make_client(fresh_emulator)
    created = client.call(V1.create_webhook, json=WEBHOOK)
    assert created["id"] and created["name"] == WEBHOOK["name"]
    assert session.count("POST", "/webhooks") == 3
    assert [w["id"] for w in _webhooks(client)] == [created["id"]]


def test_create_after_5xx_is_not_retried(fresh_emulator, make_client):
    fresh_emulator.state.faults.add_rule("error", count=1, method="POST", path=r"/webhooks$")
    client, session = make_client(fresh_emulator)
    with pytest.raises(UP42ServerError) as info:
        client.call(V1.create_webhook, json=WEBHOOK)
    assert info.value.attempts == 1
    assert session.count("POST", "/webhooks") == 1


def test_create_after_expired_token_is_resent_once(fresh_emulator, make_client):
    client, session = make_client(fresh_emulator)
    assert client.workspace_id  # E02 done (and cached) before the token expires
    fresh_emulator.state.clock.advance(fresh_emulator.config.token_lifetime + 5)
    created = client.call(V1.create_webhook, json=WEBHOOK)
    assert session.count("POST", "/webhooks", status=401) == 1  # refused before any work: safe to re-send
    assert [w["id"] for w in _webhooks(client)] == [created["id"]]


# -- bounded retry time --------------------------------------------------------------------------


def test_total_retry_time_is_bounded(fresh_emulator, make_client):
    fresh_emulator.state.faults.configure(retry_after=0.3)
    fresh_emulator.state.faults.add_rule("rate_limit", count=1000, path=r"^/webhooks/events$")
    client, _session = make_client(fresh_emulator, max_attempts=100, max_retry_wait=1.0)
    client.call(V1.get_project)
    started = time.monotonic()
    with pytest.raises(UP42RateLimitedError) as info:
        client.call(V1.get_webhook_events)
    assert time.monotonic() - started < 1.6
    assert 2 <= info.value.attempts <= 5
    assert info.value.retry_after == pytest.approx(0.3)


def test_retry_after_beyond_budget_raises_at_once(fresh_emulator, make_client):
    fresh_emulator.state.faults.configure(retry_after=30)
    fresh_emulator.state.faults.add_rule("rate_limit", count=1, path=r"^/webhooks/events$")
    client, _ = make_client(fresh_emulator, max_retry_wait=5.0)
    client.call(V1.get_project)
    started = time.monotonic()
    with pytest.raises(UP42RateLimitedError) as info:
        client.call(V1.get_webhook_events)
    assert time.monotonic() - started < 1.0
    assert info.value.retry_after == 30 and info.value.attempts == 1


# -- errors and decoding --------------------------------------------------------------------------


def test_v2_problem_404_is_mapped(emulator, make_client):
    client, _ = make_client(emulator)
    with pytest.raises(UP42NotFoundError) as info:
        client.call(V1.get_asset, asset_id="00000000-0000-4000-8000-000000000000")
    exc = info.value
    assert exc.status == 404 and exc.title == "Resource does not exist."
    assert str(exc) == (
        "UP42 404 on GET /v2/assets/00000000-0000-4000-8000-000000000000/metadata: Resource does not exist."
    )


def test_v1_error_envelope_is_mapped(emulator, make_client):
    client, _ = make_client(emulator)
    with pytest.raises(UP42AuthenticationError) as info:  # another project: 403 v1 envelope
        client.call(V1.get_project, project_id="11111111-2222-4333-8444-555555555555")
    assert info.value.status == 403 and "forbidden" in info.value.message.lower()


def test_validation_error_is_mapped(emulator, make_client):
    client, _ = make_client(emulator)
    with pytest.raises(UP42ValidationError) as info:
        client.call(V1.create_webhook, json={**WEBHOOK, "events": ["nope"]})
    assert info.value.status == 400 and "nope" in info.value.message


def test_query_params_are_encoded(emulator, make_client):
    client, _session = make_client(emulator)
    page = client.call(V1.get_credits_history, params={"page": 0, "size": 5, "unused": None})
    assert len(page["content"]) <= 5


def test_call_url_stays_on_the_api_host(emulator, make_client):
    client, _ = make_client(emulator)
    assert client.call_url("/webhooks/events", V1.get_webhook_events)
    assert client.call_url(f"{emulator.url}/webhooks/events", V1.get_webhook_events)
    with pytest.raises(ValueError, match="refusing to send UP42 credentials"):
        client.call_url("https://evil.example.com/webhooks/events?sig=1", V1.get_webhook_events)


def test_stream_url_errors_never_show_the_signature(emulator, make_client):
    client, _ = make_client(emulator)
    url = f"{emulator.url}/storage/missing/archive.zip?X-Goog-Signature=topsecretsig&X-Goog-Credential=cred"
    with pytest.raises(UP42Error) as info, client.stream_url(url):
        pass
    assert "topsecretsig" not in str(info.value) and "cred" not in str(info.value).split("archive.zip")[1]
    assert info.value.status in (403, 404, 410)


class _Canned(requests.adapters.BaseAdapter):
    """Answers every request from a table; lets a test produce bodies the emulator never sends."""

    def __init__(self, answers: dict[str, tuple[int, bytes]]) -> None:
        super().__init__()
        self.answers = answers

    def send(self, request, **kwargs):
        status, body = self.answers[requests.utils.urlparse(request.url).path]
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


TOKEN = b'{"data": {"accessToken": "canned-token-value"}, "expires_in": 300}'


def canned_client(answers: dict[str, tuple[int, bytes]]) -> UP42Client:
    session = requests.Session()
    session.mount("https://", _Canned({"/oauth/token": (200, TOKEN), **answers}))
    from up42_provider.api import ClientSettings

    settings = ClientSettings(
        "https://api.up42.test", PROJECT, "k1", backoff_initial=0.001, backoff_max=0.001
    )
    return UP42Client(settings, session, token_cache=TokenCache())


def test_envelope_with_null_data_and_error_on_200_raises():
    client = canned_client(
        {f"/projects/{PROJECT}": (200, b'{"data": null, "error": "Project is being deleted"}')}
    )
    with pytest.raises(UP42Error) as info:
        client.call(V1.get_project)
    assert str(info.value) == f"UP42 200 on GET /projects/{PROJECT}: Project is being deleted"


def test_token_read_from_data_access_token_fallback():
    client = canned_client({f"/projects/{PROJECT}": (200, b'{"data": {"workspaceId": "w1"}, "error": null}')})
    assert client.workspace_id == "w1"
    assert client.tokens.token.value == "canned-token-value"


# -- secrets -----------------------------------------------------------------------------------


class RecordingAuth(ClientCredentialsAuth):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def parse_token(self, *args, **kwargs):
        token = super().parse_token(*args, **kwargs)
        self.tokens.append(token.value)
        return token


def test_secrets_never_in_exceptions_or_logs(fresh_emulator, caplog):
    caplog.set_level(logging.DEBUG)
    auth = RecordingAuth()
    settings = settings_for(fresh_emulator, max_attempts=2)
    client = UP42Client(settings, auth=auth, token_cache=TokenCache())
    wrong = settings.with_changes(api_key="wrong-" + settings.api_key)
    errors: list[BaseException] = []
    client.call(V1.get_project)
    fresh_emulator.state.clock.advance(fresh_emulator.config.token_lifetime + 5)
    client.call(V1.get_project)  # 401 -> renewal
    fresh_emulator.state.faults.add_rule("error", count=5, path=r"^/webhooks/events$")
    fresh_emulator.state.faults.add_rule("rate_limit", count=1, path=r"^/blocks$")
    for call in (
        lambda: client.call(V1.get_webhook_events),
        lambda: client.call(V1.get_asset, asset_id="9b1c7a52-4d0e-4f6a-8c3b-2e5f7d9a1b04"),
        lambda: client.call(V1.get_project, project_id="11111111-2222-4333-8444-555555555555"),
        lambda: UP42Client(wrong, token_cache=TokenCache()).call(V1.get_project),
    ):
        with pytest.raises(UP42Error) as info:
            call()
        errors.append(info.value)
    assert len(auth.tokens) == 2
    basic = base64.b64encode(f"{settings.project_id}:{settings.api_key}".encode()).decode()
    secrets = [settings.api_key, basic, *auth.tokens]
    texts = [caplog.text, repr(client), repr(settings)]
    for exc in errors:
        texts += [str(exc), repr(exc), repr(exc.args), repr(exc.body)]
        cause = exc.__cause__
        while cause is not None:
            texts.append(repr(cause))
            cause = cause.__cause__
    for secret in secrets:
        for text in texts:
            assert secret not in text
    assert "retry 1" in caplog.text  # the retries were logged, without secrets


def test_thread_safety_of_workspace_lookup(emulator, make_client):
    client, session = make_client(emulator)
    barrier = threading.Barrier(8)

    def lookup(_):
        barrier.wait()
        return client.workspace_id

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lookup, range(8))) == {emulator.config.workspace_id}
    assert session.count("GET", f"/projects/{emulator.config.project_id}") == 1


def test_relative_links_keep_the_base_path_prefix():
    session = requests.Session()
    body = b'{"data": {"workspaceId": "w9"}, "error": null}'
    session.mount(
        "https://",
        _Canned({"/gateway/oauth/token": (200, TOKEN), f"/gateway/projects/{PROJECT}": (200, body)}),
    )
    from up42_provider.api import ClientSettings

    settings = ClientSettings("https://api.up42.test/gateway", PROJECT, "k1")
    client = UP42Client(settings, session, token_cache=TokenCache())
    assert client.call_url(f"/projects/{PROJECT}", V1.get_project) == {"workspaceId": "w9"}


@pytest.mark.parametrize("job_id", ["..", ".", "", "a/b", "not-a-uuid"])
def test_bad_ids_fail_before_any_request(emulator, make_client, job_id):
    """``..`` once reached UP42 as ``/projects/<p>/jobs/..`` and urllib3 made it the project."""
    client, session = make_client(emulator)
    with pytest.raises(ValueError, match="job_id") as info:
        client.call(V1.get_job, job_id=job_id)
    assert job_id == "" or isinstance(info.value, InvalidIdError)
    assert session.seen == []  # not even a token request
