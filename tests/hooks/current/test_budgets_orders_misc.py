"""Budgets and order updates of today's API through the hook, over HTTP."""

from __future__ import annotations

import pytest

from tests.hooks.current.test_orders_v2_create import body
from up42_provider.hooks.up42 import UP42Hook


def test_budgets_list_and_get(current_hook: UP42Hook):
    budgets = list(current_hook.iter_budgets(include_usage=True))
    assert len(budgets) == 2
    assert all(b["remainingCredits"] == b["spendLimit"] - b["consumedCredits"] for b in budgets)
    active = list(current_hook.iter_budgets(statuses="ACTIVE"))
    assert [b["status"] for b in active] == ["ACTIVE"] and "consumedCredits" not in active[0]
    one = current_hook.get_budget(active[0]["id"])
    assert one["id"] == active[0]["id"] and "remainingCredits" in one


def test_budgets_need_todays_connection(hook: UP42Hook):
    with pytest.raises(ValueError, match="today's UP42 API"):
        list(hook.iter_budgets())


def test_update_order_v2_merges_tags_and_budget(current_hook: UP42Hook, fresh_emulator):
    (order,) = current_hook.place_order_v2(body(current_hook, fresh_emulator, tags=["a"]))
    budget = next(iter(current_hook.iter_budgets(statuses="ACTIVE")))["id"]
    updated = current_hook.update_order_v2(order["id"], budget_id=budget)
    assert updated["budgetId"] == budget and updated["tags"] == order["tags"]
    cleared = current_hook.update_order_v2(order["id"], tags=[], budget_id=None)
    assert cleared["tags"] == [] and cleared["budgetId"] is None
    assert current_hook.get_order(order["id"])["tags"] == []
