"""Exactly once for every creating call, against an emulator whose backend finishes a POST after
the client gave up ("late": held past the read timeout; "late_504": a gateway answers 504 while
the creation completes behind it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from up42_provider.api.errors import UP42ServerError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook

from .conftest import make_hook, wait_for
from .test_hook_jobs import make_workflow
from .test_hook_orders import order_parameters
from .test_hook_tasking import tasking_parameters

LATE = 2.0  # seconds the emulator keeps working after the client gave up


@dataclass
class Creating:
    """One creating call: how to prepare and send it, where it POSTs, what UP42 then holds."""

    path: str
    prepare: Callable[[UP42Hook], Callable[[], dict]]
    held: Callable[[UP42Hook], list[dict]]
    removable: bool  # duplicates can be cancelled or deleted through the API


def _archive_order(hook: UP42Hook) -> Callable[[], dict]:
    params = order_parameters(hook)
    return lambda: hook.place_order(params, tag="once-archive")


def _tasking_order(hook: UP42Hook) -> Callable[[], dict]:
    params = tasking_parameters(hook)
    return lambda: hook.place_order(params, tag="once-tasking")


def _orders(tag: str) -> Callable[[UP42Hook], list[dict]]:
    return lambda hook: hook.get_orders(tags=[tag])


def _job(hook: UP42Hook) -> Callable[[], dict]:
    workflow_id, inputs = make_workflow(hook, "once-job-workflow")
    return lambda: hook.run_job(workflow_id, inputs, name="once-job", dry_run=True)


def _live_jobs(hook: UP42Hook) -> list[dict]:
    return [j for j in hook.get_jobs() if j["name"] == "once-job"]


def _workflow(hook: UP42Hook) -> Callable[[], dict]:
    return lambda: hook.create_workflow("once-workflow", "exactly once")


def _webhook(hook: UP42Hook) -> Callable[[], dict]:
    return lambda: hook.create_webhook("once-webhook", "https://example.invalid/once", ["job.status"])


CALLS = {
    "archive_order": Creating(r"/orders$", _archive_order, _orders("once-archive"), removable=False),
    "tasking_order": Creating(r"/orders$", _tasking_order, _orders("once-tasking"), removable=False),
    "job": Creating(r"/jobs$", _job, _live_jobs, removable=True),
    "workflow": Creating(
        r"/workflows/?$",
        _workflow,
        lambda h: [w for w in h.get_workflows() if w["name"] == "once-workflow"],
        removable=True,
    ),
    "webhook": Creating(
        r"/webhooks$",
        _webhook,
        lambda h: [w for w in h.get_webhooks() if w["name"] == "once-webhook"],
        removable=True,
    ),
}


def _settled(server: EmulatorServer) -> None:
    """Wait until the emulator has finished every late creation, so that all of them are counted."""
    wait_for(lambda: server.state.faults.late_in_flight == 0, timeout=60)


def _hook(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, **extra: object) -> UP42Hook:
    return make_hook(server, monkeypatch, max_retry_wait=5, **extra)


@pytest.mark.parametrize("call", list(CALLS))
def test_post_completed_after_the_read_timeout_is_not_sent_twice(
    call: str, fresh_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
):
    spec = CALLS[call]
    hook = _hook(fresh_emulator, monkeypatch, timeout=[5, 1.0], create_settle_seconds=LATE + 4)
    send = spec.prepare(hook)
    fresh_emulator.state.faults.configure(late_seconds=LATE)
    fresh_emulator.state.faults.add_rule("late", count=1, method="POST", path=spec.path)
    result = send()
    assert fresh_emulator.state.faults.fired["late"] == 1
    _settled(fresh_emulator)
    assert [o["id"] for o in spec.held(hook)] == [result["id"]]
    assert "duplicates" not in result
    hook.close()


@pytest.mark.parametrize("call", list(CALLS))
def test_504_while_the_backend_goes_on_is_not_sent_twice(
    call: str, fresh_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
):
    spec = CALLS[call]
    hook = _hook(fresh_emulator, monkeypatch, create_settle_seconds=LATE + 4)
    send = spec.prepare(hook)
    fresh_emulator.state.faults.configure(late_seconds=LATE)
    fresh_emulator.state.faults.add_rule("late_504", count=1, method="POST", path=spec.path)
    result = send()
    assert fresh_emulator.state.faults.fired["late_504"] == 1
    _settled(fresh_emulator)
    assert [o["id"] for o in spec.held(hook)] == [result["id"]]
    hook.close()


@pytest.mark.parametrize(
    ("call", "fresh_emulator"),
    # Jobs at real speed: the duplicate must still be running when it is cancelled.
    [(call, {"speed": 1.0} if call == "job" else {}) for call in CALLS],
    indirect=["fresh_emulator"],
)
def test_a_duplicate_after_a_resend_is_found_kept_out_and_reported(
    call: str,
    fresh_emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
):
    """Settle window too short for this backend: the re-send races the late original. The
    duplicate check after the re-send keeps the oldest and cancels/deletes/reports the other."""
    spec = CALLS[call]
    hook = _hook(fresh_emulator, monkeypatch, create_settle_seconds=0.2)
    send = spec.prepare(hook)
    faults = fresh_emulator.state.faults
    faults.configure(late_seconds=LATE, slow_seconds=LATE + 2)
    faults.add_rule("late_504", count=1, method="POST", path=spec.path)
    faults.add_rule("slow", count=1, method="POST", path=spec.path, skip=1)  # the re-send
    capfd.readouterr()
    result = send()
    log = capfd.readouterr().out  # the task log (Airflow's structured logging writes to stdout)
    assert faults.fired["late_504"] == 1 and faults.fired["slow"] == 1
    _settled(fresh_emulator)
    [duplicate] = result["duplicates"]
    assert duplicate["id"] != result["id"]
    held = {o["id"]: o for o in spec.held(hook)}
    original = min(held.values(), key=lambda o: o["createdAt"])
    assert result["id"] == original["id"]  # the oldest wins
    assert duplicate["removed"] is spec.removable, duplicate
    if call == "job":
        assert hook.get_job(duplicate["id"])["status"] in ("CANCELLING", "CANCELLED")
        assert set(held) == {result["id"], duplicate["id"]}
    elif spec.removable:
        assert set(held) == {result["id"]}
    else:
        assert set(held) == {result["id"], duplicate["id"]}
        assert "cancel it in the UP42 console" in log
    assert "warning" in log and f"duplicate(s) besides {result['id']}" in log and duplicate["id"] in log
    hook.close()


def test_no_resend_while_absence_is_unconfirmed(
    fresh_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
):
    """Lookups failing for the whole settle window: the hook gives up instead of sending again."""
    hook = _hook(fresh_emulator, monkeypatch, create_settle_seconds=0.5, max_attempts=1)
    faults = fresh_emulator.state.faults
    faults.add_rule("error", count=1, method="POST", path=r"/webhooks$")
    faults.add_rule("error", count=1000, method="GET", path=r"/webhooks$", skip=1)  # after the first list
    with pytest.raises(UP42ServerError):
        _webhook(hook)()
    faults.clear()
    assert CALLS["webhook"].held(hook) == []  # a re-send would have created it
    hook.close()


def test_keep_one_rule_is_oldest_then_smallest_id():
    from up42_provider.hooks._helpers import keep_one

    a = {"id": "b", "createdAt": "2024-01-01T00:00:00.000001Z"}
    b = {"id": "a", "createdAt": "2024-01-01T00:00:00.000002Z"}
    c = {"id": "0", "createdAt": "2024-01-01T00:00:00.000002+00:00"}
    undated = {"id": "", "createdAt": None}
    assert keep_one([b, undated, c, a]) == (a, [c, b, undated])
    with pytest.raises(ValueError, match="at least one"):
        keep_one([])
