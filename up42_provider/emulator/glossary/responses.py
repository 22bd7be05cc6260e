"""2023 generation of the glossary: ``/collections``, ``/data-products``, ``/orders/schema/{id}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from up42_provider.emulator.http import ApiError, bare, envelope
from up42_provider.emulator.world import COLLECTIONS, DATA_PRODUCTS, order_schema


async def collections(request: Request) -> Response:
    return envelope(COLLECTIONS)


async def data_products(request: Request) -> Response:
    return envelope(DATA_PRODUCTS)


async def schema(request: Request) -> Response:
    """The order schema; the same path and shape in both generations."""
    product_id = request.path_params["data_product_id"]
    found = order_schema(product_id)
    if found is None:
        raise ApiError(404, f"Data product with id {product_id} not found", title="Resource does not exist.")
    return bare(found)
