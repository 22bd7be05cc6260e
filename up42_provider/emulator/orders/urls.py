"""Route tables of the orders domain, per generation."""

from __future__ import annotations

from up42_provider.emulator.http import route
from up42_provider.emulator.orders import responses, responses_current

ROUTES_2023 = [
    *route("/workspaces/{workspace_id}/orders/estimate", responses.estimate, ["POST"]),
    *route("/workspaces/{workspace_id}/orders", responses.place, ["POST"]),
    *route("/workspaces/{workspace_id}/orders", responses.list_orders, ["GET"]),
    *route("/workspaces/{workspace_id}/orders/{order_id}", responses.get_order, ["GET"]),
]
ROUTES_CURRENT = [
    *route("/v2/orders/estimate", responses_current.estimate, ["POST"]),
    *route("/v2/orders", responses_current.place, ["POST"]),
    *route("/v2/orders", responses_current.list_orders, ["GET"]),
    *route("/v2/orders/{order_id}", responses_current.get_order, ["GET"]),
    *route("/v2/orders/{order_id}", responses_current.update_order, ["PATCH"]),
    *route("/v2/orders/{order_id}/cancellation", responses_current.cancel_order, ["POST"]),
]
