"""Route table of the blocks domain (the block marketplace exists only in the 2023 generation)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from up42_provider.emulator.blocks import responses
from up42_provider.emulator.http import route

ROUTES_2023: list[BaseRoute] = [
    *route("/blocks", responses.list_blocks, ["GET"]),
    *route("/blocks/{block_id}", responses.get_block, ["GET"]),
    *route("/blocks/{block_id}/coverage", responses.get_coverage_url, ["GET"]),
    *route("/coverage/{block_id}.geojson", responses.get_coverage_file, ["GET"]),
    *route("/validate-schema/block", responses.validate_block_manifest, ["POST"]),
]
ROUTES_CURRENT: list[BaseRoute] = []
