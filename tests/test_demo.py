"""`make demo` runs this tour; it must keep working end to end against the emulator."""

from __future__ import annotations

import json

import rasterio

from up42_provider.demo import run_tour


def test_demo_tour_orders_and_processes_real_imagery(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_UP42_DEFAULT", raising=False)
    summary = run_tour(tmp_path, speed=100)
    for key in ("asset_files", "job_files"):
        files = summary[key]
        data_json = next(f for f in files if f.endswith("data.json"))
        with open(data_json) as fh:
            features = json.load(fh)["features"]
        assert features and "up42.data_path" in features[0]["properties"]
        tif = next(f for f in files if f.endswith(".tif"))
        with rasterio.open(tif) as ds:
            assert ds.crs.to_epsg() == 4326 and ds.count >= 3
    assert (tmp_path / "search_results.geojson").exists()
