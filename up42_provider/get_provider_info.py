"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Airflow validates this dict against its ``provider_info.schema.json``; a wrong dict breaks every Airflow CLI
command, so a test validates it too. Since Airflow 3.2 the connection form is built from ``conn-fields`` and
``ui-field-behaviour`` here, without importing the hook.
"""

from __future__ import annotations

from typing import Any

from up42_provider import __version__

CONNECTION_TYPE = "up42"
HOOK_CLASS = "up42_provider.hooks.up42.UP42Hook"


def _connection_type() -> dict[str, Any]:
    return {
        "connection-type": CONNECTION_TYPE,
        "hook-class-name": HOOK_CLASS,
        "hook-name": "UP42",
        "conn-fields": {
            "api_generation": {
                "label": "API generation",
                "schema": {
                    "type": ["string", "null"],
                    "enum": ["auto", "2023", "current", None],
                    "default": "auto",
                },
                "description": "auto: a project id (UUID) in login means the 2023 API, an account e-mail "
                "means today's API. Set 2023 or current to force one.",
            },
            "region": {
                "label": "Region (today's API)",
                "schema": {"type": ["string", "null"], "enum": ["eu", "sa", None], "default": "eu"},
                "description": "eu: api.up42.com + auth.up42.com; sa: api.sa.up42.com + auth.sa.up42.com. "
                "A host field overrides both (an emulator serves login and API on one URL).",
            },
            "timeout": {
                "label": "Request timeout (s)",
                "schema": {"type": ["number", "null"], "default": 60, "minimum": 1},
                "description": "Read timeout of every UP42 API request, in seconds.",
            },
            "max_attempts": {
                "label": "Max attempts",
                "schema": {"type": ["integer", "null"], "default": 5, "minimum": 1},
                "description": "Attempts per request on 429, 5xx and connection errors.",
            },
            "max_retry_wait": {
                "label": "Max retry time (s)",
                "schema": {"type": ["number", "null"], "default": 120, "minimum": 0},
                "description": "Upper bound of the total time spent retrying one request.",
            },
            "create_settle_seconds": {
                "label": "Create settle time (s)",
                "schema": {"type": ["number", "null"], "minimum": 0},
                "description": "How long a creation whose answer was lost must stay invisible before it "
                "is sent again (default: twice the read timeout, at least 30 s).",
            },
            "verify_ssl": {
                "label": "Verify TLS certificates",
                "schema": {"type": ["boolean", "null"], "default": True},
                "description": "Disable only for a local emulator behind a self-signed certificate.",
            },
        },
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {
                "host": "API base URL (optional)",
                "login": "Account e-mail or project ID",
                "password": "Account password or project API key",
            },
            "placeholders": {
                "host": "empty = the region's hosts; http://127.0.0.1:8042 for the emulator",
                "login": "today: your UP42 console e-mail; 2023: the project id (UUID)",
                "password": "today: your UP42 account password; 2023: the project API key",
            },
        },
    }


def ui_field_behaviour() -> dict[str, Any]:
    """The connection form's field behaviour in the hook's (underscore) spelling, for older UIs."""
    behaviour = _connection_type()["ui-field-behaviour"]
    return {key.replace("-", "_"): value for key, value in behaviour.items()}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-up42",
        "name": "UP42",
        "description": "`UP42 <https://up42.com>`__ geospatial marketplace: catalog search, archive and "
        "tasking orders, processing workflows and jobs, asset downloads.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "UP42",
                "external-doc-url": "https://docs.up42.com",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": "UP42",
                "python-modules": [
                    "up42_provider.operators.search",
                    "up42_provider.operators.order",
                    "up42_provider.operators.job",
                    "up42_provider.operators.parallel",
                    "up42_provider.operators.download",
                    "up42_provider.operators.quicklooks",
                    "up42_provider.operators.upload",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "UP42",
                "python-modules": ["up42_provider.sensors.order", "up42_provider.sensors.job"],
            }
        ],
        "hooks": [{"integration-name": "UP42", "python-modules": ["up42_provider.hooks.up42"]}],
        "triggers": [
            {
                "integration-name": "UP42",
                "python-modules": ["up42_provider.triggers.order", "up42_provider.triggers.job"],
            }
        ],
        "connection-types": [_connection_type()],
        # gs:// for ObjectStoragePath through gcsfs, unless the Google provider is installed (see the module).
        "filesystems": ["up42_provider.fs.gcs"],
        "extra-links": ["up42_provider.links.UP42OrderLink", "up42_provider.links.UP42JobLink"],
    }
