"""Today's generation: the UP42 API as up42-py 4.3.0 calls it (bare JSON everywhere).

Ids are short labels for logs; ``host="auth"`` marks the
two login calls on the Keycloak host. Query parameters (``workspaceId``, filters, paging) are
passed as ``params=``, never baked into the path.
"""

from __future__ import annotations

from up42_provider.api.endpoints.base import Endpoint, EndpointTable

_OIDC = "/realms/public/protocol/openid-connect"
_PROC = "/v2/processing/processes/{process_id}"
_STAC = "/v2/assets/stac"
_COLL = _STAC + "/collections/{collection_id}"


class V2(EndpointTable):
    generation = "current"

    # authentication and identity (auth host)
    token = Endpoint("N01", "token", "POST", _OIDC + "/token", "token", host="auth")
    userinfo = Endpoint("N02", "userinfo", "GET", _OIDC + "/userinfo", "bare", host="auth")
    # glossary
    get_collections = Endpoint("N03", "get_collections", "GET", "/v2/collections", "bare")
    get_collection = Endpoint("N03b", "get_collection", "GET", "/v2/collections/{name}", "bare", text_ids=())
    get_eula = Endpoint("N04", "get_eula", "GET", "/v2/eulas/{eula_id}", "bare")
    get_data_product_schema = Endpoint(
        "E20", "get_data_product_schema", "GET", "/orders/schema/{data_product_id}", "bare"
    )
    # catalog
    search_catalog = Endpoint("E21", "search_catalog", "POST", "/catalog/hosts/{host}/stac/search", "bare")
    get_catalog_quicklook = Endpoint(
        "E22", "get_catalog_quicklook", "GET", "/catalog/{host}/image/{image_id}/quicklook", "binary"
    )
    get_catalog_stac_root = Endpoint("N05", "get_catalog_stac_root", "GET", "/v2/catalog/", "bare")
    search_catalog_stac = Endpoint("N05b", "search_catalog_stac", "POST", "/v2/catalog/search", "bare")
    # orders v2
    estimate_order = Endpoint("N06", "estimate_order", "POST", "/v2/orders/estimate", "bare")
    create_orders = Endpoint("N07", "create_orders", "POST", "/v2/orders", "bare", creates=True)
    get_order = Endpoint("N08", "get_order", "GET", "/v2/orders/{order_id}", "bare")
    get_orders = Endpoint("N09", "get_orders", "GET", "/v2/orders", "bare")
    update_order = Endpoint("N10", "update_order", "PATCH", "/v2/orders/{order_id}", "bare")
    cancel_order = Endpoint("N11", "cancel_order", "POST", "/v2/orders/{order_id}/cancellation", "bare")
    # tasking
    get_quotations = Endpoint("E27", "get_quotations", "GET", "/v2/tasking/quotation", "bare")
    decide_quotation = Endpoint(
        "E28", "decide_quotation", "PATCH", "/v2/tasking/quotation/{quotation_id}", "bare"
    )
    get_feasibility = Endpoint("N12", "get_feasibility", "GET", "/v2/tasking/feasibility-studies", "bare")
    choose_feasibility = Endpoint(
        "N13", "choose_feasibility", "PATCH", "/v2/tasking/feasibility-studies/{feasibility_id}", "bare"
    )
    get_order_coverage = Endpoint(
        "N14", "get_order_coverage", "GET", "/v2/coverage/orders/{order_id}", "bare"
    )
    # storage (STAC) and downloads
    get_storage_stac_root = Endpoint("E36", "get_storage_stac_root", "GET", _STAC + "/", "bare")
    get_stac_collection = Endpoint("N15", "get_stac_collection", "GET", _COLL, "bare")
    get_stac_items = Endpoint("N16", "get_stac_items", "GET", _COLL + "/items", "bare")
    search_storage_stac = Endpoint("E35", "search_storage_stac", "POST", _STAC + "/search", "bare")
    update_stac_item = Endpoint(
        "N17", "update_stac_item", "PATCH", _COLL + "/items/{item_id}", "bare", text_ids=("item_id",)
    )
    delete_stac_collection = Endpoint("N18", "delete_stac_collection", "DELETE", _COLL, "none")
    get_asset_download_url = Endpoint(
        "E34",
        "get_asset_download_url",
        "POST",
        "/v2/assets/{asset_id}/download-url",
        "bare",
        signed_url=True,
    )
    # processing
    get_processes = Endpoint("N19b", "get_processes", "GET", "/v2/processing/processes", "bare")
    get_process = Endpoint("N19", "get_process", "GET", _PROC, "bare", text_ids=("process_id",))
    validate_process = Endpoint(
        "N20", "validate_process", "POST", _PROC + "/validation", "none", text_ids=("process_id",)
    )
    get_process_cost = Endpoint(
        "N21", "get_process_cost", "POST", _PROC + "/cost", "bare", text_ids=("process_id",)
    )
    execute_process = Endpoint(
        "N22",
        "execute_process",
        "POST",
        _PROC + "/execution",
        "bare",
        creates=True,
        text_ids=("process_id",),
    )
    get_job = Endpoint("N23", "get_job", "GET", "/v2/processing/jobs/{job_id}", "bare")
    get_jobs = Endpoint("N24", "get_jobs", "GET", "/v2/processing/jobs", "bare")
    # budgets
    get_budgets = Endpoint("N25", "get_budgets", "GET", "/v2/budgets", "bare")
    get_budget = Endpoint("N26", "get_budget", "GET", "/v2/budgets/{budget_id}", "bare")
    get_budget_usage = Endpoint("N27", "get_budget_usage", "GET", "/v2/budgets/{budget_id}/usage", "bare")
    get_budget_settings = Endpoint("N28", "get_budget_settings", "GET", "/v2/budgets/settings", "bare")
