"""Coalesced polling: one listing per round answers every order (or job) waited on in a triggerer.

One :class:`Poller` per (event loop, connection id, kind) serves all triggers of that triggerer.
Each round it reads the list endpoint newest-first and answers every subscribed id it finds there;
only what the listing cannot answer costs a direct GET. Orders are listed by ``updatedAt`` and read
back to the previous round's newest ``updatedAt`` minus :data:`SAFETY_MARGIN` (an order missing
from that window has not changed since it was last seen); jobs cannot be sorted by update time,
so they are listed by ``createdAt`` until every waited job was seen or the listing is older than
the oldest of them.

Never missing a change rests on two rules: an id the poller has not seen yet (a new trigger, a
trigger moved to another triggerer or restarted) is read from scratch - listing or GET - in the
next round; and the watermark comes from the server's own timestamps, so local clocks do not
matter. A trigger compares each round's status with the last one it saw, so a change that the
listing shows only in its final state is still one change. Nothing correct depends on in-memory
state surviving: a new poller simply starts with everything unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import weakref
from collections.abc import AsyncGenerator, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from up42_provider.status import classify_status

if TYPE_CHECKING:
    from up42_provider.hooks.up42 import UP42Hook


log = logging.getLogger(__name__)

ORDER_PAGE_SIZE = 50  # V1.get_orders / V2.get_orders pages (the SDK's size)
JOB_PAGE_SIZE = 100  # V1.get_jobs accepts size=1..100 (V2.get_jobs: limit)
SAFETY_MARGIN = timedelta(seconds=30)  # replica clocks and eventual consistency of the listing
GATHER_WINDOW = 0.2  # a new subscriber waits this long so triggers started together share a round
EXTRA_PAGES = 2
# Subscribers woken per event-loop iteration: 1,000 triggers resuming at once would block the loop.
DELIVERY_CHUNK = 25  # pages read beyond ceil(unknown / page size) when looking for unseen ids

Answer = Mapping[str, Any] | BaseException
# Kept of a running order's or job's payload between rounds (the hook's shape, ``hooks/_shapes.py``).
REMEMBERED = ("id", "status", "created_at", "updated_at", "generation")


class StatusSource(Protocol):
    """The async reads a poller needs (the hook's contract, for both generations)."""

    async def get(self, kind: str, item_id: str) -> dict[str, Any]: ...

    def listing(self, kind: str, page_size: int) -> AsyncGenerator[list[dict[str, Any]], None]: ...


class HookSource:
    """:class:`StatusSource` of both generations: the hook's async reads (``aget_order``,
    ``aiter_orders``, ``aget_job``, ``aiter_jobs``), so a poll round is the same request a sensor
    sends, in the hook's shape (``hooks/_shapes.py``: ``id``, ``status``, ``created_at``,
    ``updated_at``). Orders are listed newest-updated first, jobs newest-created first, in pages
    of ``page_size``.
    """

    def __init__(self, hook: UP42Hook) -> None:
        self.hook = hook

    async def get(self, kind: str, item_id: str) -> dict[str, Any]:
        if kind == "order":
            return await self.hook.aget_order(item_id)
        return await self.hook.aget_job(item_id)

    async def listing(self, kind: str, page_size: int) -> AsyncGenerator[list[dict[str, Any]], None]:
        items = (
            self.hook.aiter_orders(sortby="updatedAt", descending=True, page_size=page_size)
            if kind == "order"
            else self.hook.aiter_jobs(page_size=page_size)
        )
        page: list[dict[str, Any]] = []
        async with contextlib.aclosing(items):
            async for item in items:
                page.append(item)
                if len(page) == page_size:  # a full page: hand it over before the next one is read
                    yield page
                    page = []
        if page:
            yield page


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class Subscription:
    """One trigger's place in the rounds: the answers delivered to it, oldest first.

    A queue of its own, because 1,000 ``asyncio.Queue``s (five deques and an event each, about
    3.8 KiB) would be the biggest thing a waiting trigger holds: here it is four slots and a
    list, and a waiting one one future (benchmarks/airflow_triggerer_benchmark.py, RSS per trigger).
    """

    __slots__ = ("_pending", "_waiter", "ids", "interval")

    def __init__(self, ids: tuple[str, ...], interval: float) -> None:
        self.ids = ids
        self.interval = interval
        self._pending: list[dict[str, Answer]] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, answers: dict[str, Answer]) -> None:
        self._pending.append(answers)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._pending

    def get_nowait(self) -> dict[str, Answer]:
        """The oldest undelivered answers; :class:`asyncio.QueueEmpty` when there are none."""
        if not self._pending:
            raise asyncio.QueueEmpty
        return self._pending.pop(0)

    async def get(self) -> dict[str, Answer]:
        """The next round's answers for :attr:`ids` (id -> payload, or the error that round met)."""
        while not self._pending:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.get_nowait()


