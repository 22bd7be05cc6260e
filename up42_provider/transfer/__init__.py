"""Byte transfer for the provider: the one download engine, safe archive extraction, uploads.

Plain Python (requests + fsspec); Airflow is only imported to turn ``s3://...`` strings into an
``ObjectStoragePath``. Every download in the provider goes through :func:`download` /
:func:`download_many`.
"""

from up42_provider.transfer.archives import detect_format, download_and_extract, extract_archive, member_path
from up42_provider.transfer.checksums import announced_hashes, md5_from_headers
from up42_provider.transfer.download import (
    DownloadItem,
    DownloadResult,
    download,
    download_many,
    existing_result,
    filename_from_url,
)
from up42_provider.transfer.errors import (
    ArchiveError,
    DownloadError,
    IntegrityError,
    TransferError,
    UnsafeArchiveError,
)
from up42_provider.transfer.progress import Progress
from up42_provider.transfer.upload import upload_file, upload_tree

__all__ = [
    "ArchiveError",
    "DownloadError",
    "DownloadItem",
    "DownloadResult",
    "IntegrityError",
    "Progress",
    "TransferError",
    "UnsafeArchiveError",
    "announced_hashes",
    "detect_format",
    "download",
    "download_and_extract",
    "download_many",
    "existing_result",
    "extract_archive",
    "filename_from_url",
    "md5_from_headers",
    "member_path",
    "upload_file",
    "upload_tree",
]
