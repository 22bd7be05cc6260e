"""Tasking through the hook: order parameters, quotations and feasibility studies (P4), decisions."""

from __future__ import annotations

import pytest

from up42_provider.api.errors import UP42NotFoundError, UP42ValidationError
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.utils import parameters as P
from up42_provider.utils.geometry import example_aoi

from .conftest import api_calls, wait_for


def tasking_parameters(hook: UP42Hook, name: str = "Hook tasking", tags=None, geometry=None) -> dict:
    products = hook.get_data_products(collection_type="TASKING", basic=True)
    product_id = next(v for v in products.values() if v["collection"] == "phr-tasking")["data_products"][
        "Standard"
    ]
    params = hook.construct_tasking_order_parameters(
        product_id, name, "2030-05-01", "2030-05-31", geometry or example_aoi("Berlin"), tags=tags
    )
    schema = hook.get_data_product_schema(product_id)
    for key, options in P.missing_order_parameters(params, schema).items():
        params["params"][key] = options[0] if isinstance(options, list) else options.get("minimum", 10)
    assert P.missing_order_parameters(params, schema) == {}
    return params


def test_tasking_order_parameters_from_schema(hook: UP42Hook):
    params = tasking_parameters(hook)
    assert params["params"]["acquisitionStart"] == "2030-05-01T00:00:00Z"
    assert params["params"]["acquisitionEnd"] == "2030-05-31T23:59:59Z"
    assert params["params"]["geometry"]["type"] == "Polygon"


def test_quotation_flow(hook: UP42Hook):
    order = hook.place_order(tasking_parameters(hook))
    quotations = wait_for(lambda: hook.get_quotations(order_id=order["id"]))
    assert len(quotations) == 1 and quotations[0]["decision"] == "NOT_DECIDED"
    quotation = hook.get_quotations(quotation_id=quotations[0]["id"])[0]
    assert quotation["orderId"] == order["id"]
    assert hook.get_quotations(order_id=order["id"], decision=["ACCEPTED"]) == []
    decided = hook.decide_quotation(quotation["id"], "ACCEPTED")
    assert decided["decision"] == "ACCEPTED"
    with pytest.raises(UP42ValidationError) as err:  # 405: write-protected
        hook.decide_quotation(quotation["id"], "REJECTED")
    assert err.value.status == 405
    with pytest.raises(ValueError, match="decision must be ACCEPTED or REJECTED"):
        hook.decide_quotation(quotation["id"], "MAYBE")
    with pytest.raises(UP42NotFoundError):
        hook.decide_quotation("00000000-0000-0000-0000-000000000000", "REJECTED")
    with pytest.raises(ValueError, match="decision"):
        hook.get_quotations(decision="MAYBE")


def test_feasibility_flow(hook: UP42Hook):
    order = hook.place_order(tasking_parameters(hook, tags=["emulator:feasibility"]))
    studies = wait_for(lambda: hook.get_feasibility(order_id=order["id"], decision="NOT_DECIDED"))
    study = studies[0]
    assert study["options"] and hook.get_feasibility(feasibility_id=study["id"])[0]["id"] == study["id"]
    chosen = hook.choose_feasibility(study["id"], study["options"][0]["id"])
    assert chosen["decision"] == "ACCEPTED"
    assert wait_for(lambda: hook.get_quotations(order_id=order["id"]))
    with pytest.raises(UP42ValidationError):
        hook.choose_feasibility(study["id"], study["options"][0]["id"])
    with pytest.raises(UP42NotFoundError):
        hook.choose_feasibility("00000000-0000-0000-0000-000000000000", "x")


def test_tasking_lists_page_through_all(fresh_hook: UP42Hook, fresh_emulator: EmulatorServer):
    params = tasking_parameters(fresh_hook)
    orders = [fresh_hook.place_order(params)["id"] for _ in range(12)]  # server pages hold 10
    before = api_calls(fresh_emulator, fresh_hook)
    quotations = fresh_hook.get_quotations()
    assert api_calls(fresh_emulator, fresh_hook) - before == 2
    assert sorted(q["orderId"] for q in quotations) == sorted(orders)
    oldest_first = fresh_hook.get_quotations(descending=False)
    assert [q["id"] for q in oldest_first] == [q["id"] for q in quotations][::-1]
    assert len(fresh_hook.get_quotations(limit=3)) == 3
    assert next(fresh_hook.iter_quotations(descending=False))["id"] == oldest_first[0]["id"]
    assert len(list(fresh_hook.iter_feasibility())) == 12
    workspace = fresh_hook.get_workspace_id()
    assert len(fresh_hook.get_feasibility(workspace_id=workspace)) == 12
