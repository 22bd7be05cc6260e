"""The emulator's in-memory world state: one ``EmulatorState`` per app.

Each domain keeps its own store (orders, jobs, ...) in its own module; this container wires them
together and owns what they share: configuration, clock, seeded randomness, credits, events.

Time progression is lazy and explicit: every request first calls :meth:`EmulatorState.advance`,
which lets each store apply the status transitions that are due (charging credits, creating
assets, emitting webhook events). A background ticker calls it too, so webhooks fire even when
no client is polling.
"""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from up42_provider.emulator.clock import Clock, iso
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.http import ApiError
from up42_provider.emulator.orders.models import OrderStore
from up42_provider.emulator.tasking.models import TaskingStore


class Store(Protocol):
    def advance(self, now: datetime) -> None: ...


class Credits:
    """The account's credit balance and its history (E09, E10)."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.balance: int = state.config.initial_credits
        self.history: list[dict[str, Any]] = []

    def require(self, amount: int) -> None:
        """Refuse before anything is created when the balance cannot cover ``amount``."""
        if amount > self.balance:
            raise ApiError(
                402,
                f"Insufficient credits: {amount} required, {self.balance} available",
                title="Insufficient credits",
            )

    def charge(self, amount: int, kind: str, description: str, details: dict[str, Any] | None = None) -> None:
        """Spend ``amount`` credits and record it (``kind``: JOB_TASK, ORDER, ...)."""
        self.require(amount)
        self._record(-amount, kind, description, details, {"id": self._state.user_id, "type": "USER"})

    def refund(self, amount: int, kind: str, description: str, details: dict[str, Any] | None = None) -> None:
        """Give ``amount`` credits back (a failed order), recorded as a positive delta by the system."""
        if amount > 0:
            self._record(amount, kind, description, details, {"id": "system", "type": "INTERNAL"})

    def _record(
        self, delta: int, kind: str, description: str, details: dict[str, Any] | None, by: dict[str, str]
    ) -> None:
        self.balance += delta
        self.history.append(
            {
                "createdAt": iso(self._state.clock.now()),
                "createdBy": by,
                "delta": delta,
                "type": kind,
                "details": {"allocation": "None", "description": description, **(details or {})},
            }
        )


class EmulatorState:
    def __init__(self, config: EmulatorConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self.clock = Clock()
        self.lock = threading.RLock()
        # One generator for runtime randomness (ids, faults); world content is derived from the
        # seed by hashing, not from this generator, so it does not depend on request order.
        self.rng = random.Random(config.seed)
        self.started_at = self.clock.now()
        self.user_id = str(uuid.uuid5(uuid.UUID(config.project_id), "user"))
        self.credits = Credits(self)
        self.project: dict[str, Any] = {
            "id": config.project_id,
            "name": "emulator-project",
            "description": "Project of the local UP42 API emulator",
            "createdAt": iso(self.started_at),
            "workspaceId": config.workspace_id,
        }
        self.settings: dict[str, str] = {
            "JOB_QUERY_MAX_AOI_SIZE": "1000",
            "MAX_CONCURRENT_JOBS": str(config.max_concurrent_jobs),
            "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE": "20",
        }
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._stores: list[Store] = []
        self.requests_seen = 0
        # Set by the app factory / lifespan; typed loosely to keep this module import-light.
        self.faults: Any = None
        self.tokens: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.startup_hooks: list[Callable[[], Awaitable[None]]] = []
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        # Domain stores, set by their modules' install(): blobs, webhooks, orders, assets, tasking,
        # workflows, jobs.
        self.blobs: Any = None
        self.webhooks: Any = None
        self.orders: OrderStore = OrderStore(self)
        self.register(self.orders)
        self.assets: Any = None
        self.tasking: TaskingStore = TaskingStore(self)
        self.workflows: Any = None
        self.jobs: Any = None
        self.catalog: Any = None  # world.catalog.Catalog, set by routes/catalog.py

    # -- ids -----------------------------------------------------------------------------------
    def new_id(self) -> str:
        """A random-looking UUID, reproducible for a given seed and call sequence."""
        with self.lock:
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- stores and progression ----------------------------------------------------------------
    def register(self, store: Store) -> None:
        self._stores.append(store)

    def advance(self) -> None:
        now = self.clock.now()
        with self.lock:
            for store in self._stores:
                store.advance(now)

    # -- events (webhooks) ---------------------------------------------------------------------
    def subscribe(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        self._listeners.append(listener)

    def emit(self, event: str, payload: dict[str, Any]) -> None:
        """Announce a status change (``order.status`` / ``job.status``) to webhook delivery."""
        for listener in self._listeners:
            listener(event, payload)