class Poller:
    """Rounds of one listing for all subscribers; see the module docstring."""

    def __init__(self, conn_id: str, kind: str) -> None:
        self.conn_id = conn_id
        self.kind = kind
        self._subs: set[Subscription] = set()
        self._known: dict[str, Mapping[str, Any]] = {}  # what the last round told per id
        self._created: dict[str, datetime] = {}  # jobs: createdAt per id
        self._watermark: datetime | None = None  # orders: newest updatedAt of the last listing
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.rounds = 0
        self.requests = 0  # listing pages and GETs sent (tests, benchmark)

    @property
    def page_size(self) -> int:
        return ORDER_PAGE_SIZE if self.kind == "order" else JOB_PAGE_SIZE

    def subscribe(self, ids: Iterable[str], interval: float, *, run: bool = True) -> Subscription:
        """Join the rounds: ``await sub.get()`` is the next round's answers for ``ids`` (id ->
        payload or the error that round met). Always :meth:`unsubscribe` (``finally``).
        ``run=False`` starts no round loop: the caller drives :meth:`round` (tests, benchmark)."""
        sub = Subscription(tuple(ids), max(float(interval), 0.0))
        self._subs.add(sub)
        self._wake.set()
        if run and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        self._wake.set()  # the last one out lets the round loop end and release the client
        for item_id in sub.ids:
            if not any(item_id in s.ids for s in self._subs):
                self._known.pop(item_id, None)
                self._created.pop(item_id, None)

    async def wait_closed(self) -> None:
        """Until the round loop ended (after the last subscriber left) and released its client."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            await self._rounds()
        except Exception as exc:  # no client (connection gone) or a bug: no subscriber waits forever
            log.exception("UP42 %s poller of %s stopped", self.kind, self.conn_id)
            for sub in list(self._subs):
                sub.put_nowait({i: exc for i in sub.ids})

    async def _rounds(self) -> None:
        from up42_provider.hooks.up42 import UP42Hook

        hook = UP42Hook(up42_conn_id=self.conn_id)
        try:
            await hook.aget_client()  # held for the poller's lifetime: the triggers' shared client
            source = HookSource(hook)
            while self._subs:
                self._wake.clear()
                if any(i not in self._known for s in self._subs for i in s.ids):
                    await asyncio.sleep(GATHER_WINDOW)  # newcomers: a short gather, not a full interval
                if not self._subs:
                    break
                await self.round(source)
                interval = min((s.interval for s in self._subs), default=0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
        finally:
            await asyncio.shield(hook.aclose())

    async def round(self, source: StatusSource) -> None:
        """One listing (and GETs for what it cannot answer), delivered to every subscriber."""
        subs = list(self._subs)
        wanted = {i for s in subs for i in s.ids}
        answers: dict[str, Answer] = {}
        try:
            await (
                self._orders(source, wanted, answers)
                if self.kind == "order"
                else self._jobs(source, wanted, answers)
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the listing failed: every subscriber sees this round's error
            for sub in subs:
                sub.put_nowait({i: exc for i in sub.ids})
            return
        missing = [i for i in wanted if i not in answers and i not in self._known]
        for item_id, answer in zip(missing, await self._get_all(source, missing), strict=True):
            answers[item_id] = self._remembered(answer) if isinstance(answer, Mapping) else answer
        for item_id, answer in answers.items():
            if isinstance(answer, Mapping):
                self._known[item_id] = answer
                created = _time(answer.get("created_at"))
                if created is not None:
                    self._created[item_id] = created
        self.rounds += 1
        for n, sub in enumerate(subs, 1):
            sub.put_nowait({i: answers.get(i) or self._known[i] for i in sub.ids})
            if n % DELIVERY_CHUNK == 0:  # let the woken triggers (and everything else) run in between
                await asyncio.sleep(0)

    def _remembered(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """What a round keeps of an id's payload, to answer with now and until a later round tells
        more: while it runs only :data:`REMEMBERED` (a 2023 job's payload holds its whole input
        AOI, kilobytes per trigger, and a round over 1,000 jobs would hold them all at once); once
        it ended all of it, for the failure message (``waiters.astate_of``)."""
        if classify_status(self.kind, payload.get("status")) != "running":
            return payload
        return {key: payload.get(key) for key in REMEMBERED}

    async def _get_all(self, source: StatusSource, ids: list[str]) -> list[Answer]:
        async def one(item_id: str) -> Answer:
            self.requests += 1
            try:
                return await source.get(self.kind, item_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                return exc

        return list(await asyncio.gather(*(one(i) for i in ids)))

    async def _orders(self, source: StatusSource, wanted: set[str], answers: dict[str, Answer]) -> None:
        unknown = {i for i in wanted if i not in self._known}
        floor = self._watermark - SAFETY_MARGIN if self._watermark is not None else None
        budget = math.ceil(len(unknown) / self.page_size) + EXTRA_PAGES if unknown else 0
        newest: datetime | None = None
        pages = 0
        listing = source.listing("order", self.page_size)
        async for items in listing:
            self.requests += 1
            pages += 1
            oldest: datetime | None = None
            for item in items:
                updated = _time(item.get("updated_at"))
                if updated is not None:
                    newest = updated if newest is None or updated > newest else newest
                    oldest = updated if oldest is None or updated < oldest else oldest
                if item.get("id") in wanted:
                    answers[item["id"]] = self._remembered(item)
                    unknown.discard(item["id"])
            past_floor = floor is None or (oldest is not None and oldest < floor)
            if past_floor and (not unknown or pages >= budget):
                break
        await listing.aclose()  # a listing left early stops reading pages now, not at GC
        if newest is not None:
            self._watermark = newest if self._watermark is None else max(newest, self._watermark)

    async def _jobs(self, source: StatusSource, wanted: set[str], answers: dict[str, Answer]) -> None:
        unseen = set(wanted)
        known_created = [self._created[i] for i in wanted if i in self._created]
        oldest_wanted = min(known_created) if len(known_created) == len(wanted) else None
        budget = math.ceil(len(wanted) / self.page_size) + EXTRA_PAGES
        pages = 0
        listing = source.listing("job", self.page_size)
        async for items in listing:
            self.requests += 1
            pages += 1
            for item in items:
                if item.get("id") in unseen:
                    answers[item["id"]] = self._remembered(item)
                    unseen.discard(item["id"])
            oldest = _time(items[-1].get("created_at"))
            if not unseen or (oldest_wanted is not None and oldest is not None and oldest < oldest_wanted):
                break
            if oldest_wanted is None and pages >= budget:
                break
        await listing.aclose()
        # Jobs the listing did not reach are read directly (the listing shows current statuses only
        # for what it covers, and there is no update time to prove the rest unchanged).
        for item_id in unseen:
            self._known.pop(item_id, None)


class PollerRegistry:
    """One :class:`Poller` per (event loop, connection id, kind)."""

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], Poller]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, conn_id: str, kind: str) -> Poller:
        pollers = self._loops.setdefault(asyncio.get_running_loop(), {})
        poller = pollers.get((conn_id, kind))
        if poller is None:
            poller = pollers[(conn_id, kind)] = Poller(conn_id, kind)
        return poller


POLLERS = PollerRegistry()

__all__ = ["POLLERS", "HookSource", "Poller", "PollerRegistry", "StatusSource", "Subscription"]
