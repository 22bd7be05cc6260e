"""The account: credentials and tokens of both generations, project and settings, credits, budgets.

Records and stores only (no Starlette): ``responses`` (2023) and ``responses_current`` (today)
are the wire layers over them.

Behaviour where the API documents are silent (our assumptions):

* The 2023 credentials are scoped to one project, so any other ``{project_id}`` is somebody
  else's project: **403** (``"Access to project <id> is forbidden"``), not 404. The same rule
  applies to other workspaces in the webhook routes.
* Project settings are validated all-or-nothing, accept integer strings or JSON integers, allow
  partial updates, reject unknown names (also the fixture-only ``MAX_AOI_SIZE``) with 400, and
  the update answers **201** with the full settings list.
* The credits history ``size`` defaults to 20 (Spring's default) and is silently capped at 2000;
  ``from``/``to`` are inclusive; records are newest first. At start the history is seeded with a
  deterministic (per seed) record of past consumption over the last ~5 months, preceded by one
  ``ALLOCATION`` record so that the deltas of the whole history add up to the starting balance.
* One account under both generations: the 2023 project and today's e-mail/password sign-in
  reach the same workspace (``config.workspace_id``, today's ``sub``), the same credits and
  the same orders. Tokens of either generation are accepted on every API endpoint (the 2023
  SDK itself calls ``/v2/`` paths); only ``userinfo`` insists on a token of today's sign-in.
* Budgets: spending counts against a budget when it is recorded with ``details["budgetId"]``
  (``Credits.charge``/``refund``), so a budget's consumption is derived from the one credits
  history and never drifts from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from up42_provider.emulator.clock import iso
from up42_provider.emulator.http import ApiError, bad_request

if TYPE_CHECKING:
    from up42_provider.emulator.state import EmulatorState

GENERATION_2023 = "2023"
GENERATION_CURRENT = "current"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tokens:
    """Issues JWT-shaped HS256 tokens of both generations and checks them.

    A 2023 token is the project's client-credentials token; a token of today's generation is a
    Keycloak-like access token (``sub`` = workspace id) with a refresh token beside it.
    """

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._key = hashlib.sha256(f"tokens:{state.config.seed}:{secrets.token_hex(8)}".encode()).digest()
        self._revoked: set[str] = set()
        # Every token handed out, in order: lets a run scan its logs for exactly these secrets.
        self.issued: list[str] = []

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "HS256", "typ": "JWT"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = _b64(hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest())
        return f"{signing_input}.{signature}"

    def issue(self) -> tuple[str, int]:
        """A 2023 project token and its lifetime in seconds."""
        lifetime = self._state.config.token_lifetime
        now = int(self._state.clock.now().timestamp())
        cfg = self._state.config
        claims = {
            "iss": "up42-emulator",
            "sub": cfg.project_id,
            "client_id": cfg.project_id,
            "project_id": cfg.project_id,
            "workspace_id": cfg.workspace_id,
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_hex(8),
        }
        token = self._sign(claims)
        self.issued.append(token)
        return token, lifetime

    def issue_current(self, client_id: str) -> dict[str, Any]:
        """Today's password-grant answer (Keycloak's token response)."""
        cfg = self._state.config
        now = int(self._state.clock.now().timestamp())
        session = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
        common = {
            "iss": "up42-emulator/realms/public",
            "sub": cfg.workspace_id,
            "azp": client_id,
            "sid": session,
            "iat": now,
            "gen": GENERATION_CURRENT,
        }
        access = {
            **common,
            "typ": "Bearer",
            "exp": now + cfg.token_lifetime,
            "jti": secrets.token_hex(8),
            "email": cfg.account_username,
            "preferred_username": cfg.account_username,
            "scope": "openid email profile",
        }
        refresh = {
            **common,
            "typ": "Refresh",
            "exp": now + cfg.refresh_token_lifetime,
            "jti": secrets.token_hex(8),
        }
        access_token, refresh_token = self._sign(access), self._sign(refresh)
        self.issued += [access_token, refresh_token]
        return {
            "access_token": access_token,
            "expires_in": cfg.token_lifetime,
            "refresh_expires_in": cfg.refresh_token_lifetime,
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": session,
            "scope": "openid email profile",
        }

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of a token this emulator signed; 401 if malformed, forged, revoked or expired."""
        parts = token.split(".")
        if len(parts) != 3:
            raise ApiError(401, "Invalid token")
        signing_input = f"{parts[0]}.{parts[1]}"
        expected = _b64(hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]) or token in self._revoked:
            raise ApiError(401, "Invalid token")
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, binascii.Error):
            raise ApiError(401, "Invalid token") from None
        if not isinstance(claims, dict):
            raise ApiError(401, "Invalid token")
        if claims.get("exp", 0) <= self._state.clock.now().timestamp():
            raise ApiError(401, "Token has expired")
        return claims

    def check(self, token: str) -> str:
        """The generation of a valid access token (``2023`` or ``current``); raises 401."""
        claims = self.claims(token)
        if claims.get("typ") == "Refresh":
            raise ApiError(401, "Invalid token")
        return str(claims.get("gen", GENERATION_2023))

    def revoke_all_before(self, when: float | None = None) -> None:
        """Expire every token issued so far (the 'forced token expiry' control)."""
        self._key = hashlib.sha256(self._key + str(when or time.time()).encode()).digest()


