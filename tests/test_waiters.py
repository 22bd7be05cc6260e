"""The wait state machine (pure) and the sync checks and blocking waits against the emulator."""

from __future__ import annotations

import time

import pytest

from tests.conftest import World
from up42_provider.api.errors import UP42NotFoundError, UP42ServerError, UP42TransportError
from up42_provider.waiters import (
    UP42JobFailedError,
    UP42OrderFailedError,
    UP42WaitTimeoutError,
    Waiter,
    WaitResult,
    WaitState,
    check_jobs,
    check_orders,
    is_transient,
    run_wait,
    wait,
    wait_for_jobs,
    wait_for_orders,
)

A, B, C = "order-a", "order-b", "order-c"


def state(**statuses: str) -> WaitState:
    return WaitState.build("order", {k.replace("_", "-"): v for k, v in statuses.items()})


# ------------------------------------------------------------------------------------ pure logic


def test_state_classifies_round_trips_and_merges():
    s = WaitState.build(
        "order", {A: "FULFILLED", B: "FAILED", C: "BEING_FULFILLED"}, {B: "boom", A: "ignored"}
    )
    assert (s.succeeded, s.failed, s.running) == ((A,), (B,), (C,))
    assert s.messages == {B: "boom"} and not s.done and s.terminal == (A, B)
    assert WaitState.from_dict(s.to_dict()) == s
    merged = s.merge(WaitState.build("order", {C: "FULFILLED"}))
    assert merged.done and merged.ids == [A, B, C] and merged.failed == (B,)
    assert "UP42 orders failed" in merged.failure_message() and "boom" in merged.failure_message()
    jobs = WaitState.build("job", {"j": "NOT STARTED", "k": "CANCELLING", "l": "SOMETHING NEW"})
    assert jobs.running == ("j", "l") and jobs.failed == ("k",)


def test_result_events_round_trip_and_raise():
    done = WaitState.build("job", {"j": "SUCCEEDED"})
    result = WaitResult("success", done, "ok")
    assert WaitResult.from_event(result.to_event()) == result
    assert result.raise_for_status() == done
    failed = WaitResult("failure", WaitState.build("job", {"j": "FAILED"}, {"j": "log tail"}), "job j FAILED")
    with pytest.raises(UP42JobFailedError, match="job j FAILED") as info:
        failed.raise_for_status()
    assert info.value.state.failed == ("j",)
    with pytest.raises(UP42WaitTimeoutError):
        WaitResult("timeout", None, "late").raise_for_status()
    assert WaitResult.from_event({"nonsense": 1}).status == "error"


def test_modes_and_fail_fast():
    all_ff = Waiter("order", [A, B])
    assert all_ff.observe(state(order_a="FULFILLED", order_b="PLACED")) is None
    assert all_ff.pending == [B]
    assert all_ff.observe(WaitState.build("order", {B: "FULFILLED"})).status == "success"

    assert Waiter("order", [A, B]).observe(state(order_a="FAILED", order_b="PLACED")).status == "failure"
    patient = Waiter("order", [A, B], fail_fast=False)
    assert patient.observe(state(order_a="FAILED", order_b="PLACED")) is None
    assert patient.observe(WaitState.build("order", {B: "FULFILLED"})).status == "failure"

    any_ = Waiter("order", [A, B], mode="any")
    assert any_.observe(state(order_a="PLACED", order_b="PLACED")) is None
    result = any_.observe(state(order_a="PLACED", order_b="FULFILLED"))
    assert result.status == "success" and result.state.terminal == (B,) and result.state.running == (A,)
    with pytest.raises(ValueError):
        Waiter("order", [A], mode="some")


def test_errors_transient_are_tolerated_permanent_give_up():
    waiter = Waiter("order", [A], max_permanent_errors=3)
    for _ in range(10):
        assert waiter.observe_error(UP42ServerError("down", status=503)) is None
        assert waiter.observe_error(UP42TransportError("reset", maybe_sent=True)) is None
    missing = UP42NotFoundError("Order not found", status=404)
    assert waiter.observe_error(missing) is None
    assert waiter.observe_error(missing) is None
    result = waiter.observe_error(missing)
    assert result.status == "error" and "not found" in result.message
    with pytest.raises(UP42NotFoundError):
        result.raise_for_status()
    # A success in between resets the count; a bug is never hidden.
    waiter = Waiter("order", [A])
    waiter.observe_error(missing)
    waiter.observe(state(order_a="PLACED"))
    assert waiter.errors_in_a_row == 0
    assert waiter.observe_error(KeyError("status")).status == "error"
    assert is_transient(TimeoutError()) and not is_transient(ValueError())


