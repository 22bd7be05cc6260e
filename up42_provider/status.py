"""The one status vocabulary of UP42 jobs and orders (API.md §7.1, §7.4), shared by hook, operators,
sensors and triggers so that "done", "failed" and "still running" mean the same thing everywhere.

Unknown status strings are classified as running (the service may add intermediate values), and
callers bound their waits with a time-out instead of trusting that every value is known.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

Outcome = Literal["success", "failure", "running"]


class JobStatus(str, Enum):
    """Job (and job-task) status values of E48/E53."""

    NOT_STARTED = "NOT STARTED"  # the SDK spelling, with a space
    NOT_STARTED_UNDERSCORE = "NOT_STARTED"  # alias the service may use (API.md §13.2)
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
    """Order status values of E25, including the later-SDK values and tasking sub-statuses."""

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
    """ "success", "failure" or "running" (unknown and missing values count as running)."""
    value = _normalise(status)
    if value in JOB_TERMINAL_SUCCESS:
        return "success"
    if value in JOB_TERMINAL_FAILURE:
        return "failure"
    return "running"


def classify_order_status(status: object) -> Outcome:
    """ "success", "failure" or "running" (unknown and missing values count as running)."""
    value = _normalise(status)
    if value in ORDER_TERMINAL_SUCCESS:
        return "success"
    if value in ORDER_TERMINAL_FAILURE:
        return "failure"
    return "running"


def is_job_terminal(status: object) -> bool:
    return classify_job_status(status) != "running"


def is_order_terminal(status: object) -> bool:
    return classify_order_status(status) != "running"
