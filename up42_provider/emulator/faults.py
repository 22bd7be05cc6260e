"""Fault injection: seeded random faults from ``FaultConfig`` plus targeted one-shot rules.

Rules (set through ``POST /_emulator/faults`` or :meth:`FaultInjector.add_rule`) make a test
deterministic: "the next POST to .../orders loses its response" fires exactly once.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, replace
from typing import Literal

from up42_provider.emulator.config import FaultConfig

FaultKind = Literal[
    "error", "rate_limit", "slow", "drop", "token_expiry", "lost_response", "late", "late_504"
]
KINDS: tuple[FaultKind, ...] = (
    "error",
    "rate_limit",
    "slow",
    "drop",
    "token_expiry",
    "lost_response",
    "late",
    "late_504",
)

# Calls that create something (both generations): the only ones the "lost_response", "late" and
# "late_504" faults apply to (the work is done although the client never sees the answer).
CREATING_CALLS = re.compile(
    r"^/(workspaces/[^/]+/orders|workspaces/[^/]+/webhooks|projects/[^/]+/workflows|"
    r"projects/[^/]+/workflows/[^/]+/jobs|v2/orders|v2/processing/processes/[^/]+/execution)/?$"
)

_RATE_FIELD = {
    "error": "error_rate",
    "rate_limit": "rate_limit_rate",
    "slow": "slow_rate",
    "drop": "drop_rate",
    "token_expiry": "token_expiry_rate",
    "lost_response": "lost_response_rate",
    "late": "late_rate",
    "late_504": "late_504_rate",
}


@dataclass
class FaultRule:
    kind: FaultKind
    count: int = 1
    method: str | None = None
    path: re.Pattern[str] | None = None
    skip: int = 0  # let this many matching requests pass first ("the second POST is slow")

    def matches(self, kind: str, method: str, path: str) -> bool:
        return (
            self.count > 0
            and self.kind == kind
            and (self.method is None or self.method == method)
            and (self.path is None or bool(self.path.search(path)))
        )

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "count": self.count,
            "method": self.method,
            "path": self.path.pattern if self.path else None,
            "skip": self.skip,
        }


class FaultInjector:
    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(f"faults:{seed}")
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self.fired: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.late_in_flight = 0  # "late"/"late_504" creations still being worked on

    def configure(self, **rates: float) -> None:
        self.config = replace(self.config, **rates)

    def add_rule(
        self,
        kind: FaultKind,
        count: int = 1,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        with self._lock:
            self._rules.append(
                FaultRule(
                    kind,
                    count,
                    method.upper() if method else None,
                    re.compile(path) if path else None,
                    int(skip),
                )
            )

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.config = FaultConfig()

    def rules(self) -> list[dict]:
        with self._lock:
            return [r.as_dict() for r in self._rules if r.count > 0]

    def error_status(self) -> int:
        """Which 5xx an injected server error answers with (own generator: ids stay reproducible)."""
        with self._lock:
            return self._rng.choice((500, 502, 503))

    def draw(self, kind: FaultKind, method: str, path: str) -> bool:
        """Whether fault ``kind`` fires for this request (a matching rule first, then the rate)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(kind, method, path):
                    if rule.skip > 0:
                        rule.skip -= 1
                        continue
                    rule.count -= 1
                    self.fired[kind] += 1
                    return True
            rate = getattr(self.config, _RATE_FIELD[kind])
            if rate > 0 and self._rng.random() < rate:
                self.fired[kind] += 1
                return True
        return False
