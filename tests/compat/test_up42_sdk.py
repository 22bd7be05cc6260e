"""The unmodified 2023 UP42 SDK (up42-py 0.30.1) drives the emulator as it would drive the real service.

Only the base URL is redirected, as API.md §12.1.13 describes; everything else is the SDK's own code: OAuth
token fetch, envelopes, pagination, status tracking, signed downloads, archive unpacking.
"""

from __future__ import annotations

import json
import tarfile  # noqa: F401  (the SDK unpacks archives; imported here so failures are clearer)
import time
from pathlib import Path

import pytest

up42 = pytest.importorskip("up42")
from up42 import auth as up42_auth  # noqa: E402

BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.50], [13.42, 52.50], [13.42, 52.53], [13.37, 52.53], [13.37, 52.50]]],
}


@pytest.fixture
def sdk(fresh_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    url = fresh_emulator.url
    monkeypatch.setattr(up42_auth.Auth, "_endpoint", lambda self: url)

    def _get_workspace(self):
        resp = self._request("GET", f"{url}/projects/{self.project_id}")
        self.workspace_id = resp["data"]["workspaceId"]

    monkeypatch.setattr(up42_auth.Auth, "_get_workspace", _get_workspace)
    monkeypatch.chdir(tmp_path)
    up42.authenticate(
        project_id=fresh_emulator.config.project_id, project_api_key=fresh_emulator.config.project_api_key
    )
    return fresh_emulator


def test_wrong_credentials_raise_the_sdk_error(fresh_emulator, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setattr(up42_auth.Auth, "_endpoint", lambda self: fresh_emulator.url)
    with pytest.raises(ValueError, match="Authentication was not successful"):
        up42.authenticate(project_id=fresh_emulator.config.project_id, project_api_key="wrong")


def test_account_blocks_and_webhooks(sdk):
    assert up42.get_credits_balance()["balance"] == sdk.config.initial_credits
    history = up42.get_credits_history()
    assert "content" in history
    blocks = up42.get_blocks(basic=True)
    assert blocks
    data_blocks = up42.get_blocks(block_type="data", basic=True)
    block_id = next(iter(data_blocks.values()))
    assert up42.get_block_details(block_id)["id"] == block_id
    coverage = up42.get_block_coverage(block_id)
    assert coverage["type"] == "FeatureCollection"
    events = up42.get_webhook_events()
    assert {e["name"] for e in events} >= {"job.status", "order.status"}
    hook = up42.create_webhook(name="sdk-hook", url="https://example.invalid/hook", events=["job.status"])
    assert any(w.webhook_id == hook.webhook_id for w in up42.get_webhooks())
    hook.update(name="renamed")
    assert hook.info["name"] == "renamed"
    hook.delete()
    project = up42.initialize_project()
    assert project.info["workspaceId"] == sdk.config.workspace_id
    project.update_project_settings(max_concurrent_jobs=2)
    assert project.max_concurrent_jobs == 2


def test_catalog_search_order_and_download(sdk, tmp_path):
    catalog = up42.initialize_catalog()
    products = catalog.get_data_products(basic=True)
    assert products
    collections = catalog.get_collections()
    archive = [c for c in collections if c["type"] == "ARCHIVE"]
    assert archive
    # Pick a product whose collection is searchable, as a user would from get_data_products.
    _, product = next(iter(products.items()))
    data_product_id = next(iter(product["data_products"].values()))
    params = catalog.construct_search_parameters(
        geometry=BERLIN,
        collections=[product["collection"]],
        start_date="2022-01-01",
        end_date="2022-12-31",
        limit=120,
        max_cloudcover=100,
    )
    results = catalog.search(params)
    assert 0 < len(results) <= 120
    image_id = results.iloc[0]["id"]
    paths = catalog.download_quicklooks(
        [image_id], collection=product["collection"], output_directory=tmp_path
    )
    assert all(Path(p).stat().st_size > 0 for p in paths)
    order_params = catalog.construct_order_parameters(
        data_product_id=data_product_id, image_id=image_id, aoi=BERLIN
    )
    for key, value in list(order_params["params"].items()):
        assert value is not None or key not in ("id", "aoi"), order_params
    estimate = catalog.estimate_order(order_params)
    assert isinstance(estimate, int) and estimate >= 0
    balance = up42.get_credits_balance()["balance"]
    order = catalog.place_order(order_params)
    assert up42.get_credits_balance()["balance"] == balance - estimate
    assert order.track_status(report_time=0.2) == "FULFILLED"
    assets = order.get_assets()
    assert assets
    files = assets[0].download(output_directory=tmp_path / "asset")
    assert any(str(f).endswith(".tif") for f in files)
    storage = up42.initialize_storage()
    assert any(a.asset_id == assets[0].asset_id for a in storage.get_assets())
    assert any(o.order_id == order.order_id for o in storage.get_orders())
    assert assets[0].stac_info


def test_workflow_job_and_results(sdk, tmp_path):
    project = up42.initialize_project()
    workflow = project.create_workflow(name="sdk-compat", use_existing=True)
    data_blocks = up42.get_blocks(block_type="data", basic=True)
    first = next(iter(data_blocks))
    workflow.add_workflow_tasks([first])
    compatible = workflow.get_compatible_blocks()
    assert isinstance(compatible, dict)
    params = workflow.construct_parameters(
        geometry=BERLIN, geometry_operation="bbox", start_date="2022-01-01", end_date="2022-06-30", limit=1
    )
    estimate = workflow.estimate_job(params)
    assert estimate
    test_job = workflow.test_job(params, track_status=True)
    assert test_job.status == "SUCCEEDED"
    job = workflow.run_job(params, track_status=True)
    assert job.is_succeeded
    files = job.download_results(output_directory=tmp_path / "job")
    assert any(str(f).endswith("data.json") for f in files)
    data = json.loads(next(Path(f) for f in files if str(f).endswith("data.json")).read_text())
    assert data["features"] and "up42.data_path" in data["features"][0]["properties"]
    assert job.get_results_json()["features"]
    assert job.get_credits()["creditsUsed"] >= 0
    logs = job.get_logs(as_print=False, as_return=True)
    assert logs
    jobtasks = job.get_jobtasks()
    assert jobtasks and jobtasks[0].info["status"] == "SUCCEEDED"
    jobs = project.get_jobs(limit=50)
    assert any(j.job_id == job.job_id for j in jobs)


def test_parallel_jobs_and_cancel(sdk):
    project = up42.initialize_project()
    workflow = project.create_workflow(name="sdk-parallel", use_existing=True)
    workflow.add_workflow_tasks([next(iter(up42.get_blocks(block_type="data", basic=True)))])
    params = workflow.construct_parameters_parallel(
        geometries=[BERLIN],
        interval_dates=[("2022-01-01", "2022-02-01"), ("2022-03-01", "2022-04-01")],
        limit_per_job=1,
    )
    jobs = workflow.run_jobs_parallel(params, max_concurrent_jobs=2)
    assert set(jobs.status.values()) == {"SUCCEEDED"}
    job = workflow.run_job(params[0], track_status=False)
    job.cancel_job()
    deadline = time.monotonic() + 30
    while job.status not in ("CANCELLED",) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.status == "CANCELLED"
