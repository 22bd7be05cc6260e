"""Emulator settings: one frozen dataclass shared by the CLI, the app factory and tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# Deterministic defaults so that a user's saved connection keeps working across restarts.
DEFAULT_PROJECT_ID = "0d5a7f2c-4e1b-4b7a-9c33-2f6e8a1d9b42"
DEFAULT_PROJECT_API_KEY = "up42-emulator-api-key"
# Today's generation signs in with an account (console e-mail and password) instead of a project key.
DEFAULT_ACCOUNT_USERNAME = "emulator@up42.example"
DEFAULT_ACCOUNT_PASSWORD = "up42-emulator-password"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8042


@dataclass(frozen=True)
class FaultConfig:
    """Probabilities (0..1) of injected faults; all off by default.

    Faults are drawn from a random generator seeded with the emulator seed, so a run with the
    same seed and the same request sequence sees the same faults.
    """

    error_rate: float = 0.0  # answer 500/502/503 instead of handling the request
    rate_limit_rate: float = 0.0  # answer 429 with Retry-After
    retry_after: float = 1.0  # seconds sent in Retry-After
    slow_rate: float = 0.0  # delay the answer by slow_seconds
    slow_seconds: float = 2.0
    drop_rate: float = 0.0  # drop the connection in the middle of a download body
    token_expiry_rate: float = 0.0  # treat a valid token as expired (401)
    lost_response_rate: float = 0.0  # creating calls: do the work, then drop the connection
    # Creating calls whose backend goes on after the client gave up: "late" holds the request
    # late_seconds and then completes it even if the client has disconnected; "late_504" answers
    # 504 at once (a gateway timing out) and completes the creation late_seconds later.
    late_rate: float = 0.0
    late_504_rate: float = 0.0
    late_seconds: float = 4.0


@dataclass(frozen=True)
class EmulatorConfig:
    project_id: str = DEFAULT_PROJECT_ID
    project_api_key: str = DEFAULT_PROJECT_API_KEY
    account_username: str = DEFAULT_ACCOUNT_USERNAME
    account_password: str = DEFAULT_ACCOUNT_PASSWORD
    seed: int = 42
    speed: float = 1.0  # 10 makes every simulated duration ten times shorter
    token_lifetime: int = 300  # seconds, as the real service (expires_in), both generations
    refresh_token_lifetime: int = 1800  # today's generation: Keycloak's refresh_expires_in
    signed_url_lifetime: int = 900  # seconds a signed download URL stays valid
    initial_credits: int = 100_000
    max_concurrent_jobs: int = 3
    asset_size_mb: float = 0.0  # > 0 pads every order asset archive to about this size (benchmarks)
    # What signed downloads announce in x-goog-hash. GCS sends both for a plain object and only
    # crc32c for a composite one; ("md5",) imitates a server without CRC32C.
    download_hashes: tuple[str, ...] = ("crc32c", "md5")
    data_dir: Path | None = None  # generated files; a temporary directory when None
    faults: FaultConfig = field(default_factory=FaultConfig)

    @property
    def workspace_id(self) -> str:
        """The project's workspace, derived from the project id so it is stable across restarts."""
        return str(uuid.uuid5(uuid.UUID(self.project_id), "workspace"))

    @property
    def account_id(self) -> str:
        return str(uuid.uuid5(uuid.UUID(self.project_id), "account"))

    def __post_init__(self) -> None:
        if not self.account_username or not self.account_password:
            raise ValueError("account_username and account_password must not be empty")
        unknown = set(self.download_hashes) - {"crc32c", "md5"}
        if unknown or not self.download_hashes:
            raise ValueError(f"download_hashes must name crc32c and/or md5, got {list(self.download_hashes)}")

    def airflow_connection(self, url: str, generation: str = "2023", **extra: Any) -> dict[str, Any]:
        """An Airflow connection to an emulator at ``url`` (``AIRFLOW_CONN_UP42_DEFAULT`` as JSON).

        2023: login = project id, password = project API key. ``current``: login = the account's
        e-mail, password = its password, ``extra.api_generation = "current"``.
        """
        if generation == "current":
            login, password = self.account_username, self.account_password
            extra = {"api_generation": "current", **extra}
        elif generation == "2023":
            login, password = self.project_id, self.project_api_key
        else:
            raise ValueError(f"generation must be '2023' or 'current', got {generation!r}")
        return {"conn_type": "up42", "host": url, "login": login, "password": password, "extra": extra}

    def with_faults(self, **kwargs: float) -> EmulatorConfig:
        return replace(self, faults=replace(self.faults, **kwargs))

    def duration(self, nominal_seconds: float) -> float:
        """Real seconds for a simulated duration, scaled by ``speed``."""
        return nominal_seconds / self.speed
