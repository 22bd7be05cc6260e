"""Test DAGs of the DATA-OPS workstream: downloads, quicklooks and uploads, driven by the run conf.

Local destinations come from ``dag_run.conf`` (templated, so their Asset is attached through an
``AssetAlias``); S3 destinations are literal (``s3://up42-data-ops/...`` through the ``aws_test``
connection, whose endpoint - a moto server - each run passes in its environment), so their Asset
is declared in ``outlets`` at parse time. Each DAG ends with a task that reads the asset events
back through ``inlet_events`` and returns their extras, so the tests see what Airflow recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Asset, AssetAlias, task

from up42_provider.operators.download import UP42DownloadAssetsOperator, UP42DownloadJobResultsOperator
from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.operators.quicklooks import UP42DownloadQuicklooksOperator
from up42_provider.operators.search import UP42SearchCatalogOperator
from up42_provider.operators.upload import UP42UploadToBucketOperator

S3_CONN = "aws_test"
S3_ORDERS = "s3://up42-data-ops/dag-orders"
S3_UPLOADS = "s3://up42-data-ops/dag-uploads"
LOCAL_ALIAS = "up42-data-ops-local"


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


def _events(task_id: str, inlet: Asset | AssetAlias) -> Any:
    @task(task_id=task_id, inlets=[inlet])
    def events(**context: Any) -> list[dict[str, Any]]:
        """The extras of every event recorded so far for ``inlet`` (newest last)."""
        return [dict(event.extra or {}) for event in context["inlet_events"][inlet]]

    return events()


# Assets of orders given in the conf, to a local folder given in the conf.
with _dag("data_download_assets") as data_download_assets:
    assets = UP42DownloadAssetsOperator(
        task_id="download",
        order_ids=_conf("order_ids"),
        asset_ids=_conf("asset_ids"),
        destination=_conf("destination"),
        unpack=_conf("unpack", "True"),
        max_workers=2,
        asset_alias=LOCAL_ALIAS,
    )
    assets >> _events("events", AssetAlias(LOCAL_ALIAS))

# search -> order -> download to S3 (order ids through XCom), with a plot and a map.
with _dag("data_order_to_s3") as data_order_to_s3:
    search = UP42SearchCatalogOperator(
        task_id="search",
        aoi=_conf("aoi"),
        collections=["phr"],
        acquisition_start="2022-01-01",
        acquisition_end="2022-12-31",
        limit=1,
    )
    order = UP42PlaceOrderOperator(
        task_id="order",
        data_product_id=_conf("data_product_id"),
        image_ids=search.output,
        aoi=_conf("aoi"),
        poll_interval=0.2,
        timeout=60,
        deferrable=False,
    )
    download = UP42DownloadAssetsOperator(
        task_id="download",
        order_ids=order.output,
        destination=S3_ORDERS,
        destination_conn_id=S3_CONN,
        plot_results_to=_conf("plot_to"),
        map_results_to=_conf("map_to"),
    )
    download >> _events("events", Asset(S3_ORDERS))

# Job results (merged data.json) and job + catalog quicklooks, to local folders from the conf.
with _dag("data_jobs_and_quicklooks") as data_jobs_and_quicklooks:
    results = UP42DownloadJobResultsOperator(
        task_id="results",
        job_ids=_conf("job_ids"),
        destination=_conf("destination"),
        asset_alias=LOCAL_ALIAS,
    )
    scenes = UP42SearchCatalogOperator(
        task_id="search",
        aoi=_conf("aoi"),
        collections=["phr"],
        acquisition_start="2022-01-01",
        acquisition_end="2022-12-31",
        limit=2,
    )
    quicklooks = UP42DownloadQuicklooksOperator(
        task_id="quicklooks",
        image_ids=scenes.output,
        job_ids=_conf("job_ids"),
        destination=_conf("quicklooks"),
        plot_quicklooks_to=_conf("mosaic"),
        emit_asset=False,
    )

# Files/folders given in the conf (e.g. an earlier download) to S3, layout kept.
with _dag("data_upload") as data_upload:
    upload = UP42UploadToBucketOperator(
        task_id="upload",
        source_uris=_conf("sources"),
        source_root=_conf("source_root"),
        job_ids=_conf("job_ids"),
        destination=S3_UPLOADS,
        destination_conn_id=S3_CONN,
    )
    upload >> _events("events", Asset(S3_UPLOADS))

# Every path that fetches a signed URL, with DEBUG logging (urllib3 then logs each request line,
# query included): assets, job results, and UP42 archives copied by the upload operator.
with _dag("data_signed_urls_debug") as data_signed_urls_debug:
    # dag.test() runs the tasks in the worker's process, whose logging Airflow configured at INFO
    # and without the redaction a task supervisor applies to task logs: for this run, lower the
    # root handlers and our loggers to DEBUG and redact every record with Airflow's own masker
    # (mask_logs' redact), then restore everything (the worker is reused by later tests).
    _DEBUG_LOGGERS = ("urllib3", "up42_provider", "requests")

    class _Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            from airflow.sdk._shared.secrets_masker import redact

            record.msg, record.args = redact(record.getMessage()), None
            return True

    _REDACT = _Redact()

    @task(task_id="debug_on")
    def debug_on() -> None:
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.DEBUG)
            handler.addFilter(_REDACT)
        for name in _DEBUG_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)

    @task(task_id="debug_off", trigger_rule="all_done")
    def debug_off() -> None:
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.INFO)
            handler.removeFilter(_REDACT)
        for name in _DEBUG_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)

    signed = [
        UP42DownloadAssetsOperator(
            task_id="assets",
            order_ids=_conf("order_ids"),
            destination=_conf("assets"),
            unpack=False,
            emit_asset=False,
        ),
        UP42DownloadJobResultsOperator(
            task_id="results", job_ids=_conf("job_ids"), destination=_conf("results"), emit_asset=False
        ),
        UP42UploadToBucketOperator(
            task_id="archives", job_ids=_conf("job_ids"), destination=_conf("archives"), emit_asset=False
        ),
    ]
    debug_on() >> signed >> debug_off()
