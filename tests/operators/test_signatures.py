"""Every UP42 operator and sensor names its own parameters: a misspelt one fails when the DAG is
parsed, naming the argument and what it most likely meant (operators/_common.py reject_typos)."""

from __future__ import annotations

import pytest

from up42_provider.operators.job import UP42RunJobOperator
from up42_provider.operators.order import UP42PlaceOrderOperator
from up42_provider.operators.parallel import UP42RunParallelJobsOperator
from up42_provider.operators.search import UP42SearchCatalogOperator
from up42_provider.sensors.job import UP42JobSucceededSensor
from up42_provider.sensors.order import UP42OrderFulfilledSensor

SEARCH = {
    "aoi": "Berlin",
    "collections": ["phr"],
    "acquisition_start": "2024-01-01",
    "acquisition_end": "2024-02-01",
}
CASES = [
    (
        UP42PlaceOrderOperator,
        {"data_product_id": "phr/Display", "image_ids": ["s"]},
        "max_credit",
        "max_credits",
    ),
    (UP42PlaceOrderOperator, {"data_product_id": "phr/Display"}, "feasability_option", "feasibility_option"),
    (UP42RunJobOperator, {"process_id": "upsampling-ns"}, "poll_intervall", "poll_interval"),
    (UP42RunParallelJobsOperator, {"process_id": "upsampling-ns"}, "max_failed_job", "max_failed_jobs"),
    (UP42SearchCatalogOperator, SEARCH, "max_cloud_covr", "max_cloud_cover"),
    (UP42OrderFulfilledSensor, {"order_ids": ["o"]}, "deferable", "deferrable"),
    (UP42JobSucceededSensor, {"job_ids": ["j"]}, "poke_intervall", "poke_interval"),
]


@pytest.mark.parametrize(("cls", "given", "typo", "meant"), CASES, ids=[c[2] for c in CASES])
def test_a_misspelt_parameter_is_named_with_its_likely_meaning(cls, given, typo, meant):
    with pytest.raises(
        TypeError, match=rf"{cls.__name__} got unknown argument\(s\) '{typo}' \(did you mean '{meant}'\?\)"
    ):
        cls(task_id="t", **given, **{typo: 1})


@pytest.mark.parametrize(("cls", "given", "typo", "meant"), CASES, ids=[c[2] for c in CASES])
def test_the_right_spelling_and_airflows_own_parameters_pass(cls, given, typo, meant):
    value = 1 if meant not in ("deferrable",) else True
    task = cls(task_id="t", retries=1, doc_md="x", **given, **{meant: value})
    assert getattr(task, meant) == value


@pytest.mark.parametrize(
    ("cls", "given", "typo", "meant"),
    [
        (UP42SearchCatalogOperator, {k: v for k, v in SEARCH.items() if k != "aoi"}, "aio", "aoi"),
        (UP42OrderFulfilledSensor, {}, "order_id", "order_ids"),
        (UP42JobSucceededSensor, {}, "jobs_ids", "job_ids"),
    ],
)
def test_a_misspelt_required_parameter_is_named_too(cls, given, typo, meant):
    with pytest.raises(TypeError, match=rf"'{typo}' \(did you mean '{meant}'\?\)"):
        cls(task_id="t", **given, **{typo: "x"})
    with pytest.raises(TypeError, match=rf"{cls.__name__} needs '{meant}'"):
        cls(task_id="t", **given)
