"""Every operation of today's API (``V2``) has a hook method and a test over HTTP that calls it.

The table is the map from UP42's current operations to this provider: a new ``V2`` endpoint fails
here until a hook method uses it and a test names it; a renamed method or test fails too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from up42_provider.api.endpoints import V1, V2
from up42_provider.hooks.up42 import UP42Hook

REPO = Path(__file__).resolve().parents[3]
C = "tests/hooks/current/"
# Sent by pystac-client itself, reached through a link of a landing page the hook opens.
FOLLOWED_LINKS = {"search_catalog_stac": "the catalog landing page's search link (stac_client(catalog=True))"}

# V2 endpoint name -> (hook method, "file::test" under tests/hooks/current/ calling it over HTTP)
OPERATIONS: dict[str, tuple[str, str]] = {
    "token": ("test_connection", "test_connection.py::test_test_connection_logs_in_and_names_the_workspace"),
    "userinfo": (
        "test_connection",
        "test_connection.py::test_test_connection_logs_in_and_names_the_workspace",
    ),
    "get_collections": (
        "iter_collections_v2",
        "test_catalog_search.py::test_glossary_lists_collections_with_products",
    ),
    "get_collection": ("get_collection_v2", "test_current_operations.py::test_glossary_entry_and_its_eula"),
    "get_eula": ("get_eula", "test_current_operations.py::test_glossary_entry_and_its_eula"),
    "get_data_product_schema": (
        "get_data_product_schema",
        "test_shared_and_limits_current.py::test_schema_and_quicklook_with_todays_credentials",
    ),
    "search_catalog": ("search", "test_catalog_search.py::test_search_is_the_same_in_both_generations"),
    "get_catalog_quicklook": (
        "download_catalog_quicklook",
        "test_shared_and_limits_current.py::test_schema_and_quicklook_with_todays_credentials",
    ),
    "get_catalog_stac_root": ("stac_client", "test_stac.py::test_catalog_stac_client_is_todays"),
    "search_catalog_stac": (
        "stac_client",
        "test_shared_and_limits_current.py::test_catalog_stac_search_finds_what_the_host_search_finds",
    ),
    "estimate_order": (
        "estimate_order_v2",
        "test_shared_and_limits_current.py::test_estimate_order_v2_prices_without_placing",
    ),
    "create_orders": (
        "place_order_v2",
        "test_orders_v2_create.py::test_place_order_v2_prices_then_places_one_order_per_feature",
    ),
    "get_order": ("get_order", "test_orders_jobs.py::test_get_order_has_the_shared_shape"),
    "get_orders": ("iter_orders", "test_orders_jobs.py::test_iter_orders_newest_updated_first_with_filters"),
    "update_order": (
        "update_order_v2",
        "test_budgets_orders_misc.py::test_update_order_v2_merges_tags_and_budget",
    ),
    "cancel_order": (
        "cancel_order_v2",
        "test_shared_and_limits_current.py::test_cancel_order_v2_while_created_then_refused",
    ),
    "get_quotations": ("get_quotations", "test_tasking.py::test_feasibility_then_quotation_on_todays_paths"),
    "decide_quotation": (
        "decide_quotation",
        "test_tasking.py::test_feasibility_then_quotation_on_todays_paths",
    ),
    "get_feasibility": (
        "get_feasibility",
        "test_tasking.py::test_feasibility_then_quotation_on_todays_paths",
    ),
    "choose_feasibility": (
        "choose_feasibility",
        "test_tasking.py::test_feasibility_then_quotation_on_todays_paths",
    ),
    "get_order_coverage": (
        "get_order_coverage",
        "test_shared_and_limits_current.py::test_tasking_order_coverage_starts_empty",
    ),
    "get_storage_stac_root": ("stac_client", "test_stac.py::test_stac_client_outlives_its_first_token"),
    "get_stac_collection": (
        "get_stac_collection",
        "test_current_operations.py::test_order_delivery_collection_and_items",
    ),
    "get_stac_items": (
        "iter_stac_items",
        "test_current_operations.py::test_order_delivery_collection_and_items",
    ),
    "search_storage_stac": (
        "get_order_stac_items",
        "test_current_operations.py::test_order_delivery_collection_and_items",
    ),
    "update_stac_item": (
        "update_stac_item",
        "test_current_operations.py::test_update_stac_item_merges_title_and_tags",
    ),
    "delete_stac_collection": (
        "delete_stac_items",
        "test_current_operations.py::test_bulk_deletion_needs_every_item_of_a_collection",
    ),
    "get_asset_download_url": (
        "get_asset_href_download_url",
        "test_processing_run.py::test_download_url_of_a_stac_asset_href_is_masked",
    ),
    "get_processes": (
        "iter_processes",
        "test_current_operations.py::test_processes_list_holds_what_get_process_describes",
    ),
    "get_process": (
        "get_process",
        "test_current_operations.py::test_processes_list_holds_what_get_process_describes",
    ),
    "validate_process": (
        "check_process",
        "test_processing_run.py::test_check_process_reports_errors_and_cost",
    ),
    "get_process_cost": (
        "check_process",
        "test_processing_run.py::test_check_process_reports_errors_and_cost",
    ),
    "execute_process": (
        "execute_process",
        "test_processing_run.py::test_execute_process_once_after_a_lost_answer",
    ),
    "get_job": ("get_job", "test_orders_jobs.py::test_get_job_and_lists_sync_and_async"),
    "get_jobs": ("iter_jobs", "test_orders_jobs.py::test_get_job_and_lists_sync_and_async"),
    "get_budgets": ("iter_budgets", "test_budgets_orders_misc.py::test_budgets_list_and_get"),
    "get_budget": ("get_budget", "test_budgets_orders_misc.py::test_budgets_list_and_get"),
    "get_budget_usage": ("get_budget_usage", "test_current_operations.py::test_budget_usage_and_settings"),
    "get_budget_settings": (
        "get_budget_settings",
        "test_current_operations.py::test_budget_usage_and_settings",
    ),
}

SOURCES = [
    *sorted((REPO / "up42_provider" / "hooks").glob("*.py")),
    REPO / "up42_provider" / "api" / "client.py",
    REPO / "up42_provider" / "api" / "auth.py",
]


def _referenced() -> set[str]:
    """``V1.x``/``V2.x`` attribute names the hook and its client use."""
    names: set[str] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("V1", "V2")
            ):
                names.add(f"{node.value.id}.{node.attr}")
    return names


def test_the_table_covers_every_v2_endpoint():
    declared = {e.name for e in V2.all()}
    assert set(OPERATIONS) == declared, (
        f"missing: {sorted(declared - set(OPERATIONS))}; stale: {sorted(set(OPERATIONS) - declared)}"
    )


def test_every_v2_endpoint_is_used_by_the_hook():
    """By name, or (the surface both generations share, same method and path) through its V1 twin."""
    used = _referenced()
    twins = {(e.method, e.path): e.name for e in V1.all()}
    unused = [
        e.id + " " + e.name
        for e in V2.all()
        if f"V2.{e.name}" not in used
        and f"V1.{twins.get((e.method, e.path))}" not in used
        and e.name not in FOLLOWED_LINKS
    ]
    assert unused == []


@pytest.mark.parametrize("endpoint", sorted(OPERATIONS))
def test_each_row_names_a_hook_method_and_a_test_that_calls_it(endpoint: str):
    method, test = OPERATIONS[endpoint]
    assert callable(getattr(UP42Hook, method, None)), f"UP42Hook has no method {method}"
    path, function = test.split("::")
    tree = ast.parse((REPO / C / path).read_text())
    node = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function),
        None,
    )
    assert node is not None, f"{test} does not exist"
    calls = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    assert method in calls, f"{test} never calls {method}"
