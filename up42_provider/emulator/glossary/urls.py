"""Route table of the glossary domain."""

from __future__ import annotations

from up42_provider.emulator.glossary import responses, responses_current
from up42_provider.emulator.http import route

ROUTES_2023 = [
    *route("/collections", responses.collections, ["GET"]),
    *route("/data-products", responses.data_products, ["GET"]),
    *route("/orders/schema/{data_product_id}", responses.schema, ["GET"]),
]

ROUTES_CURRENT = [
    *route("/v2/collections", responses_current.collections, ["GET"]),
    *route("/v2/collections/{name}", responses_current.collection, ["GET"]),
    *route("/v2/eulas/{eula_id}", responses_current.eula, ["GET"]),
]