def test_delays_are_jittered_and_cut_at_the_deadline():
    waiter = Waiter("job", ["j"], poll_interval=10, end_time=1000.0)
    delays = {waiter.next_delay(now=0) for _ in range(50)}
    assert all(9 <= d <= 11 for d in delays) and len(delays) > 1
    assert all(0 <= waiter.first_delay(now=0) <= 10 for _ in range(20))
    assert waiter.next_delay(now=995) == 5
    assert waiter.next_delay(now=1000) is None
    assert Waiter("job", ["j"], poll_interval=10).next_delay() >= 9
    result = waiter.timeout_result()
    assert result.status == "timeout" and "j" in result.message


def test_run_wait_drives_the_machine_with_a_fake_clock():
    answers = iter(["PLACED", "BEING_FULFILLED", "FULFILLED"])
    slept: list[float] = []
    result = run_wait(
        Waiter("order", [A], poll_interval=2),
        lambda pending: WaitState.build("order", {A: next(answers)}),
        sleep=slept.append,
    )
    assert result.status == "success" and len(slept) == 2 and all(1.8 <= s <= 2.2 for s in slept)


def test_wait_times_out_on_the_wall_clock():
    started = time.monotonic()
    with pytest.raises(UP42WaitTimeoutError, match="still running") as info:
        wait(lambda: state(order_a="PLACED"), poll_interval=0.05, timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 2
    assert info.value.state.running == (A,)


# ------------------------------------------------------------------------------ against the emulator


def test_check_and_wait_for_orders(world: World):
    good, bad = world.order(), world.order(fail=True)
    first = check_orders(world.hook, [good, bad])
    assert set(first.statuses) == {good, bad}
    done = wait_for_orders(world.hook, good, poll_interval=0.1, timeout=30)
    assert done.succeeded == (good,) and done.statuses[good] == "FULFILLED"
    with pytest.raises(UP42OrderFailedError, match=f"order {bad} is FAILED") as info:
        wait_for_orders(world.hook, [bad], poll_interval=0.1, timeout=30)
    assert info.value.state.failed == (bad,)


def test_check_and_wait_for_jobs_with_log_tail(world: World):
    good, bad = world.job(), world.job(fail=True, dry_run=False)
    assert wait_for_jobs(world.hook, [good], poll_interval=0.1, timeout=30).succeeded == (good,)
    with pytest.raises(UP42JobFailedError) as info:
        wait(lambda: check_jobs(world.hook, [bad]), poll_interval=0.1, timeout=30)
    message = str(info.value)
    assert f"job {bad}" in message and "FAILED" in message
    assert "Processing failed" in message  # the job's error
    assert "last log lines of task" in message and "Traceback" in message  # the failed task's log tail


def test_blocking_wait_times_out(frozen_world: World):
    order = frozen_world.order()
    with pytest.raises(UP42WaitTimeoutError, match=order):
        wait_for_orders(frozen_world.hook, order, poll_interval=0.1, timeout=0.5)


@pytest.mark.parametrize("frozen_world", [{"max_attempts": 1}], indirect=True)
def test_blocking_wait_survives_server_errors(frozen_world: World):
    order = frozen_world.order()
    frozen_world.advance()
    faults = frozen_world.server.state.faults
    faults.add_rule("error", count=3, path="/orders/")
    assert wait_for_orders(frozen_world.hook, order, poll_interval=0.05, timeout=20).succeeded == (order,)
    assert faults.fired["error"] == 3


def test_unknown_id_ends_the_wait_with_the_api_error(world: World):
    with pytest.raises(UP42NotFoundError):
        wait_for_jobs(world.hook, "00000000-0000-4000-8000-000000000000", poll_interval=0.01, timeout=30)
