"""Webhooks: the ``webhooks.responses`` handlers and real delivery of ``order.status`` / ``job.status``
events.

Orders and jobs call ``state.emit(event, payload)`` on every status change (from the event loop or from any
thread). The listener snapshots the ACTIVE webhooks subscribed to that event and hands one delivery per
webhook to an asyncio queue on ``state.loop`` (thread-safe); a dispatcher task posts them with one shared
``httpx.AsyncClient`` (started and closed with the app's lifespan).

Delivery format — the UP42 documentation does not specify it, so this is **our assumption**::

    POST <webhook url>
    Content-Type: application/json
    User-Agent: UP42-Webhooks/1.0
    X-UP42-Event: order.status
    X-UP42-Delivery: <uuid, the same for every retry of one delivery>
    X-UP42-Timestamp: <unix seconds of this attempt, emulator clock>
    X-UP42-Signature: sha256=<hex HMAC-SHA256(secret, f"{X-UP42-Timestamp}.{raw body}")>

    {"event": "order.status", "timestamp": "<ISO time of the status change>",
     "webhookId": "<id>", "test": false, "body": <the emitted payload>}

The signature header is sent only when the webhook has a non-empty secret. A receiver verifies it by
recomputing the HMAC over the exact bytes it received. Attempts time out after 5 s; a connection error, a
time-out, a 5xx, 408 or 429 is retried (``retry_delays``: 0.5, 1 and 2 s of back-off); any other answer ends
the delivery. Deliveries to one webhook are sequential, in emission order (a failing receiver delays its later
events by up to the retry budget); different webhooks are served in parallel.

Other choices the UP42 documentation leaves open: ``webhooks.responses.create_webhook`` answers 201,
``webhooks.responses.delete_webhook`` answers 204 without a body, ``webhooks.responses.test_webhook`` sends
its test events (one attempt each, ``"test": true``) whether or not the webhook is active; ``secret: null`` is
stored as ``""`` (as the real service shows it); events must be the strings of ``webhooks.responses.events``;
another workspace is 403, an unknown webhook 404. ``GET /_emulator/webhooks/deliveries`` exposes the bounded
per-webhook delivery log (not part of UP42's API).

Today's generation: the 4.x SDK no longer has webhooks (SDK 1.0.4-2.6.0 called the same v1 paths with the OIDC
``sub`` as workspace id). They stay reachable with a token of either generation, and v2 orders and processing
jobs announce their status changes through the same ``state.emit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from up42_provider.emulator.clock import iso
from up42_provider.emulator.http import ApiError, bad_request

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

log = logging.getLogger("up42_provider.emulator.webhooks")

EVENTS = ("job.status", "order.status")
USER_AGENT = "UP42-Webhooks/1.0"
LOG_SIZE = 100  # delivery log entries kept per webhook


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>.<raw body>")."""
    message = timestamp.encode() + b"." + raw_body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def validate_definition(body: Any) -> dict[str, Any]:
    """The normalised webhook definition of an
    ``webhooks.responses.create_webhook``/``webhooks.responses.put_webhook`` body; raises 400 naming the bad
    field."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Webhook 'name' must be a non-empty string")
    url = body.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(
            400, f"Webhook 'url' must be an absolute http(s) URL, got {url!r}", title="Bad request"
        )
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise bad_request("Webhook 'events' must be a non-empty list of event names")
    for event in events:
        if event not in EVENTS:
            known = ", ".join(EVENTS)
            raise bad_request(f"Unknown webhook event {event!r} (known: {known})")
    secret = body.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise bad_request("Webhook 'secret' must be a string or null")
    active = body.get("active", False)
    if active is None:
        active = False
    if not isinstance(active, bool):
        raise bad_request("Webhook 'active' must be a boolean")
    return {
        "url": url,
        "name": name,
        "active": active,
        "events": list(dict.fromkeys(events)),
        "secret": secret or "",
    }


class WebhookStore:
    """Webhook definitions of the workspace, their delivery and a bounded delivery log."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        state.subscribe(self.on_event)
        state.startup_hooks.append(self.start)
        state.shutdown_hooks.append(self.stop)
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.timeout = 5.0
        self.retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)
        self.max_parallel = 20
        self._logs: dict[str, deque[dict[str, Any]]] = {}
        self._log_lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None
        self._queue: asyncio.Queue[tuple[dict[str, Any], str, bytes]] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[str, deque[tuple[dict[str, Any], str, bytes]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._slots: asyncio.Semaphore | None = None

    # -- definitions (called under state.lock by the routes) -------------------------------------
    def create(self, definition: dict[str, Any]) -> dict[str, Any]:
        now = iso(self._state.clock.now())
        webhook = {**definition, "id": self._state.new_id(), "createdAt": now, "updatedAt": now}
        self.webhooks[webhook["id"]] = webhook
        with self._log_lock:
            self._logs[webhook["id"]] = deque(maxlen=LOG_SIZE)
        return dict(webhook)

    def get(self, webhook_id: str) -> dict[str, Any]:
        webhook = self.webhooks.get(webhook_id)
        if webhook is None:
            raise ApiError(404, f"Webhook {webhook_id} not found", title="Resource does not exist.")
        return webhook

    def update(self, webhook_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        webhook = self.get(webhook_id)
        webhook.update(definition, updatedAt=iso(self._state.clock.now()))
        return dict(webhook)

    def delete(self, webhook_id: str) -> None:
        self.get(webhook_id)
        del self.webhooks[webhook_id]
        with self._log_lock:
            self._logs.pop(webhook_id, None)

    def deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        """A copy of the webhook's delivery log, oldest first (tests and inspection)."""
        with self._log_lock:
            return copy.deepcopy(list(self._logs.get(webhook_id, ())))

    def all_deliveries(self) -> dict[str, list[dict[str, Any]]]:
        with self._log_lock:
            return {wid: copy.deepcopy(list(entries)) for wid, entries in self._logs.items()}

    # -- event intake (any thread) ---------------------------------------------------------------
    def on_event(self, event: str, payload: dict[str, Any]) -> None:
        """``state.emit`` listener: queue one delivery per active webhook subscribed to ``event``."""
        if event not in EVENTS:
            return
        with self._state.lock:
            targets = [dict(w) for w in self.webhooks.values() if w["active"] and event in w["events"]]
        loop, queue = self._state.loop, self._queue
        if not targets:
            return
        if loop is None or queue is None or loop.is_closed():
            log.warning("webhook delivery not running; dropped %s event", event)
            return
        timestamp = iso(self._state.clock.now())
        for webhook in targets:
            raw = self._body(webhook, event, timestamp, payload, test=False)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(queue.put_nowait, (webhook, event, raw))

    @staticmethod
    def _body(webhook: dict[str, Any], event: str, timestamp: str, payload: Any, *, test: bool) -> bytes:
        body = {
            "event": event,
            "timestamp": timestamp,
            "webhookId": webhook["id"],
            "test": test,
            "body": payload,
        }
        return json.dumps(body, default=str).encode()

    # -- delivery (event loop) -------------------------------------------------------------------
    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}
        )
        self._queue = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.max_parallel)
        self._dispatcher = asyncio.create_task(self._dispatch(), name="up42-webhook-dispatcher")

    async def stop(self) -> None:
        self._queue = None
        pending = [t for t in (self._dispatcher, *self._tasks) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._dispatcher = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _dispatch(self) -> None:
        """Route queued deliveries to one worker per webhook, which keeps them in order."""
        queue = self._queue
        assert queue is not None
        while True:
            item = await queue.get()
            webhook_id = item[0]["id"]
            self._pending.setdefault(webhook_id, deque()).append(item)
            if webhook_id not in self._workers:
                task = asyncio.create_task(self._drain(webhook_id))
                self._workers[webhook_id] = task
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _drain(self, webhook_id: str) -> None:
        try:
            pending = self._pending[webhook_id]
            while pending:
                webhook, event, raw = pending.popleft()
                await self.deliver(webhook, event, raw)
        finally:
            # No await between the empty check above and this cleanup: the dispatcher (same loop)
            # cannot append in between, so no delivery is stranded.
            self._workers.pop(webhook_id, None)
            self._pending.pop(webhook_id, None)

    async def deliver(self, webhook: dict[str, Any], event: str, raw: bytes, *, test: bool = False) -> bool:
        """Post one event (test events: a single attempt, else with retries); True on a 2xx answer."""
        entry: dict[str, Any] = {
            "deliveryId": str(uuid.uuid4()),
            "event": event,
            "url": webhook["url"],
            "test": test,
            "startedAt": iso(self._state.clock.now()),
            "attempts": [],
            "success": None,
        }
        with self._log_lock:
            if webhook["id"] in self._logs:
                self._logs[webhook["id"]].append(entry)
        delays = () if test else self.retry_delays
        success = False
        for attempt in range(len(delays) + 1):
            status, error = await self._post(webhook, event, entry["deliveryId"], raw)
            with self._log_lock:
                entry["attempts"].append(
                    {"at": iso(self._state.clock.now()), "status": status, "error": error}
                )
            success = status is not None and 200 <= status < 300
            retryable = status is None or status >= 500 or status in (408, 429)
            if success or not retryable or attempt == len(delays):
                break
            await asyncio.sleep(delays[attempt])
        with self._log_lock:
            entry["success"] = success
        if not success:
            log.info("webhook %s: %s delivery to %s failed", webhook["id"], event, webhook["url"])
        return success

    async def _post(
        self, webhook: dict[str, Any], event: str, delivery_id: str, raw: bytes
    ) -> tuple[int | None, str | None]:
        if self._client is None or self._slots is None:
            return None, "webhook delivery is not running"
        timestamp = str(int(self._state.clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-UP42-Event": event,
            "X-UP42-Delivery": delivery_id,
            "X-UP42-Timestamp": timestamp,
        }
        if webhook["secret"]:
            headers["X-UP42-Signature"] = signature(webhook["secret"], timestamp, raw)
        async with self._slots:
            try:
                response = await self._client.post(webhook["url"], content=raw, headers=headers)
            except Exception as exc:  # connection refused, time-out, invalid URL, ...
                return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None

    async def run_tests(self, webhook: dict[str, Any]) -> dict[str, Any]:
        """``webhooks.responses.test_webhook``: one test event per subscribed event, one attempt each,
        counted by 2xx answers."""
        now = self._state.clock.now()
        bodies = [
            (event, self._body(webhook, event, iso(now), self._sample(event, now), test=True))
            for event in webhook["events"]
        ]
        results = await asyncio.gather(*(self.deliver(webhook, ev, raw, test=True) for ev, raw in bodies))
        return {"startedAt": iso(now), "testsRun": len(results), "testsSucceeded": sum(results)}

    def _sample(self, event: str, now: Any) -> dict[str, Any]:
        cfg = self._state.config
        if event == "order.status":
            return {
                "orderId": str(uuid.uuid4()),
                "workspaceId": cfg.workspace_id,
                "orderType": "ARCHIVE",
                "status": "FULFILLED",
                "statusChangedAt": iso(now),
            }
        return {
            "jobId": str(uuid.uuid4()),
            "jobName": "webhook-test-job",
            "projectId": cfg.project_id,
            "workflowId": str(uuid.uuid4()),
            "status": "SUCCEEDED",
            "statusChangedAt": iso(now),
        }

    def check_workspace(self, workspace_id: str) -> None:
        """Refuse other workspaces than the account's (403, see the module docstring)."""
        if workspace_id != self._state.config.workspace_id:
            raise ApiError(403, f"Access to workspace {workspace_id} is forbidden", title="Forbidden")

    def advance(self, now: datetime) -> None:
        """Deliveries are event-driven (``on_event``), not time-driven."""
