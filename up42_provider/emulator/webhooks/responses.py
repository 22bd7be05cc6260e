"""Webhook handlers: events list, CRUD and test deliveries under ``/workspaces/{workspace_id}/webhooks``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from up42_provider.emulator.http import emulator_state, envelope, json_body
from up42_provider.emulator.webhooks.models import EVENTS, validate_definition


async def events(request: Request) -> Response:
    return envelope([{"name": name} for name in EVENTS])


async def list_webhooks(request: Request) -> Response:
    state = emulator_state(request)
    state.webhooks.check_workspace(request.path_params["workspace_id"])
    with state.lock:
        return envelope([dict(w) for w in state.webhooks.webhooks.values()])


async def create_webhook(request: Request) -> Response:
    state = emulator_state(request)
    state.webhooks.check_workspace(request.path_params["workspace_id"])
    definition = validate_definition(await json_body(request))
    with state.lock:
        return envelope(state.webhooks.create(definition), status=201)


async def get_webhook(request: Request) -> Response:
    state = emulator_state(request)
    state.webhooks.check_workspace(request.path_params["workspace_id"])
    with state.lock:
        return envelope(dict(state.webhooks.get(request.path_params["webhook_id"])))


async def put_webhook(request: Request) -> Response:
    state = emulator_state(request)
    store = state.webhooks
    store.check_workspace(request.path_params["workspace_id"])
    webhook_id = request.path_params["webhook_id"]
    with state.lock:
        store.get(webhook_id)
    definition = validate_definition(await json_body(request))
    with state.lock:
        return envelope(store.update(webhook_id, definition))


async def delete_webhook(request: Request) -> Response:
    state = emulator_state(request)
    state.webhooks.check_workspace(request.path_params["workspace_id"])
    with state.lock:
        state.webhooks.delete(request.path_params["webhook_id"])
    return Response(status_code=204)


async def test_webhook(request: Request) -> Response:
    state = emulator_state(request)
    state.webhooks.check_workspace(request.path_params["workspace_id"])
    with state.lock:
        webhook = dict(state.webhooks.get(request.path_params["webhook_id"]))
    return envelope(await state.webhooks.run_tests(webhook))


async def deliveries(request: Request) -> Response:
    """``GET /_emulator/webhooks/deliveries``: the delivery log (the emulator's own control API)."""
    return JSONResponse({"webhooks": emulator_state(request).webhooks.all_deliveries()})
