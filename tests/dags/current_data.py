"""Test DAGs of the data operators on today's UP42 API (connection ``up42_current``, given by each
run's environment): search, deliveries, job results, quicklooks and upload, driven by the run conf.

Destinations come from ``dag_run.conf``; S3 goes through the ``aws_test`` connection (a moto server).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from up42_provider.operators.download import UP42DownloadAssetsOperator, UP42DownloadJobResultsOperator
from up42_provider.operators.quicklooks import UP42DownloadQuicklooksOperator
from up42_provider.operators.search import UP42SearchCatalogOperator
from up42_provider.operators.upload import UP42UploadToBucketOperator

CONN = "up42_current"
S3_CONN = "aws_test"


def _conf(key: str, default: str = "None") -> str:
    return "{{ dag_run.conf.get('" + key + "', " + default + ") }}"


def _dag(dag_id: str) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        render_template_as_native_obj=True,
        tags=["up42", "tests"],
    )


# search (host or STAC catalog) -> quicklooks of what it found, to a local folder.
with _dag("current_search_quicklooks") as current_search_quicklooks:
    search = UP42SearchCatalogOperator(
        task_id="search",
        aoi=_conf("aoi"),
        collections=["phr"],
        acquisition_start="2020-01-01",
        acquisition_end="2030-12-31",
        limit=2,
        catalog_api="stac",
        plot_coverage_to=_conf("coverage"),
        up42_conn_id=CONN,
    )
    UP42DownloadQuicklooksOperator(
        task_id="quicklooks",
        image_ids=search.output,
        destination=_conf("quicklooks"),
        emit_asset=False,
        up42_conn_id=CONN,
    )

# An order's deliveries to a destination from the conf (local or S3), then uploaded to another.
with _dag("current_deliveries") as current_deliveries:
    deliveries = UP42DownloadAssetsOperator(
        task_id="download",
        order_ids=_conf("order_ids"),
        destination=_conf("destination"),
        destination_conn_id=_conf("destination_conn_id"),
        emit_asset=False,
        up42_conn_id=CONN,
    )
    UP42UploadToBucketOperator(
        task_id="upload",
        source_uris=deliveries.output,
        source_root=_conf("destination"),
        source_conn_id=_conf("destination_conn_id"),
        destination=_conf("upload_to"),
        destination_conn_id=S3_CONN,
        emit_asset=False,
        up42_conn_id=CONN,
    )

# A processing job's results to a local folder from the conf.
with _dag("current_job_results") as current_job_results:
    UP42DownloadJobResultsOperator(
        task_id="results",
        job_ids=_conf("job_ids"),
        destination=_conf("destination"),
        emit_asset=False,
        up42_conn_id=CONN,
    )
