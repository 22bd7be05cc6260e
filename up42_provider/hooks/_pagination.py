"""The UP42 pagination patterns (Spring pages, plain list pages, ``next`` links) as lazy generators,
independent of the HTTP client.

Each takes a ``fetch`` callable for one page, so the same loop serves the sync hook and tests;
laziness means ``itertools.islice(gen, limit)`` fetches no page beyond the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

MAX_PAGES = 10_000  # a server that ignores the page parameter must not make us loop forever


def spring_pages(
    fetch: Callable[[int | None], Any],
    *,
    first_page_param: bool,
) -> Iterator[dict[str, Any]]:
    """Items of Spring page objects (credit history, orders and assets, quotations).

    ``first_page_param=False`` sends the first request without ``page`` (orders and assets, as up42-py does).
    Stops at ``last == true``, after ``totalPages`` pages, or at an empty page.
    """
    page: int | None = 0 if first_page_param else None
    number = 0
    while number < MAX_PAGES:
        body = fetch(page)
        if isinstance(body, list):  # a bare list: nothing more to page through
            yield from body
            return
        body = body or {}
        content = body.get("content") or []
        yield from content
        number += 1
        total = body.get("totalPages")
        if not content or body.get("last") is True:
            return
        if isinstance(total, int) and number >= total:
            return
        page = number


def list_pages(fetch: Callable[[int], Any]) -> Iterator[dict[str, Any]]:
    """Items of plain list pages ``page=0,1,...`` until an empty page (``V1.get_jobs``)."""
    previous: tuple[Any, ...] | None = None
    for page in range(MAX_PAGES):
        items = fetch(page) or []
        if isinstance(items, Mapping):  # tolerate a Spring page here too
            items = items.get("content") or []
        if not items:
            return
        ids = tuple(item.get("id") for item in items if isinstance(item, Mapping))
        if ids and ids == previous:  # the server ignored ``page``
            return
        previous = ids
        yield from items


def next_link(links: Any, *, positional: bool = False) -> Mapping[str, Any] | None:
    """The ``rel == "next"`` link; with ``positional`` also ``links[1]`` when no link has a rel
    (``V1.search_catalog``)."""
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
            return link
    if positional and len(links) > 1:
        link = links[1]
        if isinstance(link, Mapping) and link.get("href") and "rel" not in link:
            return link
    return None


async def aspring_pages(fetch: Callable[[int], Awaitable[Any]]) -> AsyncIterator[dict[str, Any]]:
    """Async twin of :func:`spring_pages` with ``page=0,1,...`` (today's paged lists)."""
    for number in range(MAX_PAGES):
        body = await fetch(number) or {}
        if isinstance(body, list):
            for item in body:
                yield item
            return
        content = body.get("content") or []
        for item in content:
            yield item
        total = body.get("totalPages")
        if not content or body.get("last") is True or (isinstance(total, int) and number + 1 >= total):
            return


def link_pages(first: Callable[[], Any], follow: Callable[[str], Any], key: str) -> Iterator[dict[str, Any]]:
    """Items under ``key`` of pages chained by ``rel=next`` links (``V2.get_jobs``)."""
    body = first() or {}
    for _ in range(MAX_PAGES):
        yield from body.get(key) or []
        link = next_link(body.get("links"))
        if link is None:
            return
        body = follow(str(link["href"])) or {}


async def alink_pages(
    first: Callable[[], Awaitable[Any]], follow: Callable[[str], Awaitable[Any]], key: str
) -> AsyncIterator[dict[str, Any]]:
    """Async twin of :func:`link_pages`."""
    body = await first() or {}
    for _ in range(MAX_PAGES):
        for item in body.get(key) or []:
            yield item
        link = next_link(body.get("links"))
        if link is None:
            return
        body = await follow(str(link["href"])) or {}
