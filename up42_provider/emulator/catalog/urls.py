"""Route table of the catalog domain."""

from __future__ import annotations

from up42_provider.emulator.catalog import responses, responses_current
from up42_provider.emulator.catalog.responses_current import ROOT
from up42_provider.emulator.http import route

ROUTES_2023 = [
    *route("/catalog/hosts/{host}/stac/search", responses.search, ["POST"]),
    *route("/catalog/{host}/image/{image_id}/quicklook", responses.quicklook, ["GET"]),
]

ROUTES_CURRENT = [
    *route(ROOT, responses_current.landing, ["GET"]),
    *route(f"{ROOT}/conformance", responses_current.conformance, ["GET"]),
    *route(f"{ROOT}/collections", responses_current.collections, ["GET"]),
    *route(f"{ROOT}/collections/{{collection_id}}", responses_current.collection, ["GET"]),
    *route(f"{ROOT}/collections/{{collection_id}}/items", responses_current.items, ["GET"]),
    *route(f"{ROOT}/collections/{{collection_id}}/items/{{item_id}}", responses_current.item, ["GET"]),
    *route(f"{ROOT}/search", responses_current.search_get, ["GET"]),
    *route(f"{ROOT}/search", responses_current.search_post, ["POST"]),
]
