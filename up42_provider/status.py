"""The one status vocabulary of UP42 jobs and orders, shared by hook, operators,
sensors and triggers so that "done", "failed" and "still running" mean the same thing everywhere.

Unknown status strings are classified as running (the service may add intermediate values), and
callers bound their waits with a time-out instead of trusting that every value is known.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

Outcome = Literal["success", "failure", "running"]


class JobStatus(str, Enum):
    """Job (and job-task) status values of ``V1.get_job`` and ``V1.get_job_tasks``."""

    NOT_STARTED = "NOT STARTED"  # the SDK spelling, with a space
    NOT_STARTED_UNDERSCORE = "NOT_STARTED"  # alias the service may use
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ERROR = "ERROR"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    def __str__(self) -> str:
        return self.value


class OrderStatus(str, Enum):
    """Order status values of ``V1.get_order``, including the later-SDK values and tasking sub-statuses."""

    CREATED = "CREATED"
    BEING_PLACED = "BEING_PLACED"
    PLACED = "PLACED"
    BEING_FULFILLED = "BEING_FULFILLED"
    DOWNLOADED = "DOWNLOADED"
    FULFILLED = "FULFILLED"
    FAILED = "FAILED"
    FAILED_PERMANENTLY = "FAILED_PERMANENTLY"
    PLACEMENT_FAILED = "PLACEMENT_FAILED"
    DELIVERY_INITIALIZATION_FAILED = "DELIVERY_INITIALIZATION_FAILED"
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    # Tasking sub-statuses: the order waits for a feasibility or quotation decision.
    FEASIBILITY_WAITING_UPLOAD = "FEASIBILITY_WAITING_UPLOAD"
    FEASIBILITY_WAITING_RESPONSE = "FEASIBILITY_WAITING_RESPONSE"
    QUOTATION_WAITING_UPLOAD = "QUOTATION_WAITING_UPLOAD"
    QUOTATION_WAITING_RESPONSE = "QUOTATION_WAITING_RESPONSE"
    QUOTATION_ACCEPTED = "QUOTATION_ACCEPTED"

    def __str__(self) -> str:
        return self.value


JOB_TERMINAL_SUCCESS: frozenset[str] = frozenset({JobStatus.SUCCEEDED.value})
# CANCELLING is treated as terminal, as the SDK does: the job will not produce results any more.
JOB_TERMINAL_FAILURE: frozenset[str] = frozenset(
    {JobStatus.FAILED.value, JobStatus.ERROR.value, JobStatus.CANCELLING.value, JobStatus.CANCELLED.value}
)
JOB_IN_PROGRESS: frozenset[str] = frozenset(
    {
        JobStatus.NOT_STARTED.value,
        JobStatus.NOT_STARTED_UNDERSCORE.value,
        JobStatus.PENDING.value,
        JobStatus.RUNNING.value,
    }
)
JOB_TERMINAL: frozenset[str] = JOB_TERMINAL_SUCCESS | JOB_TERMINAL_FAILURE

ORDER_TERMINAL_SUCCESS: frozenset[str] = frozenset({OrderStatus.FULFILLED.value})
ORDER_TERMINAL_FAILURE: frozenset[str] = frozenset(
    {
        OrderStatus.FAILED.value,
        OrderStatus.FAILED_PERMANENTLY.value,
        OrderStatus.PLACEMENT_FAILED.value,
        OrderStatus.DELIVERY_INITIALIZATION_FAILED.value,
        OrderStatus.DOWNLOAD_FAILED.value,
    }
)
ORDER_IN_PROGRESS: frozenset[str] = frozenset(
    s.value for s in OrderStatus if s.value not in ORDER_TERMINAL_SUCCESS | ORDER_TERMINAL_FAILURE
)
ORDER_TERMINAL: frozenset[str] = ORDER_TERMINAL_SUCCESS | ORDER_TERMINAL_FAILURE
# Tasking orders pause here until the user decides a feasibility study or a quotation.
ORDER_WAITING_FOR_DECISION: frozenset[str] = frozenset(
    {OrderStatus.FEASIBILITY_WAITING_RESPONSE.value, OrderStatus.QUOTATION_WAITING_RESPONSE.value}
)


def _normalise(status: object) -> str:
    return str(status.value if isinstance(status, Enum) else status or "").strip().upper()


def classify_job_status(status: object) -> Outcome:
    """ "success", "failure" or "running" (unknown and missing values count as running).

    Both generations: 2023 job statuses are upper case, today's processing statuses lower case
    (``successful``, ``failed`` ...); the two vocabularies share no value with another meaning, so
    waiters, sensors and triggers classify a status without knowing its generation.
    """
    raw = str(status.value if isinstance(status, Enum) else status or "").strip()
    if raw in CURRENT_JOB_TERMINAL_SUCCESS:
        return "success"
    if raw in CURRENT_JOB_TERMINAL_FAILURE:
        return "failure"
    value = raw.upper()
    if value in JOB_TERMINAL_SUCCESS:
        return "success"
    if value in JOB_TERMINAL_FAILURE:
        return "failure"
    return "running"


def classify_order_status(status: object) -> Outcome:
    """ "success", "failure" or "running" (unknown and missing values count as running).

    Both generations: orders v2 add ``CANCELED`` (one L) to the 2023 values, nothing else differs.
    """
    value = _normalise(status)
    if value in ORDER_TERMINAL_SUCCESS:
        return "success"
    if value in ORDER_TERMINAL_FAILURE or value in CURRENT_ORDER_TERMINAL_FAILURE:
        return "failure"
    return "running"


def classify_status(kind: str, status: object) -> Outcome:
    """:func:`classify_order_status` or :func:`classify_job_status`, by ``kind`` ("order"/"job")."""
    return classify_order_status(status) if kind == "order" else classify_job_status(status)


def is_job_terminal(status: object) -> bool:
    return classify_job_status(status) != "running"


def is_order_terminal(status: object) -> bool:
    return classify_order_status(status) != "running"


# ------------------------------------------------------------------------ today's generation
# Orders v2 keep upper-case values and spell CANCELED with one L; processing jobs are lower case.

CURRENT_ORDER_TERMINAL_SUCCESS: frozenset[str] = frozenset({"FULFILLED"})
# PLACEMENT_FAILED: up42-py 4.3.0 keeps polling, but nothing moves such an order on except a
# cancellation, so a wait treats it as failed rather than running into its deadline.
CURRENT_ORDER_TERMINAL_FAILURE: frozenset[str] = frozenset(
    {
        "FAILED_PERMANENTLY",
        "PLACEMENT_FAILED",
        "CANCELED",
        "FAILED",
        "DELIVERY_INITIALIZATION_FAILED",
        "DOWNLOAD_FAILED",
    }
)
CURRENT_ORDER_IN_PROGRESS: frozenset[str] = frozenset(
    {"CREATED", "BEING_PLACED", "PLACED", "BEING_FULFILLED", "DOWNLOADED"}
)
CURRENT_JOB_TERMINAL_SUCCESS: frozenset[str] = frozenset({"successful", "captured"})
# "failed" is final for us too: the SDK waits for "released", which only frees the credits.
CURRENT_JOB_TERMINAL_FAILURE: frozenset[str] = frozenset(
    {"failed", "released", "invalid", "rejected", "unlicensed"}
)
CURRENT_JOB_IN_PROGRESS: frozenset[str] = frozenset({"created", "licensed", "valid", "accepted", "running"})

StatusVerdict = tuple[str, bool, bool, str | None]


def _verdict(
    value: str, success: frozenset[str], failure: frozenset[str], reason: str | None
) -> StatusVerdict:
    if value in success:
        return value, True, False, None
    if value in failure:
        return value, True, True, reason or f"status {value}"
    return value, False, False, None


def order_verdict(status: object, generation: str, reason: str | None = None) -> StatusVerdict:
    """``(status, terminal, failed, reason)`` of an order status in ``generation`` ("2023"/"current")."""
    value = _normalise(status)
    if generation == "current":
        return _verdict(value, CURRENT_ORDER_TERMINAL_SUCCESS, CURRENT_ORDER_TERMINAL_FAILURE, reason)
    return _verdict(value, ORDER_TERMINAL_SUCCESS, ORDER_TERMINAL_FAILURE, reason)


def job_verdict(status: object, generation: str, reason: str | None = None) -> StatusVerdict:
    """``(status, terminal, failed, reason)`` of a job status (today's statuses are lower case)."""
    if generation == "current":
        value = str(status.value if isinstance(status, Enum) else status or "").strip().lower()
        return _verdict(value, CURRENT_JOB_TERMINAL_SUCCESS, CURRENT_JOB_TERMINAL_FAILURE, reason)
    value = _normalise(status)
    return _verdict(value, JOB_TERMINAL_SUCCESS, JOB_TERMINAL_FAILURE, reason)
