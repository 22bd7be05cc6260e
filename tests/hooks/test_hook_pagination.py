"""The pagination loops on their own: stop conditions and guards against misbehaving servers."""

from __future__ import annotations

import itertools

from up42_provider.hooks._pagination import list_pages, next_link, spring_pages


def spring(items: list[int], size: int, *, with_last: bool = True, with_total: bool = True):
    calls: list[int | None] = []

    def fetch(page: int | None) -> dict:
        calls.append(page)
        number = page or 0
        content = items[number * size : (number + 1) * size]
        body: dict = {"content": content, "number": number, "size": size}
        if with_last:
            body["last"] = (number + 1) * size >= len(items)
        if with_total:
            body["totalPages"] = -(-len(items) // size)
        return body

    return fetch, calls


def test_spring_pages_stop_on_last_or_total_pages():
    for kwargs in ({}, {"with_last": False}, {"with_total": False}):
        fetch, calls = spring(list(range(12)), 5, **kwargs)
        assert list(spring_pages(fetch, first_page_param=True)) == list(range(12))
        assert calls == [0, 1, 2]


def test_spring_pages_first_request_without_page():
    fetch, calls = spring(list(range(7)), 5)
    assert list(spring_pages(fetch, first_page_param=False)) == list(range(7))
    assert calls == [None, 1]


def test_spring_pages_are_lazy_and_stop_on_empty_page():
    fetch, calls = spring(list(range(100)), 10)
    assert list(itertools.islice(spring_pages(fetch, first_page_param=True), 15)) == list(range(15))
    assert calls == [0, 1]
    fetch, calls = spring([], 10, with_last=False, with_total=False)
    assert list(spring_pages(fetch, first_page_param=True)) == []
    assert list(spring_pages(lambda page: [1, 2], first_page_param=True)) == [1, 2]  # a bare list


def test_list_pages_stop_on_empty_page_and_on_ignored_page_parameter():
    pages = {0: [{"id": 1}, {"id": 2}], 1: [{"id": 3}], 2: []}
    assert [i["id"] for i in list_pages(lambda page: pages.get(page, []))] == [1, 2, 3]
    calls: list[int] = []

    def same_page(page: int) -> list[dict]:
        calls.append(page)
        return [{"id": 1}, {"id": 2}]

    assert [i["id"] for i in list_pages(same_page)] == [1, 2]
    assert calls == [0, 1]


def test_next_link():
    links = [{"rel": "self", "href": "a"}, {"rel": "next", "href": "b"}]
    assert next_link(links) == {"rel": "next", "href": "b"}
    assert next_link([{"rel": "self", "href": "a"}]) is None
    assert next_link([{"href": "a"}, {"href": "b"}], positional=True) == {"href": "b"}
    assert next_link([{"href": "a"}, {"href": "b"}]) is None
    assert next_link(None) is None
