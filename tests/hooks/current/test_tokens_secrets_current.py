"""Today's tokens and secrets over HTTP: a token that dies mid-run (sync pages and pystac-client
pages), a wrong password, the region extra, and the masking of the password and the tokens."""

from __future__ import annotations

import json
import logging
import time

import pytest
from airflow.sdk._shared.secrets_masker import redact
from pystac_client.exceptions import APIError

from tests.conftest import RawClient
from tests.emulator.current.conftest import CurrentClient
from tests.emulator.test_orders import HAMBURG, product_id, scene_ids
from tests.hooks.current.conftest import make_current_hook
from up42_provider.api.errors import UP42AuthenticationError, UP42NotFoundError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks._connection import UP42ConnectionConfigError
from up42_provider.hooks.up42 import UP42Hook

QUERY = {"collections": ["phr"], "intersects": HAMBURG}


def expire_tokens(server: EmulatorServer) -> None:
    """Move the emulator's clock an hour on: every token it issued is dead, the hook's cache does
    not know it yet (a revoked token or a skewed clock looks the same)."""
    raw = CurrentClient(server)
    raw.authenticate()
    assert raw.post("/_emulator/clock", json={"advance": 3600}).ok


def test_sync_paging_survives_a_token_dying_between_pages(fresh_emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(fresh_emulator, monkeypatch)
    expected = [f["properties"]["id"] for f in hook.search(QUERY, limit=4)["features"]]
    pages = hook.iter_search(QUERY, limit=4, page_size=1)  # four pages, chained by next links
    first = next(pages)
    logins = hook.get_conn().tokens.fetches
    expire_tokens(fresh_emulator)
    rest = list(pages)  # 401 on the next page: one new password grant, the page sent again
    assert [f["properties"]["id"] for f in [first, *rest]] == expected
    assert hook.get_conn().tokens.fetches == logins + 1


@pytest.mark.parametrize("fresh_emulator", [{"speed": 1.0, "token_lifetime": 2}], indirect=True)
def test_sync_paging_outlives_a_short_token_life(fresh_emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(fresh_emulator, monkeypatch)
    expected = [f["properties"]["id"] for f in hook.search(QUERY, limit=3)["features"]]
    pages = hook.iter_search(QUERY, limit=3, page_size=1)
    first = next(pages)
    logins = hook.get_conn().tokens.fetches
    time.sleep(2.5)  # the 2 s token has expired on both sides; the cache renews it before the next page
    assert [first["properties"]["id"], *(f["properties"]["id"] for f in pages)] == expected
    assert hook.get_conn().tokens.fetches == logins + 1


def test_order_pages_survive_a_token_dying_between_pages(fresh_emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(fresh_emulator, monkeypatch)
    scene = scene_ids(RawClient(fresh_emulator), "phr", 1, HAMBURG)[0]
    for n in range(3):
        body = hook.order_v2_body(product_id("phr"), {"id": scene}, [HAMBURG], display_name=f"p{n}")
        hook.place_order_v2(body, tag=f"page-{n}")
    expected = [o["id"] for o in hook.iter_orders(page_size=1)]
    pages = hook.iter_orders(page_size=1)
    first = next(pages)
    logins = hook.get_conn().tokens.fetches
    expire_tokens(fresh_emulator)
    assert [first["id"], *(o["id"] for o in pages)] == expected and len(expected) == 3
    assert hook.get_conn().tokens.fetches == logins + 1


def test_pystac_client_pages_survive_a_token_dying_mid_search(fresh_emulator: EmulatorServer, monkeypatch):
    hook = make_current_hook(fresh_emulator, monkeypatch)
    client = hook.stac_client(catalog=True)
    expected = [i.id for i in client.search(**QUERY, limit=1, max_items=3).items()]
    items = client.search(**QUERY, limit=1, max_items=3).items()  # one item per page
    first = next(items)
    logins = hook.get_conn().tokens.fetches
    expire_tokens(fresh_emulator)
    assert [first.id, *(i.id for i in items)] == expected and len(expected) == 3
    assert hook.get_conn().tokens.fetches == logins + 1


def test_pystac_client_requests_follow_the_one_retry_policy(current_hook: UP42Hook, fresh_emulator):
    faults = fresh_emulator.state.faults
    faults.configure(retry_after=0.1)
    faults.add_rule("rate_limit", count=1, method="POST", path=r"^/v2/catalog/search$")
    faults.add_rule("error", count=1, method="GET", path=r"^/v2/assets/stac/?$")
    assert current_hook.stac_client().get_self_href()  # the landing page after one 5xx
    assert list(current_hook.stac_client(catalog=True).search(**QUERY, max_items=1).items())
    assert (faults.fired["rate_limit"], faults.fired["error"]) == (1, 1)
    storage = current_hook.stac_client()
    assert storage.get_collection("00000000-0000-4000-8000-000000000000") is None  # pystac's own 404 rule
    with pytest.raises(APIError) as failed:
        storage.search(filter={"op": "nonsense", "args": []}, filter_lang="cql2-json").item_collection()
    assert failed.value.status_code == 400 and failed.value.__cause__ is not None


def test_wrong_password_fails_a_hook_call_clearly_without_echoing_it(emulator: EmulatorServer, monkeypatch):
    conn = json.loads(emulator.airflow_connection("current"))
    conn["password"] = "wrong-password-0815"
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", json.dumps(conn))
    hook = UP42Hook()
    with pytest.raises(UP42AuthenticationError) as refused:
        hook.get_orders(limit=1)
    text = f"{refused.value} {refused.value!r} {refused.value.args} {refused.value.body}"
    assert refused.value.status == 401 and "wrong-password-0815" not in text
    assert "refused the credentials" in str(refused.value) and "account password" in str(refused.value)


@pytest.mark.parametrize(
    ("region", "api"), [("eu", "https://api.up42.com"), ("sa", "https://api.sa.up42.com")]
)
def test_region_extra_picks_the_hosts_of_a_hook(region, api, monkeypatch):
    conn = {"conn_type": "up42", "login": "me@example.com", "password": "pw", "extra": {"region": region}}
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", json.dumps(conn))
    settings = UP42Hook().settings
    assert settings.base_url == api and settings.auth_url == api.replace("api", "auth", 1)


def test_an_unknown_region_is_refused_naming_the_choices(monkeypatch):
    conn = {"conn_type": "up42", "login": "me@example.com", "password": "pw", "extra": {"region": "us"}}
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", json.dumps(conn))
    with pytest.raises(UP42ConnectionConfigError, match=r"region.*eu.*sa"):
        UP42Hook().settings  # noqa: B018


def test_secrets_are_masked_before_use_and_never_logged(
    fresh_emulator: EmulatorServer, monkeypatch, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)  # every logger: the hook's, requests/urllib3, pystac-client
    hook = make_current_hook(fresh_emulator, monkeypatch)
    password = fresh_emulator.config.account_password
    hook.get_conn()  # the client exists, nothing was sent yet
    assert fresh_emulator.state.requests_seen == 0
    assert password not in redact(f"login with {password}")  # registered before the first request
    assert hook.test_connection()[0]
    token = hook.get_conn().bearer_token()
    assert token not in redact(f"Bearer {token}")
    hook.get_orders(limit=1)
    list(hook.stac_client(catalog=True).search(**QUERY, max_items=2).items())
    list(hook.stac_client().search(max_items=1).items())
    with pytest.raises(UP42NotFoundError):
        hook.get_stac_collection("00000000-0000-4000-8000-000000000000")
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert any(r.levelno == logging.DEBUG and r.name == "up42_provider.api" for r in caplog.records)
    assert password not in logged and token not in logged