class Credits:
    """The account's credit balance and its history (one balance under both generations)."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.balance: int = state.config.initial_credits
        # Past records go before anything recorded through charge (chronological list).
        self.history: list[dict[str, Any]] = seed_history(state)

    def require(self, amount: int) -> None:
        """Refuse before anything is created when the balance cannot cover ``amount``."""
        if amount > self.balance:
            raise ApiError(
                402,
                f"Insufficient credits: {amount} required, {self.balance} available",
                title="Insufficient credits",
            )

    def charge(self, amount: int, kind: str, description: str, details: dict[str, Any] | None = None) -> None:
        """Spend ``amount`` credits and record it (``kind``: JOB_TASK, ORDER, ...).

        ``details["budgetId"]`` books the spending against that budget as well.
        """
        self.require(amount)
        self._record(-amount, kind, description, details, {"id": self._state.user_id, "type": "USER"})

    def refund(self, amount: int, kind: str, description: str, details: dict[str, Any] | None = None) -> None:
        """Give ``amount`` credits back (a failed order), recorded as a positive delta by the system."""
        if amount > 0:
            self._record(amount, kind, description, details, {"id": "system", "type": "INTERNAL"})

    def _record(
        self, delta: int, kind: str, description: str, details: dict[str, Any] | None, by: dict[str, str]
    ) -> None:
        self.balance += delta
        self.history.append(
            {
                "createdAt": iso(self._state.clock.now()),
                "createdBy": by,
                "delta": delta,
                "type": kind,
                "details": {"allocation": "None", "description": description, **(details or {})},
            }
        )

    def consumed(self, budget_id: str) -> int:
        """Credits spent (net of refunds) against ``budget_id`` since the emulator started."""
        total = 0
        for record in self.history:
            if (record.get("details") or {}).get("budgetId") == budget_id:
                total -= int(record["delta"])
        return total

    def advance(self, now: datetime) -> None:
        """Credits change only through charges and refunds."""


# name -> (minimum, maximum): the documented ranges of the 2023 project settings.
SETTING_RANGES: dict[str, tuple[int, int]] = {
    "JOB_QUERY_MAX_AOI_SIZE": (1, 1000),
    "MAX_CONCURRENT_JOBS": (1, 10),
    "JOB_QUERY_LIMIT_PARAMETER_MAX_VALUE": (1, 20),
}

HISTORY_MAX_PAGE_SIZE = 2000
HISTORY_DEFAULT_PAGE_SIZE = 20


def check_project(state: EmulatorState, project_id: str) -> None:
    """Refuse project ids other than the authenticated project (403, see module docstring)."""
    if project_id != state.config.project_id:
        raise ApiError(403, f"Access to project {project_id} is forbidden", title="Forbidden")


def settings_list(state: EmulatorState) -> list[dict[str, str]]:
    with state.lock:
        return [{"name": name, "value": value} for name, value in state.settings.items()]


def validate_settings(body: Any) -> dict[str, str]:
    """The normalised (integer string) settings of an ``account.responses.post_settings`` body; raises 400
    naming the bad setting."""
    if not isinstance(body, dict) or not isinstance(body.get("settings"), dict):
        raise bad_request("Request body must be an object with a 'settings' object")
    result: dict[str, str] = {}
    for name, raw in body["settings"].items():
        if name not in SETTING_RANGES:
            known = ", ".join(SETTING_RANGES)
            raise bad_request(f"Unknown project setting '{name}' (known: {known})")
        low, high = SETTING_RANGES[name]
        try:
            if isinstance(raw, bool) or not isinstance(raw, (int, str)):
                raise ValueError
            value = int(str(raw).strip())
        except ValueError:
            raise bad_request(f"Setting '{name}' must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise bad_request(f"Setting '{name}' must be between {low} and {high}, got {value}")
        result[name] = str(value)
    return result


# -- seeded credit history ----------------------------------------------------------------------

# (block name, display name, version, machine, credits per km²)
_DATA_BLOCKS = (
    ("oneatlas-pleiades-fullscene", "Pléiades Reflectance (Download)", "2.5.7", "SMALL", 1000),
    ("oneatlas-spot-fullscene", "SPOT 6/7 Reflectance (Download)", "2.4.2", "SMALL", 250),
    ("esa-s2-l2a-gtiff-visual", "Sentinel-2 L2A Visual (GeoTIFF)", "1.0.1", "SMALL", 0),
    ("esa-s2-l2a-gtiff-analytic", "Sentinel-2 L2A Analytic (GeoTIFF)", "1.1.0", "SMALL", 0),
)
_PROCESSING_BLOCKS = (
    ("tiling", "Raster Tiling", "2.2.3", "MEDIUM", 0),
    ("up42-waterfinder-flood", "Flood Finder Pléiades/SPOT", "1.0.1", "LARGE", 50),
    ("ndvi", "NDVI", "2.1.0", "SMALL", 2),
    ("pansharpen", "Pan-sharpening SPOT/Pléiades", "2.3.1", "MEDIUM", 20),
)
_WORKFLOW_NAMES = ("Flood Mapping Elbe", "Field NDVI monitoring", "Port activity tiles", "Coastline change")
_ARCHIVE_PRODUCTS = (
    ("Pléiades Display (Archive)", "OneAtlas", 30),
    ("SPOT Display (Archive)", "OneAtlas", 8),
    ("Pléiades Neo (Archive)", "OneAtlas", 70),
)


def _block_id(name: str) -> str:
    """The block's id as the blocks catalog knows it, or a stable made-up one."""
    try:
        from up42_provider.emulator.blocks.models import find_block
    except ImportError:
        block = None
    else:
        block = find_block(name)
    if isinstance(block, dict) and block.get("id"):
        return str(block["id"])
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"up42-emulator/block/{name}"))


