"""The one retry policy of every UP42 call, sync (``Retrying``) and async (``AsyncRetrying``).

Like the Databricks provider's ``_get_retry_object``/``_a_get_retry_object``: a single set of
tenacity arguments feeds both twins, so sync and async calls behave identically:

* retried: 429 (waiting ``Retry-After`` when given), 5xx, connection errors and time-outs, in both
  generations and for every method (today's up42-py leaves a 429 to urllib3, which retries only a
  GET/PUT/DELETE carrying ``Retry-After``; pystac-client calls go through this policy too, see
  ``hooks._stac_io``);
* waits: exponential back-off with full jitter (``backoff_initial`` x 2^n, at most ``backoff_max``);
* bounded by ``max_attempts`` and by ``max_retry_wait`` seconds in total: a wait that would end
  past the budget is not started, the last error is raised instead;
* creating calls (``Endpoint.creates``) are re-sent only when UP42 surely never saw the request
  (connect failure, 429, failure of the token call before it): after a time-out, a broken answer
  or a 5xx the error propagates, so the caller can look up what exists before creating again.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception

from up42_provider.api.errors import UP42Error, UP42RateLimitedError, UP42ServerError, UP42TransportError
from up42_provider.api.settings import ClientSettings

log = logging.getLogger("up42_provider.api")

# Set on an exception raised before the request itself was sent (e.g. by the token call).
BEFORE_SEND = "_up42_before_send"


def is_retryable(exc: BaseException, *, creates: bool) -> bool:
    """Whether the policy may send the request again after ``exc``."""
    if not isinstance(exc, UP42Error):
        return False
    strict = creates and not getattr(exc, BEFORE_SEND, False)
    if isinstance(exc, UP42TransportError):
        return exc.retryable and not (strict and exc.maybe_sent)
    if isinstance(exc, UP42RateLimitedError):
        return True  # a 429 is answered before any work is done
    if isinstance(exc, UP42ServerError):
        return not strict
    return False


class _Wait:
    """Retry-After when the server gave one, else exponential back-off with full jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return hint + random.uniform(0, min(1.0, hint * 0.1))
        ceiling = min(self.maximum, self.initial * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)


class _Stop:
    """Stop at ``max_attempts`` or when the coming wait would end past ``max_retry_wait``."""

    def __init__(self, max_attempts: int, budget: float) -> None:
        self.max_attempts = max_attempts
        self.budget = budget

    def __call__(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        elapsed = state.seconds_since_start or 0.0
        return elapsed + getattr(state, "upcoming_sleep", 0.0) > self.budget


def _before_sleep(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "%s; retry %d in %.2f s",
        exc,
        state.attempt_number,
        getattr(state, "upcoming_sleep", 0.0) or (state.next_action.sleep if state.next_action else 0.0),
    )


def retry_kwargs(settings: ClientSettings, *, creates: bool) -> dict[str, Any]:
    """The tenacity arguments shared by :func:`retrying` and :func:`aretrying`."""
    return {
        "stop": _Stop(settings.max_attempts, settings.max_retry_wait),
        "wait": _Wait(settings.backoff_initial, settings.backoff_max),
        "retry": retry_if_exception(lambda exc: is_retryable(exc, creates=creates)),
        "before_sleep": _before_sleep,
        "reraise": True,
    }


def retrying(settings: ClientSettings, *, creates: bool = False) -> Retrying:
    return Retrying(**retry_kwargs(settings, creates=creates))


def aretrying(settings: ClientSettings, *, creates: bool = False) -> AsyncRetrying:
    return AsyncRetrying(**retry_kwargs(settings, creates=creates))
