"""``gs://`` for Airflow's ``ObjectStoragePath`` without the Google provider: gcsfs and a connection.

The 2023 SDK's ``upload_results_to_bucket`` wrote to Google Cloud Storage; our bucket operators write to
any ``ObjectStoragePath``, and Airflow maps ``gs://`` to a filesystem only through a provider. The Google
provider does that, but it pulls in about 80 packages (and does not resolve next to this provider's
pins), so this module registers gcsfs itself - unless the Google provider is installed, in which case
``schemes`` is empty and the Google provider's own ``gs`` filesystem wins (same connection fields).

Connection (type ``google_cloud_platform``, as the Google provider reads it), extras:

* ``key_path`` (service-account JSON file) or ``keyfile_dict`` (its JSON); else Application Default
  Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, the metadata server on GCP);
* ``is_anonymous``: no credentials (public buckets, the GCS emulator);
* ``project``: the project for new buckets; ``gcs.endpoint``: another API endpoint (an emulator);
* the Google provider's ``extra__google_cloud_platform__<name>`` spellings are accepted too.
"""

from __future__ import annotations

import importlib.util
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

GOOGLE_PROVIDER_FS = "airflow.providers.google"
_PREFIX = "extra__google_cloud_platform__"


def _google_provider_installed() -> bool:
    try:
        return importlib.util.find_spec(GOOGLE_PROVIDER_FS) is not None
    except (ImportError, ValueError):
        return False


# Read once by Airflow when it collects the providers' filesystems.
schemes: list[str] = [] if _google_provider_installed() else ["gs", "gcs"]


def _field(extras: dict[str, Any], name: str) -> Any:
    value = extras.get(name)
    return extras.get(f"{_PREFIX}{name}") if value in (None, "") else value


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def options_from_extras(extras: dict[str, Any]) -> dict[str, Any]:
    """gcsfs ``GCSFileSystem`` keyword arguments for a ``google_cloud_platform`` connection's extras."""
    key_path, keyfile = _field(extras, "key_path"), _field(extras, "keyfile_dict")
    if _truthy(_field(extras, "is_anonymous")):
        if key_path or keyfile:
            raise ValueError(
                "The google_cloud_platform connection sets is_anonymous and a key: keep one of them"
            )
        token: Any = "anon"
    elif key_path:
        token = str(key_path)
    elif keyfile:
        try:
            token = json.loads(keyfile) if isinstance(keyfile, str) else dict(keyfile)
        except ValueError:
            # Never echo the value: it is a private key.
            raise ValueError(
                "The keyfile_dict extra of the google_cloud_platform connection is not valid JSON: "
                "paste the service-account key file's content"
            ) from None
    else:
        token = "google_default"
    options: dict[str, Any] = {"token": token}
    if project := _field(extras, "project"):
        options["project"] = project
    if endpoint := extras.get("gcs.endpoint"):
        options["endpoint_url"] = endpoint
    return options


def get_fs(conn_id: str | None, storage_options: dict[str, Any] | None = None) -> AbstractFileSystem:
    """A gcsfs filesystem with the connection's credentials (Airflow calls this for ``gs://``)."""
    # gcsfs' default class probes every bucket over gRPC for its storage layout first (a 60 s stall
    # where that API is not reachable); the core class speaks the JSON API only.
    from gcsfs.core import GCSFileSystem

    options: dict[str, Any] = {}
    if conn_id:
        from airflow.sdk import BaseHook

        options = options_from_extras(BaseHook.get_connection(conn_id).extra_dejson)
    options.update(storage_options or {})
    return GCSFileSystem(**options)