def seed_history(state: EmulatorState, jobs: int = 10, orders: int = 8) -> list[dict[str, Any]]:
    """Deterministic past consumption (oldest first) for the seed, ending before ``state.started_at``.

    Uses its own generator so that other modules' ids do not depend on this history.
    """
    rng = random.Random(f"credits-history:{state.config.seed}")
    cfg = state.config

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    created_by = {"id": state.user_id, "type": "USER"}
    common = {
        "accountId": cfg.account_id,
        "projectId": cfg.project_id,
        "projectName": state.project["name"],
        "userId": state.user_id,
        "workspaceId": cfg.workspace_id,
    }
    events: list[tuple[datetime, int, str, dict[str, Any]]] = []
    end = state.started_at - timedelta(hours=2)
    for _ in range(jobs):
        when = end - timedelta(days=rng.uniform(1, 150), seconds=rng.uniform(0, 86400))
        job_id, workflow_id = uid(), uid()
        base = {
            **common,
            "jobId": job_id,
            "jobName": job_id[:8],
            "workflowId": workflow_id,
            "workflowName": rng.choice(_WORKFLOW_NAMES),
        }
        area_m2 = rng.randint(800_000, 12_000_000)
        for block in (rng.choice(_DATA_BLOCKS), rng.choice(_PROCESSING_BLOCKS)):
            name, display, version, machine, per_km2 = block
            task_id = uid()
            task = {
                **base,
                "blockDisplayName": display,
                "blockId": _block_id(name),
                "blockName": name,
                "blockVersion": version,
                "jobTaskId": task_id,
                "machineName": machine,
            }
            duration_ms = rng.randint(20, 600) * 1000
            when += timedelta(seconds=rng.uniform(20, 90))
            usage = round(per_km2 * area_m2 / 1_000_000)
            events.append((when, usage, task_id, {**task, "quantity": area_m2, "unit": "SQUARE_METERS"}))
            when += timedelta(milliseconds=duration_ms)
            machine_info = {"cpu": 2000, "duration": duration_ms, "memory": 10737418240}
            events.append((when, 1, task_id, {**task, **machine_info}))
    for _ in range(orders):
        when = end - timedelta(days=rng.uniform(1, 150), seconds=rng.uniform(0, 86400))
        product, provider, per_km2 = rng.choice(_ARCHIVE_PRODUCTS)
        area_km2 = round(rng.uniform(25, 120), 2)
        order_id = uid()
        consumption = {
            **common,
            "orderId": order_id,
            "dataProductName": product,
            "dataProvider": provider,
            "quantity": area_km2,
            "unit": "SQUARE_KILOMETERS",
        }
        events.append((when, round(per_km2 * area_km2), order_id, {**consumption, "type": "ORDER"}))
    events.sort(key=lambda e: e[0])

    records: list[dict[str, Any]] = []
    for when, credits, ref_id, consumption in events:
        kind = consumption.pop("type", "JOB_TASK")
        text = f"Consumption for order {ref_id}" if kind == "ORDER" else f"Consumption for {ref_id}"
        stamp = iso(when)
        records.append(
            {
                "createdAt": stamp,
                "createdBy": created_by,
                "delta": -credits,
                "type": kind,
                "details": {
                    "allocation": "None",
                    "consumption": {**consumption, "createdAt": stamp, "creditsUsed": credits, "id": uid()},
                    "description": text,
                    "id": ref_id,
                },
            }
        )
    spent = -sum(r["delta"] for r in records)
    first = events[0][0] if events else end
    allocated = first - timedelta(days=rng.uniform(3, 20))
    allocation_id = uid()
    allocation = {
        "createdAt": iso(allocated),
        "createdBy": {"id": "system", "type": "INTERNAL"},
        "delta": cfg.initial_credits + spent,
        "type": "ALLOCATION",
        "details": {
            "allocation": allocation_id,
            "description": "Credits allocated to account",
            "id": allocation_id,
        },
    }
    return [allocation, *records]


