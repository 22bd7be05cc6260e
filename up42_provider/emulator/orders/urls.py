"""Route tables of the orders domain, per generation."""

from __future__ import annotations

from up42_provider.emulator.http import route
from up42_provider.emulator.orders import responses

ROUTES_2023 = [
    *route("/workspaces/{workspace_id}/orders/estimate", responses.estimate, ["POST"]),
    *route("/workspaces/{workspace_id}/orders", responses.place, ["POST"]),
    *route("/workspaces/{workspace_id}/orders", responses.list_orders, ["GET"]),
    *route("/workspaces/{workspace_id}/orders/{order_id}", responses.get_order, ["GET"]),
]
ROUTES_CURRENT: list = []
