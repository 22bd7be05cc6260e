"""Client settings: everything a client needs, built by the hook from the Airflow connection."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from up42_provider.api.redact import redact_url

DEFAULT_BASE_URL = "https://api.up42.com"
GENERATIONS = ("2023", "current")
# Today's API and auth hosts per region (region "eu" is the default).
REGION_HOSTS: dict[str, tuple[str, str]] = {
    "eu": ("https://api.up42.com", "https://auth.up42.com"),
    "sa": ("https://api.sa.up42.com", "https://auth.sa.up42.com"),
}


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("airflow-provider-up42")
    except Exception:
        return "0"


USER_AGENT = f"airflow-provider-up42/{_package_version()}"


@dataclass(frozen=True)
class ClientSettings:
    """Connection and resilience settings of one UP42 client.

    ``timeout`` is (connect, read) seconds for every request (a single number means both).
    ``max_attempts`` and ``max_retry_wait`` bound the retries of one call: whichever is reached
    first stops them. ``token_margin`` is how long before ``expires_in`` a token is renewed.

    ``generation`` picks the credentials: "2023" uses ``project_id`` + ``api_key``, "current"
    uses the account ``username`` (e-mail) + ``password`` and logs in at ``auth_url`` (the
    Keycloak host; empty means the API host itself, as with the emulator).
    """

    base_url: str
    project_id: str = ""
    api_key: str = field(default="", repr=False)
    timeout: tuple[float, float] | float = (5.0, 60.0)
    max_attempts: int = 5
    max_retry_wait: float = 120.0
    verify: bool | str = True
    user_agent: str = USER_AGENT
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    token_margin: float = 30.0
    generation: str = "2023"
    username: str = ""
    password: str = field(default="", repr=False)
    auth_url: str = ""

    def __post_init__(self) -> None:
        base = (self.base_url or DEFAULT_BASE_URL).strip().rstrip("/")
        if "://" not in base:
            base = f"https://{base}"
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"UP42 base URL must look like https://api.up42.com, got {redact_url(self.base_url)!r}"
            )
        if parts.query or parts.fragment:
            raise ValueError("UP42 base URL must not carry a query string or fragment")
        object.__setattr__(self, "base_url", base)
        auth = (self.auth_url or base).strip().rstrip("/")
        auth_parts = urlsplit(auth)
        if auth_parts.scheme not in ("http", "https") or not auth_parts.netloc:
            raise ValueError(f"UP42 auth URL must look like https://auth.up42.com, got {redact_url(auth)!r}")
        object.__setattr__(self, "auth_url", auth)
        timeout = self.timeout
        if isinstance(timeout, int | float):
            timeout = (float(timeout), float(timeout))
        connect, read = (float(t) for t in timeout)
        if connect <= 0 or read <= 0:
            raise ValueError("timeouts must be positive numbers of seconds")
        object.__setattr__(self, "timeout", (connect, read))
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_retry_wait < 0:
            raise ValueError("max_retry_wait must not be negative")
        if self.generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {GENERATIONS}, got {self.generation!r}")
        if self.generation == "2023" and (not self.project_id or not self.api_key):
            raise ValueError("UP42 (2023 generation) needs a project id and a project API key")
        if self.generation == "current" and (not self.username or not self.password):
            raise ValueError("UP42 (current generation) needs the account e-mail and password")

    @property
    def connect_timeout(self) -> float:
        return self.timeout[0]  # type: ignore[index]

    @property
    def read_timeout(self) -> float:
        return self.timeout[1]  # type: ignore[index]

    @property
    def origin(self) -> tuple[str, str]:
        """(scheme, host[:port]) of the API: absolute links are followed only when they match."""
        parts = urlsplit(self.base_url)
        return parts.scheme, parts.netloc.lower()

    def with_changes(self, **changes: object) -> ClientSettings:
        return replace(self, **changes)  # type: ignore[arg-type]
