"""UP42 operators: catalog search, orders, jobs, parallel jobs, downloads and uploads.

Import from the modules (``up42_provider.operators.order`` ...) in DAG files; this package only
re-exports them lazily so that importing one operator does not import the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from up42_provider.operators.download import UP42DownloadAssetsOperator, UP42DownloadJobResultsOperator
    from up42_provider.operators.job import UP42RunJobOperator
    from up42_provider.operators.order import UP42PlaceOrderOperator
    from up42_provider.operators.parallel import UP42RunParallelJobsOperator
    from up42_provider.operators.quicklooks import UP42DownloadQuicklooksOperator
    from up42_provider.operators.search import UP42SearchCatalogOperator
    from up42_provider.operators.upload import UP42UploadToBucketOperator

_MODULES = {
    "UP42SearchCatalogOperator": "search",
    "UP42PlaceOrderOperator": "order",
    "UP42RunJobOperator": "job",
    "UP42RunParallelJobsOperator": "parallel",
    "UP42DownloadAssetsOperator": "download",
    "UP42DownloadJobResultsOperator": "download",
    "UP42DownloadQuicklooksOperator": "quicklooks",
    "UP42UploadToBucketOperator": "upload",
}

__all__ = [
    "UP42DownloadAssetsOperator",
    "UP42DownloadJobResultsOperator",
    "UP42DownloadQuicklooksOperator",
    "UP42PlaceOrderOperator",
    "UP42RunJobOperator",
    "UP42RunParallelJobsOperator",
    "UP42SearchCatalogOperator",
    "UP42UploadToBucketOperator",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
