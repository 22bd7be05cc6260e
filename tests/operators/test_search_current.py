"""UP42SearchCatalogOperator on today's API (host search and the STAC catalog), and the console
links of today's generation."""

from __future__ import annotations

import json

import pytest

from tests.emulator.test_orders import HAMBURG
from up42_provider.emulator.server import EmulatorServer
from up42_provider.hooks.up42 import UP42Hook
from up42_provider.links import CONSOLE_URL, UP42JobLink, UP42OrderLink, job_console_url, order_console_url
from up42_provider.operators.download import UP42DownloadAssetsOperator, UP42DownloadJobResultsOperator
from up42_provider.operators.search import UP42SearchCatalogOperator
from up42_provider.sensors.job import UP42JobSucceededSensor
from up42_provider.sensors.order import UP42OrderFulfilledSensor

from .conftest import execute


@pytest.fixture
def today(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection("current"))
    return emulator


def search(**kwargs) -> UP42SearchCatalogOperator:
    args = {
        "task_id": "search",
        "aoi": HAMBURG,
        "collections": ["phr"],
        "acquisition_start": "2020-01-01",
        "acquisition_end": "2030-12-31",
        "limit": 3,
    }
    return UP42SearchCatalogOperator(**{**args, **kwargs})


def test_host_search_today_has_the_2023_shape(today: EmulatorServer):
    result = execute(search(max_cloud_cover=60))
    assert result["type"] == "FeatureCollection" and 1 <= len(result["features"]) <= 3
    for feature in result["features"]:
        assert feature["properties"]["id"] and feature["properties"]["cloudCoverage"] <= 60
        assert "providerProperties" not in feature["properties"]
    json.dumps(result)


def test_stac_catalog_search_reads_like_the_host_search(today: EmulatorServer):
    host = execute(search(limit=12))["features"]
    stac = execute(search(limit=12, catalog_api="stac"))["features"]
    assert len(stac) == 12  # more than the catalog's default page of 10: the next link was followed
    assert sorted(f["properties"]["id"] for f in stac) == sorted(f["properties"]["id"] for f in host)
    for feature in stac:
        props = feature["properties"]
        assert props["id"] == feature["id"] and props["collection"] == "phr"
        assert props["acquisitionDate"] == props["datetime"]
    cloudy = execute(search(limit="all", catalog_api="stac", max_cloud_cover=20))["features"]
    assert cloudy and all(f["properties"]["cloudCoverage"] <= 20 for f in cloudy)


def test_stac_search_coverage_plot_and_output_file(today: EmulatorServer, tmp_path):
    out = execute(
        search(
            catalog_api="stac",
            plot_coverage_to=str(tmp_path / "coverage.png"),
            output_path=str(tmp_path / "scenes.geojson"),
        )
    )
    assert (tmp_path / "coverage.png").read_bytes()[:4] == b"\x89PNG"
    assert out["uri"] == f"file://{tmp_path}/scenes.geojson" and out["count"] == len(out["image_ids"]) == 3


def test_stac_catalog_needs_todays_connection_and_a_known_api(emulator: EmulatorServer, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UP42_DEFAULT", emulator.airflow_connection())
    with pytest.raises(ValueError, match="STAC catalog belongs to today's UP42 API"):
        execute(search(catalog_api="stac"))
    with pytest.raises(ValueError, match="catalog_api must be 'host' or 'stac'"):
        search(catalog_api="stca")
    with pytest.raises(ValueError, match="usage_type filters the host search only"):
        search(catalog_api="stac", usage_type=["DATA"])


def test_console_links_of_both_generations():
    assert order_console_url(["o1"], "current") == f"{CONSOLE_URL}/orders/o1"
    assert order_console_url(["o1", "o2"], "current") == f"{CONSOLE_URL}/orders"
    assert order_console_url(["o1"]) == f"{CONSOLE_URL}/storage/orders/o1"
    assert job_console_url(None, ["j1"], "current") == f"{CONSOLE_URL}/processing/jobs/j1"
    assert job_console_url(None, ["j1"]) == ""  # a 2023 job needs its project
    assert job_console_url("p", ["j1", "j2"]) == f"{CONSOLE_URL}/projects/p/jobs"
    for operator, link in [
        (UP42OrderFulfilledSensor, UP42OrderLink),
        (UP42DownloadAssetsOperator, UP42OrderLink),
        (UP42JobSucceededSensor, UP42JobLink),
        (UP42DownloadJobResultsOperator, UP42JobLink),
    ]:
        assert [type(x) for x in operator.operator_extra_links] == [link]


def test_links_read_the_tasks_own_ids_and_generation(today: EmulatorServer, monkeypatch):
    import up42_provider.links as links

    monkeypatch.setattr(links, "_xcom", lambda ti_key, key: None)  # nothing pushed by these tasks
    sensor = UP42OrderFulfilledSensor(task_id="wait", order_ids=["o1"])
    assert UP42OrderLink().get_link(sensor, ti_key=None) == f"{CONSOLE_URL}/orders/o1"  # type: ignore[arg-type]
    results = UP42DownloadJobResultsOperator(task_id="r", job_ids="j1,j2", destination="/tmp/x")
    assert UP42JobLink().get_link(results, ti_key=None) == f"{CONSOLE_URL}/processing/jobs"  # type: ignore[arg-type]
    assert UP42Hook().generation == "current"
