"""Storage routes. Static paths come before ``{asset_id}`` so they are not read as ids."""

from __future__ import annotations

from starlette.routing import Route

from up42_provider.emulator.http import route
from up42_provider.emulator.storage import responses, responses_current

STAC = "/v2/assets/stac"

ROUTES_2023 = [
    *route("/v2/assets", responses.get_assets, ["GET"]),
    *route(STAC, responses.stac_landing, ["GET"]),
    *route(f"{STAC}/search", responses.stac_search, ["GET", "POST"]),
    *route(f"{STAC}/collections", responses.stac_collections, ["GET"]),
    *route(f"{STAC}/collections/{{collection_id}}", responses.stac_collection, ["GET"]),
    *route(f"{STAC}/collections/{{collection_id}}/items", responses.stac_items, ["GET"]),
    *route(f"{STAC}/collections/{{collection_id}}/items/{{item_id}}", responses.stac_item, ["GET"]),
    *route("/v2/assets/{asset_id}/metadata", responses.get_metadata, ["GET"]),
    *route("/v2/assets/{asset_id}/metadata", responses.post_metadata, ["POST"]),
    *route("/v2/assets/{asset_id}/download-url", responses.download_url, ["POST"]),
    *route("/v2/assets/{asset_id}", responses.download, ["GET"]),
    Route("/storage/{bucket}/{path:path}", responses.signed_download, methods=["GET", "HEAD"]),
]

ROUTES_CURRENT = [
    *route(f"{STAC}/queryables", responses_current.get_queryables, ["GET"]),
    *route(f"{STAC}/collections/{{collection_id}}", responses_current.delete_collection, ["DELETE"]),
    *route(
        f"{STAC}/collections/{{collection_id}}/items/{{item_id}}", responses_current.patch_item, ["PATCH"]
    ),
]
