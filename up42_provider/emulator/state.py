"""The emulator's in-memory world state: one ``EmulatorState`` per app, under both generations.

Each domain keeps its records and store in its own ``<domain>/models.py``; this container builds
every store (typed attributes, no install order: a store reaches other stores through the state
when it is called, never when it is built) and owns what they share: configuration, clock,
seeded randomness, events.

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

from up42_provider.emulator.account.models import BudgetStore, Credits, Tokens
from up42_provider.emulator.clock import Clock, iso
from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.faults import FaultInjector
from up42_provider.emulator.glossary.models import GlossaryStore
from up42_provider.emulator.jobs.models import JobStore
from up42_provider.emulator.orders.models import OrderStore
from up42_provider.emulator.processing.models import ProcessingStore
from up42_provider.emulator.storage.blobs import BlobStore
from up42_provider.emulator.storage.models import AssetStore
from up42_provider.emulator.tasking.models import TaskingStore
from up42_provider.emulator.webhooks.models import WebhookStore
from up42_provider.emulator.workflows.models import WorkflowStore
from up42_provider.emulator.world.catalog import Catalog


class Store(Protocol):
    def advance(self, now: datetime) -> None: ...


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
        self.loop: asyncio.AbstractEventLoop | None = None  # set by the app's lifespan
        self.startup_hooks: list[Callable[[], Awaitable[None]]] = []
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self.faults = FaultInjector(config.faults, config.seed)
        # The world both generations share.
        self.tokens = Tokens(self)
        self.credits = Credits(self)
        self.budgets = BudgetStore(self)
        self.catalog = Catalog(config.seed, now=self.clock.now)
        self.glossary = GlossaryStore(self)
        self.webhooks = WebhookStore(self)
        self.blobs: BlobStore = BlobStore(self)
        self.assets: AssetStore = AssetStore(self)
        for store in (self.credits, self.budgets, self.glossary, self.webhooks, self.assets):
            self.register(store)
        self.shutdown_hooks.append(self.assets.wait_for_builds)
        self.orders: OrderStore = OrderStore(self)
        self.register(self.orders)
        self.tasking: TaskingStore = TaskingStore(self)
        # Typed domain stores; they reach other stores through the state only when called.
        self.workflows: WorkflowStore = WorkflowStore(self)
        self.jobs: JobStore = JobStore(self)
        self.register(self.jobs)
        self.processing: ProcessingStore = ProcessingStore(self)
        self.register(self.processing)

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
