"""Block marketplace handlers (2023 generation): list, details, coverage URL, coverage file, manifests.

Blocks are static (``blocks.models``): there is no store and nothing changes with time.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from up42_provider.emulator.blocks.models import (
    BLOCKS,
    block_coverage,
    find_block,
    list_item,
    validate_manifest,
)
from up42_provider.emulator.http import ApiError, base_url, envelope, json_body


def _block(request: Request) -> dict:
    block_id = request.path_params["block_id"]
    block = find_block(block_id)
    if block is None:
        raise ApiError(404, f"Block with id {block_id} not found", title="Resource does not exist.")
    return block


async def list_blocks(request: Request) -> Response:
    return envelope([list_item(b) for b in BLOCKS])


async def get_block(request: Request) -> Response:
    return envelope(_block(request))


async def get_coverage_url(request: Request) -> Response:
    block = _block(request)
    if block_coverage(block) is None:
        raise ApiError(404, f"Block {block['name']} has no coverage (only data blocks have one)")
    return envelope({"url": f"{base_url(request)}/coverage/{block['id']}.geojson"})


async def get_coverage_file(request: Request) -> Response:
    """The public GeoJSON file the coverage URL points to (no auth, plain GeoJSON)."""
    coverage = block_coverage(_block(request))
    if coverage is None:
        raise ApiError(404, "No coverage file for this block")
    return JSONResponse(coverage, media_type="application/geo+json")


async def validate_block_manifest(request: Request) -> Response:
    manifest = await json_body(request)
    errors = validate_manifest(manifest)
    if errors:
        message = "Invalid block manifest: " + "; ".join(errors)
        return JSONResponse(
            {"data": {"valid": False, "errors": errors}, "error": {"code": 400, "message": message}},
            status_code=400,
        )
    return envelope({"valid": True, "errors": []})
