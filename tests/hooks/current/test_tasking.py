"""Tasking with today's credentials: feasibility studies on their moved paths, quotations."""

from __future__ import annotations

from tests.emulator.current.test_orders import tasking_batch
from tests.emulator.test_orders import HAMBURG
from tests.hooks.conftest import wait_for
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook


def test_feasibility_then_quotation_on_todays_paths(current_hook: UP42Hook, fresh_emulator: EmulatorServer):
    # The 2023 paths fail here, so only today's feasibility-studies paths can pass.
    fresh_emulator.state.faults.add_rule("error", count=1000, path=r"/v2/tasking/feasibility(/[^/]*)?$")
    (order,) = current_hook.place_order_v2(tasking_batch(HAMBURG, tags=["emulator:feasibility"]))
    assert order["type"] == "TASKING"
    studies = wait_for(lambda: current_hook.get_feasibility(order_id=order["id"], decision="NOT_DECIDED"))
    study = studies[0]
    chosen = current_hook.choose_feasibility(study["id"], study["options"][0]["id"])
    assert chosen["decision"] == "ACCEPTED"
    quotations = wait_for(lambda: current_hook.get_quotations(order_id=order["id"]))
    assert current_hook.decide_quotation(quotations[0]["id"], "ACCEPTED")["decision"] == "ACCEPTED"
