"""UP42PlaceOrderOperator: archive and tasking orders, the credit guard, idempotency, waiting."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from up42_provider.operators._common import order_tag
from up42_provider.operators.order import UP42PlaceOrderOperator, extract_image_ids, pick_option
from up42_provider.triggers.order import UP42OrderStatusTrigger

from .conftest import BERLIN, Up42, execute, make_context

TASKING_PARAMS = {
    "acquisitionMode": "mono",
    "cloudCoverage": 20,
    "incidenceAngle": 40,
    "geometricProcessing": "ortho",
    "spectralProcessing": "bundle",
    "pixelCoding": "12bits",
    "radiometricProcessing": "reflectance",
    "deliveredAs": "geotiff",
}


def archive(up42: Up42, image_ids, **kwargs) -> UP42PlaceOrderOperator:
    args = {
        "task_id": "order",
        "data_product_id": up42.archive_product,
        "image_ids": image_ids,
        "aoi": BERLIN,
        "poll_interval": 0.1,
        "timeout": 30,
    }
    return UP42PlaceOrderOperator(**{**args, **kwargs})


def tasking(up42: Up42, **kwargs) -> UP42PlaceOrderOperator:
    args = {
        "task_id": "tasking",
        "data_product_id": up42.tasking_product,
        "tasking_name": "Berlin acquisition",
        "acquisition_start": "2030-05-01",
        "acquisition_end": "2030-05-31",
        "aoi": BERLIN,
        "order_params": TASKING_PARAMS,
        "poll_interval": 0.1,
        "timeout": 30,
    }
    return UP42PlaceOrderOperator(**{**args, **kwargs})


# ------------------------------------------------------------------------------------------ archive


def test_archive_orders_from_search_results_wait_until_fulfilled(up42: Up42):
    ids = up42.image_ids(2)
    features = [{"type": "Feature", "properties": {"id": i}, "geometry": BERLIN} for i in ids]
    ctx = make_context("archive-1")
    order_ids = execute(archive(up42, {"type": "FeatureCollection", "features": features}), ctx)
    assert len(order_ids) == 2
    assert {up42.hook.get_order(o)["status"] for o in order_ids} == {"FULFILLED"}
    assert ctx["ti"].xcom["up42_order_ids"] == order_ids
    assert ctx["ti"].xcom["up42_project_id"] == up42.server.config.project_id
    tags = [up42.hook.get_order(o)["tags"] for o in order_ids]
    assert tags == [[order_tag(ctx, 0)], [order_tag(ctx, 1)]]


def test_rerun_of_the_same_task_instance_places_nothing_new(up42: Up42):
    ids = up42.image_ids(1)
    ctx = make_context("archive-rerun")
    first = execute(archive(up42, ids, wait_for_completion=False), ctx)
    count = len(up42.orders())
    again = execute(archive(up42, ids, wait_for_completion=False), make_context("archive-rerun"))
    assert again == first and len(up42.orders()) == count
    other_run = execute(
        archive(up42, ids, wait_for_completion=False), make_context("archive-rerun", run_id="r2")
    )
    assert other_run != first


@pytest.mark.parametrize("fresh_emulator", [{"speed": 100.0}], indirect=True)
def test_lost_placement_answer_then_retry_gives_one_order(fresh_up42: Up42):
    ids = fresh_up42.image_ids(1)
    fresh_up42.server.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/orders$")
    ctx = make_context("lost")
    first = execute(archive(fresh_up42, ids, wait_for_completion=False), ctx)
    assert fresh_up42.server.state.faults.fired["lost_response"] == 1
    retry = execute(archive(fresh_up42, ids, wait_for_completion=False), make_context("lost"))
    assert retry == first and len(fresh_up42.orders(order_tag(ctx, 0))) == 1 == len(fresh_up42.orders())


@pytest.mark.parametrize("fresh_emulator", [{"speed": 100.0}], indirect=True)
def test_max_credits_guard_places_nothing(fresh_up42: Up42):
    ids = fresh_up42.image_ids(2)
    balance = fresh_up42.balance
    with pytest.raises(AirflowFailException, match="more than max_credits=1; nothing was ordered"):
        execute(archive(fresh_up42, ids, max_credits=1))
    assert fresh_up42.orders() == [] and fresh_up42.balance == balance
    execute(archive(fresh_up42, ids, max_credits=10**6, wait_for_completion=False))
    assert len(fresh_up42.orders()) == 2 and fresh_up42.balance < balance


def test_failed_order_fails_the_task_without_pointless_retries(up42: Up42):
    op = archive(up42, up42.image_ids(1), tags=["emulator:fail"])
    with pytest.raises(AirflowFailException, match="FAILED") as info:
        execute(op, make_context("failing"))
    assert "replace_failed_orders=True" in str(info.value)
    replacing = archive(up42, up42.image_ids(1), tags=["emulator:fail"], replace_failed_orders=True)
    first = up42.orders()
    with pytest.raises(Exception, match="A retry places the failed orders again"):
        execute(replacing, make_context("failing"))  # same task instance: the failed order is replaced
    assert len(up42.orders()) == len(first) + 1


def test_deferrable_defers_with_the_order_trigger_and_completes(up42: Up42):
    op = archive(up42, up42.image_ids(1), deferrable=True, poll_interval=7.0)
    ctx = make_context("deferring")
    with pytest.raises(TaskDeferred) as deferred:
        execute(op, ctx)
    trigger = deferred.value.trigger
    assert isinstance(trigger, UP42OrderStatusTrigger) and trigger.poll_interval == 7.0
    assert trigger.end_time is not None and deferred.value.method_name == "execute_complete"
    order_ids = deferred.value.kwargs["order_ids"]
    event = {
        "status": "success",
        "state": {"kind": "order", "statuses": dict.fromkeys(order_ids, "FULFILLED")},
        "message": "ok",
    }
    assert op.execute_complete(ctx, event=event, order_ids=order_ids) == order_ids
    assert op.execute_complete(ctx, event=event) == order_ids  # ids from XCom when kwargs are lost
    with pytest.raises(AirflowFailException, match="broken"):
        op.execute_complete(ctx, event={"status": "failure", "state": None, "message": "broken"})
    with pytest.raises(Exception, match="deadline"):
        op.execute_complete(ctx, event={"status": "timeout", "state": None, "message": "deadline"})


def test_already_finished_orders_never_defer(up42: Up42):
    ids = up42.image_ids(1)
    ctx = make_context("done-before")
    execute(archive(up42, ids), ctx)  # waits until FULFILLED
    assert execute(archive(up42, ids, deferrable=True), make_context("done-before"))  # no TaskDeferred


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_ids": None}, "exactly one way.*none of them"),
        ({"tasking_name": "x"}, "exactly one way.*image_ids, tasking_name"),
        ({"image_ids": []}, "none of them"),
        ({"data_product_id": None}, "data_product_id is required"),
        ({"quotation_decision": "YES"}, "apply to tasking orders only"),
        ({"max_credits": "lots"}, "max_credits must be a whole number"),
        ({"tags": "one"}, "tags must be a list"),
        ({"aoi": [13.4, 52.5, 13.3, 52.6]}, "aoi: .*inverted"),
        ({"image_ids": {"some": "dict"}}, "neither a FeatureCollection"),
        ({"image_ids": "[broken"}, "does not parse"),
    ],
)
def test_bad_input_fails_before_any_request(up42: Up42, kwargs, message):
    kwargs = dict(kwargs)
    op = archive(up42, kwargs.pop("image_ids", ["a-scene-id"]), **kwargs)
    before = up42.requests
    with pytest.raises(ValueError, match=message):
        execute(op)
    assert up42.requests == before


def test_image_ids_from_every_search_shape():
    fc = {"type": "FeatureCollection", "features": [{"properties": {"id": "a"}, "geometry": BERLIN}]}
    assert extract_image_ids(fc) == (["a"], {"a": BERLIN})
    assert extract_image_ids({"uri": "s3://x", "count": 2, "image_ids": ["a", "b"]})[0] == ["a", "b"]
    assert extract_image_ids('["a", "a", "b"]')[0] == ["a", "b"]
    assert extract_image_ids("a")[0] == ["a"]
    assert extract_image_ids(fc["features"][0] | {"type": "Feature"})[0] == ["a"]


# ------------------------------------------------------------------------------------------ tasking


def test_incomplete_tasking_parameters_list_what_to_add(up42: Up42):
    balance = up42.balance
    with pytest.raises(ValueError, match=r"lacks acquisitionMode.*\"mono\", \"stereo\""):
        execute(tasking(up42, order_params={"cloudCoverage": 20}))
    assert up42.balance == balance


@pytest.mark.parametrize("fresh_emulator", [{"speed": 100.0}], indirect=True)
def test_tasking_left_to_a_human_then_accepted(fresh_up42: Up42):
    (order_id,) = execute(tasking(fresh_up42, wait_for_completion=False), make_context("tasking-human"))
    order = fresh_up42.hook.get_order(order_id)
    assert order["type"] == "TASKING" and order["status"] == "PLACED"
    (quotation,) = fresh_up42.hook.get_quotations(order_id=order_id)
    assert quotation["decision"] == "NOT_DECIDED"
    balance = fresh_up42.balance
    accepted = execute(tasking(fresh_up42, quotation_decision="accepted"), make_context("tasking-human"))
    assert accepted == [order_id] and fresh_up42.hook.get_order(order_id)["status"] == "FULFILLED"
    assert fresh_up42.balance == balance - quotation["creditsPrice"]


@pytest.mark.parametrize("fresh_emulator", [{"speed": 100.0}], indirect=True)
def test_quotation_above_max_credits_is_not_accepted(fresh_up42: Up42):
    probe = tasking(fresh_up42, tags=["emulator:feasibility"])
    probe._check_arguments()
    estimate = fresh_up42.hook.estimate_order(probe._local_bodies()[0])
    balance = fresh_up42.balance
    op = tasking(
        fresh_up42,
        tags=["emulator:feasibility"],
        feasibility_option=1,  # the priority option costs 35 % more than the estimate
        quotation_decision="ACCEPTED",
        max_credits=estimate,
    )
    with pytest.raises(AirflowFailException, match="nothing was accepted"):
        execute(op)
    (order,) = fresh_up42.orders()
    (quotation,) = fresh_up42.hook.get_quotations(order_id=order["id"])
    assert quotation["decision"] == "NOT_DECIDED" and quotation["creditsPrice"] > estimate
    assert fresh_up42.balance == balance


def test_tasking_feasibility_option_and_rejection(up42: Up42):
    op = tasking(up42, tags=["emulator:feasibility"], feasibility_option=1, quotation_decision="REJECTED")
    ctx = make_context("tasking-reject")
    with pytest.raises(AirflowFailException, match="FAILED"):
        execute(op, ctx)
    (order_id,) = ctx["ti"].xcom["up42_order_ids"]
    (study,) = up42.hook.get_feasibility(order_id=order_id)
    assert study["decision"] == "ACCEPTED" and study["decisionOption"]["id"] == study["options"][1]["id"]
    assert up42.hook.get_quotations(order_id=order_id)[0]["decision"] == "REJECTED"


def test_pick_option():
    options = [{"id": "o1", "description": "A"}, {"id": "o2", "description": "B"}]
    assert pick_option(options, 1)["id"] == "o2"
    assert pick_option(options, "o1")["id"] == "o1"
    assert pick_option(options, "B")["id"] == "o2"
    assert pick_option(options, "0")["id"] == "o1"
    with pytest.raises(ValueError, match=r"\[0\] o1: A"):
        pick_option(options, 5)
