"""Route table of the webhooks domain (today's generation has no webhook paths of its own)."""

from __future__ import annotations

from up42_provider.emulator.http import route
from up42_provider.emulator.webhooks import responses

_BASE = "/workspaces/{workspace_id}/webhooks"

ROUTES_2023 = [
    *route("/webhooks/events", responses.events, ["GET"]),
    *route(_BASE, responses.list_webhooks, ["GET"]),
    *route(_BASE, responses.create_webhook, ["POST"]),
    *route(_BASE + "/{webhook_id}", responses.get_webhook, ["GET"]),
    *route(_BASE + "/{webhook_id}", responses.put_webhook, ["PUT"]),
    *route(_BASE + "/{webhook_id}", responses.delete_webhook, ["DELETE"]),
    *route(_BASE + "/{webhook_id}/tests", responses.test_webhook, ["POST"]),
    *route("/_emulator/webhooks/deliveries", responses.deliveries, ["GET"]),
]

ROUTES_CURRENT: list = []
