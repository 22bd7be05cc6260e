"""``make demo``: a scripted tour of UP42 through the provider, against the embedded emulator.

Catalog search -> estimate -> order -> fulfilled -> asset download; workflow -> job -> results download. Every
call goes over real HTTP through :class:`~up42_provider.hooks.up42.UP42Hook` and the download engine, exactly
as it would against https://api.up42.com.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer

BERLIN = {
    "type": "Polygon",
    "coordinates": [[[13.365, 52.505], [13.415, 52.505], [13.415, 52.53], [13.365, 52.53], [13.365, 52.505]]],
}


def _step(n: int, text: str) -> None:
    print(f"\n[{n}] {text}", flush=True)


def _info(text: str) -> None:
    print(f"    {text}", flush=True)


def _wait(what: str, read: Callable[[], str], done: set[str], failed: set[str], timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    last = None
    while True:
        status = read()
        if status != last:
            _info(f"{what}: {status}")
            last = status
        if status in done:
            return status
        if status in failed:
            raise SystemExit(f"{what} ended {status}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} still {status} after {timeout:.0f} s")
        time.sleep(0.5)


def run_tour(output: Path, speed: float) -> dict[str, Any]:
    from up42_provider.hooks.up42 import UP42Hook
    from up42_provider.transfer import download_and_extract

    output.mkdir(parents=True, exist_ok=True)
    with EmulatorServer(EmulatorConfig(speed=speed)) as emulator:
        os.environ["AIRFLOW_CONN_UP42_DEFAULT"] = emulator.airflow_connection()
        print(f"UP42 emulator on {emulator.url} (speed x{speed:g})", flush=True)
        hook = UP42Hook()

        _step(1, "Connection test")
        ok, message = hook.test_connection()
        _info(message)
        if not ok:
            raise SystemExit(message)
        _info(f"credit balance: {hook.get_credits_balance()['balance']}")

        _step(2, "Catalog search over Berlin, 2023, Pléiades, cloud cover <= 20 %")
        products = [
            p
            for p in hook.get_data_products()
            if p.get("collection", {}).get("type") == "ARCHIVE" and p.get("collectionName") == "phr"
        ]
        product = products[0]
        results = hook.search(
            {
                "datetime": "2023-01-01T00:00:00Z/2023-12-31T23:59:59Z",
                "intersects": BERLIN,
                "collections": ["phr"],
                "limit": 10,
                "query": {"cloudCoverage": {"lte": 20}},
                "sortby": [{"field": "properties.cloudCoverage", "direction": "asc"}],
            }
        )
        scenes = results["features"]
        _info(f"{len(scenes)} scenes; best: {scenes[0]['properties']['id']} ")
        _info(
            f"acquired {scenes[0]['properties']['acquisitionDate']}, "
            f"cloud cover {scenes[0]['properties']['cloudCoverage']} %"
        )
        (output / "search_results.geojson").write_text(json.dumps(results))
        image_id = scenes[0]["properties"]["id"]
        quicklook = hook.download_catalog_quicklook(image_id, collection="phr")
        if quicklook:
            (output / f"quicklook_{image_id}.jpg").write_bytes(quicklook)
            _info(f"quicklook: {len(quicklook)} bytes")

        _step(3, "Estimate and place an archive order")
        params = hook.construct_catalog_order_parameters(product["id"], image_id, aoi=BERLIN, tags=["demo"])
        credits = hook.estimate_order(params)
        _info(f"estimate: {credits} credits")
        order = hook.place_order(params, tag="demo-archive-order", reuse_existing=True)
        _info(f"order {order['id']} placed")
        _wait(
            "order",
            lambda: hook.get_order(order["id"])["status"],
            {"FULFILLED"},
            {"FAILED", "FAILED_PERMANENTLY"},
        )

        _step(4, "Download the order's asset (resumable, md5-verified, unpacked safely)")
        asset_files: list[str] = []
        for asset in hook.get_order_assets(order["id"]):
            asset_files += download_and_extract(
                lambda asset_id=asset["id"]: hook.get_asset_download_url(asset_id),
                output / f"asset_{asset['id']}",
            )
        for uri in asset_files:
            _info(uri)

        _step(5, "Workflow from blocks -> job -> results")
        workflow = hook.create_workflow("demo-sentinel-2", "make demo", use_existing=True)
        data_block = next(b for b in hook.get_blocks(block_type="DATA") if "s2" in b["name"])
        hook.add_workflow_tasks(workflow["id"], [data_block["name"]])
        inputs = hook.construct_job_parameters(
            workflow["id"],
            geometry=BERLIN,
            geometry_operation="intersects",
            start_date="2023-05-01",
            end_date="2023-08-31",
            limit=1,
        )
        estimate = hook.estimate_job(workflow["id"], inputs)
        _info(f"job estimate: {json.dumps(estimate)[:160]}")
        job = hook.run_job(workflow["id"], inputs, name="demo-job", reuse_existing=True)
        _info(f"job {job['id']} started")
        _wait(
            "job",
            lambda: hook.get_job(job["id"])["status"],
            {"SUCCEEDED"},
            {"FAILED", "ERROR", "CANCELLED"},
        )
        job_files = download_and_extract(
            lambda: hook.get_job_results_url(job["id"]), output / f"job_{job['id']}"
        )
        for uri in job_files:
            _info(uri)
        _info(f"credits used by the job: {hook.get_job_credits(job['id']).get('creditsUsed')}")
        _info(f"credit balance now: {hook.get_credits_balance()['balance']}")
        if not any(f.endswith(".tif") for f in job_files):
            raise SystemExit("the job produced no GeoTIFF")
        hook.close()
        return {"order": order["id"], "job": job["id"], "asset_files": asset_files, "job_files": job_files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("demo-output"), help="where downloads go")
    parser.add_argument("--speed", type=float, default=20.0, help="emulator time factor")
    args = parser.parse_args(argv)
    started = time.monotonic()
    summary = run_tour(args.output.resolve(), args.speed)
    print(f"\nDone in {time.monotonic() - started:.0f} s. Outputs under {args.output.resolve()}:", flush=True)
    print(f"  order {summary['order']}: {len(summary['asset_files'])} files", flush=True)
    print(f"  job {summary['job']}: {len(summary['job_files'])} files", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
