"""The one id parser: every operator, sensor, trigger and body builder reads ids alike."""

from __future__ import annotations

import pytest

from up42_provider.sensors.order import UP42OrderFulfilledSensor
from up42_provider.triggers.order import UP42OrderStatusTrigger
from up42_provider.utils.ids import InvalidIdError, check_id, id_from_href, parse_ids
from up42_provider.waiters import Waiter


@pytest.mark.parametrize(
    "given",
    [
        "a,b",
        " a , b ,",
        ["a", "b", "a"],
        ("a", ["b"]),
        '["a", "b"]',
        "['a', 'b']",
        "('a', 'b')",
        {"order_ids": ["a", "b"]},
        '{"order_ids": ["a", "b"]}',
    ],
)
def test_every_form_of_ids(given: object):
    assert parse_ids(given, name="order_ids") == ["a", "b"]


def test_results_of_our_operators():
    parallel = {"job_ids": ["a", "b", "c"], "succeeded": ["a", "c"], "failed": ["b"], "statuses": {}}
    assert parse_ids(parallel, name="job_ids") == ["a", "c"]
    assert parse_ids({"job_ids": ["a"]}, name="job_ids") == ["a"]
    assert parse_ids("a", name="job_ids") == ["a"]  # UP42CreateJobOperator returns one id
    with pytest.raises(InvalidIdError, match="order_ids: a dict must have one of the keys order_ids"):
        parse_ids(parallel, name="order_ids")  # job ids never pass for order ids


def test_empty_and_bad_inputs_name_the_parameter():
    assert parse_ids(None, name="asset_ids", required=False) == []
    assert parse_ids("", name="asset_ids", required=False) == []
    for empty in (None, "", [], "[]", " , "):
        with pytest.raises(InvalidIdError, match="order_ids is empty"):
            parse_ids(empty, name="order_ids")
    for bad, problem in (("[oops", "does not parse"), (42, "must be an id"), ([None], "must be an id")):
        with pytest.raises(InvalidIdError, match=problem) as info:
            parse_ids(bad, name="order_ids")
        assert str(info.value).startswith("order_ids")
    with pytest.raises(InvalidIdError, match="order_ids 'a b' contains whitespace"):
        parse_ids("a b", name="order_ids")
    with pytest.raises(InvalidIdError, match="dot path segment"):
        parse_ids(["a", ".."], name="job_ids")


def test_check_id():
    uuid = "9b1c7a52-4d0e-4f6a-8c3b-2e5f7d9a1b04"
    assert check_id(uuid, name="job_id", uuid=True) == uuid
    assert check_id("output.tgz", name="quicklook_id") == "output.tgz"
    with pytest.raises(InvalidIdError, match="job_id 'x' is not a UUID"):
        check_id("x", name="job_id", uuid=True)


def test_id_from_href_reads_the_id_a_link_ends_in():
    cid = "8d116ece-1738-47d9-bd9c-172411e20b8f"
    base = "https://api.up42.com/v2/assets/stac/collections"
    for given in (cid, f"{base}/{cid}", f"{base}/{cid}/", f"{base}/{cid}?limit=1", f" {cid} "):
        assert id_from_href(given, name="collection_id") == cid
    with pytest.raises(InvalidIdError, match="collection_id 'a/b' contains"):
        id_from_href("a/b", name="collection_id")
    with pytest.raises(InvalidIdError, match="collection_id is empty"):
        id_from_href("", name="collection_id")


def test_sensors_triggers_and_waiters_read_the_same_ids():
    """The download operators read ids the same way (tests/operators/data: ``order_ids="a,b"``)."""
    text = "o1,o2"
    sensor = UP42OrderFulfilledSensor(task_id="wait", order_ids=text)
    trigger = UP42OrderStatusTrigger(order_ids=text)
    waiter = Waiter("order", text)
    assert sensor.wanted_ids() == trigger.ids == waiter.ids == ["o1", "o2"]
