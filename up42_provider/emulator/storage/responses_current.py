"""Storage handlers only today's generation calls (the STAC writes and the queryables).

The reads (landing page, search, collections, items) and downloads are shared with the 2023 generation and
live in :mod:`storage.responses`.

* ``patch_item`` ``PATCH .../items/{item_id}`` takes ``up42-user:title`` and ``up42-user:tags`` with JSON
  merge-patch meaning (a missing key keeps, ``null`` clears) and answers the full item, ``self`` link and
  ``collection`` included. Other keys are a 400 naming them (the user fields are the only writable ones). The
  2023 asset shows the same title and tags (one storage).
* ``delete_collection`` ``DELETE /v2/assets/stac/collections/{collection_id}`` answers 204 and removes the
  items, their assets and files at once (signed URLs handed out before then answer 404, like a deleted GCS
  object).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from up42_provider.emulator.http import bad_request, bare, base_url, emulator_state, json_body
from up42_provider.emulator.storage.stac import queryables, render_item

TITLE, TAGS = "up42-user:title", "up42-user:tags"


async def patch_item(request: Request) -> Response:
    """``patch_item``: set the user title and tags of an item."""
    store = emulator_state(request).assets
    record = store.item(request.path_params["collection_id"], request.path_params["item_id"])
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request(f"Request body must be a JSON object with '{TITLE}' and/or '{TAGS}'")
    unknown = sorted(set(body) - {TITLE, TAGS})
    if unknown:
        raise bad_request(f"Only '{TITLE}' and '{TAGS}' can be changed; unknown keys: {', '.join(unknown)}")
    title, tags = body.get(TITLE), body.get(TAGS)
    if title is not None and not isinstance(title, str):
        raise bad_request(f"'{TITLE}' must be a string or null")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise bad_request(f"'{TAGS}' must be a list of strings or null")
    store.update_metadata(
        record,
        title=title,
        clear_title=TITLE in body and title is None,
        tags=(tags if tags is not None else []) if TAGS in body else None,
    )
    return bare(render_item(record, base_url(request)))


async def delete_collection(request: Request) -> Response:
    """``delete_collection``: delete a collection with everything in it."""
    emulator_state(request).assets.delete_collection(request.path_params["collection_id"])
    return Response(status_code=204)


async def get_queryables(request: Request) -> Response:
    """The storage search's queryables (JSON Schema), as ``GET /v2/assets/stac/queryables``."""
    return bare(queryables(base_url(request)))
