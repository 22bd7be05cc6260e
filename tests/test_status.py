"""The shared status vocabulary (API.md §7.1, §7.4)."""

from __future__ import annotations

import pytest

from up42_provider import status as S


def test_job_sets_cover_every_value_once():
    values = {s.value for s in S.JobStatus}
    assert values == S.JOB_TERMINAL_SUCCESS | S.JOB_TERMINAL_FAILURE | S.JOB_IN_PROGRESS
    assert not S.JOB_TERMINAL_SUCCESS & S.JOB_TERMINAL_FAILURE
    assert not S.JOB_TERMINAL & S.JOB_IN_PROGRESS
    assert {"NOT STARTED", "NOT_STARTED"} <= S.JOB_IN_PROGRESS


def test_order_sets_cover_every_value_once():
    values = {s.value for s in S.OrderStatus}
    assert values == S.ORDER_TERMINAL_SUCCESS | S.ORDER_TERMINAL_FAILURE | S.ORDER_IN_PROGRESS
    assert not S.ORDER_TERMINAL & S.ORDER_IN_PROGRESS
    assert S.ORDER_WAITING_FOR_DECISION <= S.ORDER_IN_PROGRESS
    assert "PLACEMENT_FAILED" in S.ORDER_TERMINAL_FAILURE  # would poll forever in up42-py


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        ("SUCCEEDED", "success"),
        (S.JobStatus.SUCCEEDED, "success"),
        ("FAILED", "failure"),
        ("ERROR", "failure"),
        ("CANCELLING", "failure"),
        ("CANCELLED", "failure"),
        ("NOT STARTED", "running"),
        ("NOT_STARTED", "running"),
        ("running", "running"),
        ("SUCCESSFULL", "running"),  # unknown values keep polling
        (None, "running"),
    ],
)
def test_classify_job_status(value, outcome):
    assert S.classify_job_status(value) == outcome
    assert S.is_job_terminal(value) is (outcome != "running")


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        ("FULFILLED", "success"),
        ("FAILED", "failure"),
        ("FAILED_PERMANENTLY", "failure"),
        ("DOWNLOAD_FAILED", "failure"),
        ("PLACED", "running"),
        ("BEING_FULFILLED", "running"),
        ("QUOTATION_WAITING_RESPONSE", "running"),
        (" fulfilled ", "success"),
        ("SOMETHING_NEW", "running"),
    ],
)
def test_classify_order_status(value, outcome):
    assert S.classify_order_status(value) == outcome
    assert S.is_order_terminal(value) is (outcome != "running")


def test_enums_are_strings():
    assert S.JobStatus.NOT_STARTED == "NOT STARTED"
    assert str(S.OrderStatus.FULFILLED) == "FULFILLED"
    assert S.JobStatus("RUNNING") is S.JobStatus.RUNNING


def test_classify_status_follows_the_vocabulary_of_its_kind():
    assert S.classify_status("order", "FULFILLED") == "success"
    assert S.classify_status("job", "FULFILLED") == "running"  # not a job status
    assert S.classify_status("job", "successful") == "success"
    assert S.classify_status("order", "successful") == "running"  # not an order status