# -- budgets (today's generation) ----------------------------------------------------------------
BUDGET_STATUSES = ("ACTIVE", "INACTIVE")


@dataclass
class Budget:
    id: str
    name: str
    description: str
    external_id: str | None
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    spend_limit: int
    start: date
    end: date
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self, consumed: int | None) -> dict[str, Any]:
        """The budget object; the usage fields only when ``consumed`` is given (``includeUsage``)."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "externalId": self.external_id,
            "status": self.status,
            "createdBy": self.created_by,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "spendLimit": self.spend_limit,
            "validityPeriod": {"startDate": self.start.isoformat(), "endDate": self.end.isoformat()},
        }
        if consumed is not None:
            body["consumedCredits"] = consumed
            body["remainingCredits"] = max(0, self.spend_limit - consumed)
            body["usagePercentage"] = (
                round(100.0 * consumed / self.spend_limit, 2) if self.spend_limit else 0.0
            )
        return body


class BudgetStore:
    """The account's budgets: two seeded ones (an active and an inactive), enforcement on.

    Orders and processing jobs pass a ``budgetId``: :meth:`require` checks it before credits are
    spent, and the charge itself carries ``details["budgetId"]`` (see :class:`Credits`).
    """

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        ns = uuid.UUID(state.config.workspace_id)
        self.setting_id = str(uuid.uuid5(ns, "budget-settings"))
        self.enforcement_enabled = True
        today = state.started_at.date()
        created = state.started_at - timedelta(days=30)
        self.records: dict[str, Budget] = {}
        for name, status, limit, start, end, external in (
            (
                "Emulator imagery budget",
                "ACTIVE",
                50_000,
                date(today.year, 1, 1),
                date(today.year, 12, 31),
                "CC-42",
            ),
            (
                "Last year's pilot",
                "INACTIVE",
                5_000,
                date(today.year - 1, 1, 1),
                date(today.year - 1, 12, 31),
                None,
            ),
        ):
            budget_id = str(uuid.uuid5(ns, f"budget:{name}"))
            self.records[budget_id] = Budget(
                id=budget_id,
                name=name,
                description=f"{name} (seeded by the emulator)",
                external_id=external,
                status=status,
                created_by=state.user_id,
                created_at=created,
                updated_at=created + timedelta(days=1 if status == "ACTIVE" else 2),
                spend_limit=limit,
                start=start,
                end=end,
            )

    def get(self, budget_id: str) -> Budget:
        budget = self.records.get(str(budget_id))
        if budget is None:
            raise ApiError(404, f"Budget {budget_id} not found", title="Resource does not exist.")
        return budget

    def usage(self, budget_id: str) -> int:
        return self._state.credits.consumed(self.get(budget_id).id)

    def require(self, budget_id: str, amount: int) -> None:
        """Refuse spending ``amount`` on an unknown, inactive or (when enforced) exhausted budget."""
        budget = self.records.get(str(budget_id))
        if budget is None:
            raise bad_request(f"Budget '{budget_id}' does not exist: use an id from GET /v2/budgets")
        if budget.status != "ACTIVE":
            raise bad_request(f"Budget '{budget_id}' is {budget.status}: only ACTIVE budgets can be charged")
        remaining = budget.spend_limit - self.usage(budget.id)
        if self.enforcement_enabled and amount > remaining:
            raise ApiError(
                402,
                f"Budget '{budget.name}' has {remaining} credits left, {amount} required",
                title="Budget exceeded",
            )

    def advance(self, now: datetime) -> None:
        """Budgets have no time-driven transitions."""
