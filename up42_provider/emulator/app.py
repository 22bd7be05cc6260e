"""ASGI application factory of the UP42 API emulator."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from up42_provider.emulator import auth
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.faults import CREATING_CALLS
from up42_provider.emulator.http import ApiError, emulator_state, error_response, route
from up42_provider.emulator.state import EmulatorState

log = logging.getLogger("up42_provider.emulator")

# Domain packages, laid out as ``models`` / ``responses`` / ``responses_current`` / ``urls``; each
# ``urls`` module holds ``ROUTES_2023`` and ``ROUTES_CURRENT`` (its store is built by ``EmulatorState``
# itself, so the order here matters only where two domains route the same path).
DOMAIN_MODULES = (
    "up42_provider.emulator.storage",  # assets, blobs, signed URLs, STAC storage of both generations
    "up42_provider.emulator.account",  # both generations' sign-in, project, credits, budgets
    "up42_provider.emulator.webhooks",  # webhook definitions and event delivery
    "up42_provider.emulator.blocks",  # block marketplace and coverage files (2023)
    "up42_provider.emulator.glossary",  # collections, data products, order schemas, EULAs
    "up42_provider.emulator.catalog",  # host search, quicklooks, today's STAC catalog
    "up42_provider.emulator.orders",  # orders of both generations
    "up42_provider.emulator.tasking",  # quotations, feasibility studies, order coverage
    "up42_provider.emulator.workflows",  # workflows, task chains, job estimate (2023)
    "up42_provider.emulator.jobs",  # jobs and job tasks (2023)
    "up42_provider.emulator.processing",  # processes and processing jobs (today)
)

TICK_SECONDS = 0.2


class EmulatorMiddleware:
    """Advances simulated time, injects faults and checks the bearer token before routing."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state
        self._late: set[asyncio.Task[None]] = set()  # late creations still running (kept referenced)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path, method = request.url.path, request.method
        state = self.state
        state.requests_seen += 1
        if path.startswith("/_emulator/"):
            await self.app(scope, receive, send)
            return
        state.advance()
        auth.note_generation(state, request)
        faults = state.faults
        if not path.startswith("/storage/"):
            if faults.draw("slow", method, path):
                await asyncio.sleep(faults.config.slow_seconds)
            if faults.draw("rate_limit", method, path):
                exc = ApiError(
                    429,
                    "Too many requests, please slow down",
                    title="Too Many Requests",
                    headers={"Retry-After": f"{faults.config.retry_after:g}"},
                )
                await error_response(request, exc)(scope, receive, send)
                return
            if faults.draw("error", method, path):
                status = faults.error_status()
                exc = ApiError(status, "Internal server error", title="Internal Server Error")
                await error_response(request, exc)(scope, receive, send)
                return
        try:
            auth.check_request(state, request)
            if not path.startswith(auth.PUBLIC_PREFIXES) and faults.draw("token_expiry", method, path):
                raise ApiError(401, "Token has expired")
        except ApiError as exc:
            await error_response(request, exc)(scope, receive, send)
            return
        if method == "POST" and CREATING_CALLS.match(path) and faults.draw("lost_response", method, path):
            await self._lose_response(scope, receive, send)
            return
        if method == "POST" and CREATING_CALLS.match(path):
            if faults.draw("late", method, path):
                await self._complete_late(scope, receive, send, answer_504=False)
                return
            if faults.draw("late_504", method, path):
                await self._complete_late(scope, receive, send, answer_504=True)
                return
        await self.app(scope, receive, send)

    async def _complete_late(self, scope: Scope, receive: Receive, send: Send, *, answer_504: bool) -> None:
        """A backend that goes on after the client gave up: hold, then create anyway.

        The handler runs in its own task on the already-read body, with a ``receive`` that never
        reports ``http.disconnect``, so neither a client timeout nor a dropped connection stops it.
        ``answer_504`` answers 504 at once (a gateway's timeout) while the creation completes
        ``late_seconds`` later; otherwise the real answer is sent after the hold, if anyone listens.
        """
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client is gone already; the work is still done
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # never a disconnect
            raise AssertionError("unreachable")

        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        faults = self.state.faults

        async def work() -> None:
            try:
                await asyncio.sleep(faults.config.late_seconds)
                await self.app(scope, replay, keep)
            except Exception:
                log.exception("late creation failed")
            finally:
                faults.late_in_flight -= 1

        faults.late_in_flight += 1

        task = asyncio.create_task(work())
        self._late.add(task)
        task.add_done_callback(self._late.discard)
        if answer_504:
            exc = ApiError(504, "Gateway timeout", title="Gateway Timeout")
            await error_response(Request(scope), exc)(scope, receive, send)
            return
        await asyncio.shield(task)
        with contextlib.suppress(Exception):  # the client may have hung up long ago
            for message in answer:
                await send(message)

    async def _lose_response(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Do the work, then drop the connection before the client can read the answer."""
        started: list[Message] = []

        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(message)

        await self.app(scope, receive, swallow)
        if started:
            headers = [(k, v) for k, v in started[0].get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", b"4096"))
            await send({"type": "http.response.start", "status": started[0]["status"], "headers": headers})
            await send({"type": "http.response.body", "body": b"", "more_body": True})
        # Returning without completing the response makes the server close the connection.


# -- the emulator's own control API under /_emulator (not part of UP42's API) ---------------------
async def control_info(request: Request) -> Response:
    state = emulator_state(request)
    cfg = state.config
    return JSONResponse(
        {
            "projectId": cfg.project_id,
            "workspaceId": cfg.workspace_id,
            "accountUsername": cfg.account_username,
            "seed": cfg.seed,
            "speed": cfg.speed,
            "now": state.clock.now().isoformat(),
            "credits": state.credits.balance,
            "requests": state.requests_seen,
            "faultsFired": state.faults.fired,
            "lateInFlight": state.faults.late_in_flight,
        }
    )


async def control_faults(request: Request) -> Response:
    state = emulator_state(request)
    if request.method == "POST":
        body = json.loads(await request.body() or b"{}")
        if body.get("clear"):
            state.faults.clear()
        rates = body.get("rates") or {}
        try:
            state.faults.configure(**{k: float(v) for k, v in rates.items()})
            for rule in body.get("rules") or []:
                state.faults.add_rule(**rule)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(
        {
            "rates": state.faults.config.__dict__,
            "rules": state.faults.rules(),
            "fired": state.faults.fired,
        }
    )


async def control_clock(request: Request) -> Response:
    state = emulator_state(request)
    body = json.loads(await request.body() or b"{}")
    now = state.clock.advance(float(body.get("advance", 0)))
    state.advance()
    return JSONResponse({"now": now.isoformat()})


async def control_expire_tokens(request: Request) -> Response:
    emulator_state(request).tokens.revoke_all_before()
    return JSONResponse({"expired": True})


async def control_tokens(request: Request) -> Response:
    """Every token issued so far (access and refresh), so a run can scan its logs for them exactly."""
    return JSONResponse({"tokens": list(emulator_state(request).tokens.issued)})


CONTROL_ROUTES = [
    *route("/_emulator/info", control_info, ["GET"]),
    *route("/_emulator/faults", control_faults, ["GET", "POST"]),
    *route("/_emulator/clock", control_clock, ["POST"]),
    *route("/_emulator/expire-tokens", control_expire_tokens, ["POST"]),
    *route("/_emulator/tokens", control_tokens, ["GET"]),
]


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    """Build the emulator app; the state is reachable as ``app.state.emulator``."""
    config = config or EmulatorConfig()
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if config.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="up42-emulator-")
        data_dir = Path(tmp.name)
    else:
        data_dir = Path(config.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
    state = EmulatorState(config, data_dir)

    routes: list[BaseRoute] = [*CONTROL_ROUTES]
    for name in DOMAIN_MODULES:
        urls = importlib.import_module(f"{name}.urls")
        routes.extend([*getattr(urls, "ROUTES_2023", []), *getattr(urls, "ROUTES_CURRENT", [])])

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(request, exc)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        detail = "Not found" if status == 404 else "Method not allowed"
        return error_response(
            request, ApiError(status, detail, title="Resource does not exist." if status == 404 else detail)
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def tick() -> None:
            while True:
                await asyncio.sleep(TICK_SECONDS)
                try:
                    state.advance()
                except Exception:  # keep ticking; the next request shows the error
                    log.exception("emulator state advance failed")

        state.loop = asyncio.get_running_loop()
        task = asyncio.create_task(tick())
        try:
            for hook in state.startup_hooks:
                await hook()
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for hook in state.shutdown_hooks:
                await hook()
            if tmp is not None:
                tmp.cleanup()

    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: api_error, 404: not_found, 405: not_found},
        lifespan=lifespan,
    )
    app.state.emulator = state
    return EmulatorApp(EmulatorMiddleware(app, state), state)


class EmulatorApp:
    """The ASGI callable with its state attached (``app.emulator``)."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self._app = app
        self.emulator = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
