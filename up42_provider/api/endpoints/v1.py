"""Generation 1: the UP42 API as up42-py 0.30.1 calls it (ids are short labels for logs).

Paths are exactly as sent, trailing slashes included. Query parameters (``parentTaskName`` of
``V1.get_compatible_blocks``, ``name`` of ``V1.create_job``) are passed as ``params=`` to the client,
never baked into the path.
"""

from __future__ import annotations

from up42_provider.api.endpoints.base import Endpoint, EndpointTable

_P = "/projects/{project_id}"
_W = "/workspaces/{workspace_id}"
_JOB = _P + "/jobs/{job_id}"
_TASK = _JOB + "/tasks/{jobtask_id}"


class V1(EndpointTable):
    generation = "v1"

    # authentication, project and settings
    token = Endpoint("E01", "token", "POST", "/oauth/token", "token")
    get_project = Endpoint("E02", "get_project", "GET", _P, "envelope")
    get_project_settings = Endpoint("E03", "get_project_settings", "GET", _P + "/settings", "envelope")
    update_project_settings = Endpoint("E04", "update_project_settings", "POST", _P + "/settings", "none")
    # blocks, manifest validation, credits
    get_blocks = Endpoint("E05", "get_blocks", "GET", "/blocks", "envelope")
    get_block = Endpoint("E06", "get_block", "GET", "/blocks/{block_id}", "envelope")
    get_block_coverage = Endpoint(
        "E07", "get_block_coverage", "GET", "/blocks/{block_id}/coverage", "envelope"
    )
    validate_manifest = Endpoint("E08", "validate_manifest", "POST", "/validate-schema/block", "envelope")
    get_credits_balance = Endpoint(
        "E09", "get_credits_balance", "GET", "/accounts/me/credits/balance", "envelope"
    )
    get_credits_history = Endpoint(
        "E10", "get_credits_history", "GET", "/accounts/me/credits/history", "envelope"
    )
    # webhooks
    get_webhook_events = Endpoint("E11", "get_webhook_events", "GET", "/webhooks/events", "envelope")
    get_webhooks = Endpoint("E12", "get_webhooks", "GET", _W + "/webhooks", "envelope")
    create_webhook = Endpoint("E13", "create_webhook", "POST", _W + "/webhooks", "envelope", creates=True)
    get_webhook = Endpoint("E14", "get_webhook", "GET", _W + "/webhooks/{webhook_id}", "envelope")
    update_webhook = Endpoint("E15", "update_webhook", "PUT", _W + "/webhooks/{webhook_id}", "envelope")
    delete_webhook = Endpoint("E16", "delete_webhook", "DELETE", _W + "/webhooks/{webhook_id}", "none")
    trigger_webhook_tests = Endpoint(
        "E17", "trigger_webhook_tests", "POST", _W + "/webhooks/{webhook_id}/tests", "envelope"
    )
    # catalog, collections and data products
    get_collections = Endpoint("E18", "get_collections", "GET", "/collections", "envelope")
    get_data_products = Endpoint("E19", "get_data_products", "GET", "/data-products", "envelope")
    get_data_product_schema = Endpoint(
        "E20", "get_data_product_schema", "GET", "/orders/schema/{data_product_id}", "bare"
    )
    search_catalog = Endpoint("E21", "search_catalog", "POST", "/catalog/hosts/{host}/stac/search", "bare")
    get_catalog_quicklook = Endpoint(
        "E22", "get_catalog_quicklook", "GET", "/catalog/{host}/image/{image_id}/quicklook", "binary"
    )
    # orders
    create_order = Endpoint("E23", "create_order", "POST", _W + "/orders", "envelope", creates=True)
    estimate_order = Endpoint("E24", "estimate_order", "POST", _W + "/orders/estimate", "envelope")
    get_order = Endpoint("E25", "get_order", "GET", _W + "/orders/{order_id}", "envelope")
    get_orders = Endpoint("E26", "get_orders", "GET", _W + "/orders", "envelope")
    # tasking (v2 paths, bare JSON)
    get_quotations = Endpoint("E27", "get_quotations", "GET", "/v2/tasking/quotation", "bare")
    decide_quotation = Endpoint(
        "E28", "decide_quotation", "PATCH", "/v2/tasking/quotation/{quotation_id}", "bare"
    )
    get_feasibility = Endpoint("E29", "get_feasibility", "GET", "/v2/tasking/feasibility", "bare")
    choose_feasibility = Endpoint(
        "E30", "choose_feasibility", "PATCH", "/v2/tasking/feasibility/{feasibility_id}", "bare"
    )
    # storage and assets (v2 paths, bare JSON)
    get_assets = Endpoint("E31", "get_assets", "GET", "/v2/assets", "bare")
    get_asset = Endpoint("E32", "get_asset", "GET", "/v2/assets/{asset_id}/metadata", "bare")
    update_asset_metadata = Endpoint(
        "E33", "update_asset_metadata", "POST", "/v2/assets/{asset_id}/metadata", "bare"
    )
    get_asset_download_url = Endpoint(
        "E34",
        "get_asset_download_url",
        "POST",
        "/v2/assets/{asset_id}/download-url",
        "bare",
        signed_url=True,
    )
    search_storage_stac = Endpoint("E35", "search_storage_stac", "POST", "/v2/assets/stac/search", "bare")
    get_storage_stac_root = Endpoint("E36", "get_storage_stac_root", "GET", "/v2/assets/stac", "bare")
    # workflows
    get_workflows = Endpoint("E37", "get_workflows", "GET", _P + "/workflows", "envelope")
    create_workflow = Endpoint("E38", "create_workflow", "POST", _P + "/workflows/", "envelope", creates=True)
    get_workflow = Endpoint("E39", "get_workflow", "GET", _P + "/workflows/{workflow_id}", "envelope")
    update_workflow = Endpoint("E40", "update_workflow", "PUT", _P + "/workflows/{workflow_id}", "none")
    delete_workflow = Endpoint("E41", "delete_workflow", "DELETE", _P + "/workflows/{workflow_id}", "none")
    get_workflow_tasks = Endpoint(
        "E42", "get_workflow_tasks", "GET", _P + "/workflows/{workflow_id}/tasks", "envelope"
    )
    set_workflow_tasks = Endpoint(
        "E43", "set_workflow_tasks", "POST", _P + "/workflows/{workflow_id}/tasks/", "none"
    )
    get_compatible_blocks = Endpoint(
        "E44", "get_compatible_blocks", "GET", _P + "/workflows/{workflow_id}/compatible-blocks", "envelope"
    )
    estimate_job = Endpoint("E45", "estimate_job", "POST", _P + "/estimate/job", "envelope")
    create_job = Endpoint(
        "E46", "create_job", "POST", _P + "/workflows/{workflow_id}/jobs", "envelope", creates=True
    )
    # jobs
    get_jobs = Endpoint("E47", "get_jobs", "GET", _P + "/jobs", "envelope")
    get_job = Endpoint("E48", "get_job", "GET", _JOB, "envelope")
    cancel_job = Endpoint("E49", "cancel_job", "POST", _JOB + "/cancel/", "none")
    get_job_results_json = Endpoint(
        "E50", "get_job_results_json", "GET", _JOB + "/outputs/data-json/", "bare"
    )
    get_job_results_url = Endpoint(
        "E51", "get_job_results_url", "GET", _JOB + "/downloads/results/", "envelope", signed_url=True
    )
    get_job_credits = Endpoint("E52", "get_job_credits", "GET", _JOB + "/credits", "envelope")
    get_job_tasks = Endpoint("E53", "get_job_tasks", "GET", _JOB + "/tasks/", "envelope")
    # job tasks
    get_job_task_logs = Endpoint("E54", "get_job_task_logs", "GET", _TASK + "/logs", "text")
    get_job_task_results_json = Endpoint(
        "E55", "get_job_task_results_json", "GET", _TASK + "/outputs/data-json/", "bare"
    )
    get_job_task_results_url = Endpoint(
        "E56", "get_job_task_results_url", "GET", _TASK + "/downloads/results/", "envelope", signed_url=True
    )
    get_job_task_quicklooks = Endpoint(
        "E57", "get_job_task_quicklooks", "GET", _TASK + "/outputs/quicklooks/", "envelope"
    )
    get_job_task_quicklook = Endpoint(
        "E58",
        "get_job_task_quicklook",
        "GET",
        _TASK + "/outputs/quicklooks/{quicklook_id}",
        "binary",
        text_ids=("quicklook_id",),
    )
