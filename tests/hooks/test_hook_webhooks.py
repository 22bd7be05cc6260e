"""Webhooks through the hook: events, CRUD, test events, idempotent creation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from up42_provider.api.errors import UP42NotFoundError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook

from .conftest import api_calls


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    """A local HTTP endpoint that accepts webhook deliveries."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_webhook_events(hook: UP42Hook):
    assert set(hook.get_webhook_events()) == {"job.status", "order.status"}


def test_webhook_crud_and_test_events(fresh_hook: UP42Hook, receiver):
    url, received = receiver
    created = fresh_hook.create_webhook("hook-crud", url, ["job.status", "order.status"], secret="s3cret!")
    assert created["name"] == "hook-crud" and created["active"] is False
    assert fresh_hook.get_webhook(created["id"])["url"] == url
    assert [w["id"] for w in fresh_hook.get_webhooks()] == [created["id"]]
    updated = fresh_hook.update_webhook(created["id"], active=True)
    assert updated["active"] is True and updated["name"] == "hook-crud" and updated["url"] == url
    renamed = fresh_hook.update_webhook(created["id"], name="hook-renamed", events=[{"name": "job.status"}])
    assert (
        renamed["name"] == "hook-renamed"
        and renamed["events"] == ["job.status"]
        and renamed["active"] is True
    )
    result = fresh_hook.trigger_webhook_test_events(created["id"])
    assert result["testsRun"] == 1 and result["testsSucceeded"] == 1
    assert len(received) == 1
    fresh_hook.delete_webhook(created["id"])
    with pytest.raises(UP42NotFoundError):
        fresh_hook.get_webhook(created["id"])
    assert fresh_hook.get_webhooks() == []


def test_webhook_validation_before_any_request(hook: UP42Hook, emulator: EmulatorServer):
    hook.get_project()
    before = api_calls(emulator, hook)
    with pytest.raises(ValueError, match=r"unknown webhook event\(s\) \['job.done'\]"):
        hook.create_webhook("x", "https://example.invalid/h", ["job.done"])
    with pytest.raises(ValueError, match="needs at least one event"):
        hook.create_webhook("x", "https://example.invalid/h", [])
    with pytest.raises(ValueError, match="must be an http\\(s\\) URL"):
        hook.create_webhook("x", "ftp://example.invalid/h", ["job.status"])
    with pytest.raises(ValueError, match="needs a name"):
        hook.create_webhook("", "https://example.invalid/h", ["job.status"])
    assert api_calls(emulator, hook) == before


def test_webhook_creation_survives_a_lost_response(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    fresh_hook.create_webhook("older", "https://example.invalid/a", ["job.status"])
    fresh_emulator.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/webhooks$")
    created = fresh_hook.create_webhook("lost", "https://example.invalid/a", "order.status")
    assert fresh_emulator.state.faults.fired["lost_response"] == 1
    named = [w for w in fresh_hook.get_webhooks() if w["name"] == "lost"]
    assert [w["id"] for w in named] == [created["id"]]


def test_webhook_reuse_existing(fresh_hook: UP42Hook):
    first = fresh_hook.create_webhook(
        "same", "https://example.invalid/b", ["job.status"], reuse_existing=True
    )
    again = fresh_hook.create_webhook(
        "same", "https://example.invalid/b", ["job.status"], reuse_existing=True
    )
    assert first["id"] == again["id"] and len(fresh_hook.get_webhooks()) == 1
