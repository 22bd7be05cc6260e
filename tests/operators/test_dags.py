"""The operators inside real Airflow 3: ``dag.test()`` of tests/dags/ops_*.py in the session worker.

Covers what only Airflow does: template rendering from the run conf, XCom between tasks, extra
links stored at the end of a try, deferral with the triggers run inline, retries and mapping.
"""

from __future__ import annotations

import itertools

import pytest

from up42_provider.links import CONSOLE_URL

from .conftest import BERLIN, WASHINGTON, Up42

pytestmark = pytest.mark.usefixtures("airflow_worker")


def run(worker, up42: Up42, dag_id: str, **conf):
    result = worker.run_dag(dag_id, conf=conf, env=up42.env)
    assert result.error is None, result.error + result.log[-3000:]
    return result


def test_search_then_order_with_links(airflow_worker, up42: Up42):
    result = run(airflow_worker, up42, "ops_order_archive", aoi=BERLIN, data_product_id=up42.archive_product)
    assert result.state == "success", result.log[-4000:]
    (image_id,) = [f["properties"]["id"] for f in result.xcom["search"]["features"]]
    order_ids = result.xcom["order"]
    assert len(order_ids) == 1 and up42.hook.get_order(order_ids[0])["status"] == "FULFILLED"
    assert up42.hook.get_order(order_ids[0])["orderDetails"]["id"] == image_id
    links = result.xcom["links"]
    assert links == {"url": f"{CONSOLE_URL}/storage/orders/{order_ids[0]}", "order_ids": order_ids}
    assert not result.deferred("order")


@pytest.mark.parametrize("fresh_emulator", [{"speed": 30.0}], indirect=True)  # an order lasts ~2.3 s
def test_search_to_a_file_then_deferred_order(airflow_worker, fresh_up42: Up42, tmp_path):
    up42 = fresh_up42
    out = tmp_path / "scenes.geojson"
    result = run(
        airflow_worker,
        up42,
        "ops_order_archive_deferrable",
        aoi=BERLIN,
        limit=2,
        output_path=f"file://{out}",
        data_product_id=up42.archive_product,
    )
    assert result.state == "success", result.log[-4000:]
    assert result.xcom["search"]["count"] == 2 and out.exists()
    assert result.deferred("order") and len(result.xcom["order"]) == 2
    (trigger,) = result.triggers
    assert trigger["classpath"].endswith("UP42OrderStatusTrigger") and trigger["event"]["status"] == "success"


@pytest.mark.parametrize("fresh_emulator", [{"speed": 100.0}], indirect=True)
def test_max_credits_guard_in_a_dag(airflow_worker, fresh_up42: Up42):
    balance = fresh_up42.balance
    result = run(
        airflow_worker,
        fresh_up42,
        "ops_order_archive",
        aoi=BERLIN,
        data_product_id=fresh_up42.archive_product,
        max_credits=1,
    )
    assert result.state == "failed" and result.tasks["order"] == "failed"
    assert len(result.runs["order"]) == 1  # AirflowFailException: no retry
    assert "max_credits=1; nothing was ordered" in result.errors("order")[0]
    assert fresh_up42.orders() == [] and fresh_up42.balance == balance


@pytest.mark.parametrize("fresh_emulator", [{"speed": 20.0}], indirect=True)
def test_lost_order_answer_and_retries_place_one_order(airflow_worker, fresh_up42: Up42):
    image_ids = fresh_up42.image_ids(1)
    fresh_up42.server.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/orders$")
    result = run(
        airflow_worker,
        fresh_up42,
        "ops_order_retry",
        aoi=BERLIN,
        image_ids=image_ids,
        data_product_id=fresh_up42.archive_product,
    )
    assert result.state == "success", result.log[-4000:]
    assert fresh_up42.server.state.faults.fired["lost_response"] == 1
    assert len(result.runs["order"]) > 1  # the first tries timed out, a retry saw it fulfilled
    (order,) = fresh_up42.orders()
    assert result.xcom["order"] == [order["id"]] and order["status"] == "FULFILLED"


@pytest.mark.parametrize("fresh_emulator", [{"speed": 20.0}], indirect=True)
def test_gateway_504_while_up42_goes_on_places_one_order(airflow_worker, fresh_up42: Up42):
    """A gateway answers 504 and UP42 creates the order 2 s later: the task waits, finds it, uses it."""
    from tests.airflow_env import connection_env

    from .conftest import wait_for

    faults = fresh_up42.server.state.faults
    faults.configure(late_seconds=2.0)
    faults.add_rule("late_504", count=1, method="POST", path=r"/orders$")
    env = connection_env(fresh_up42.server, max_retry_wait=5, create_settle_seconds=8)
    result = airflow_worker.run_dag(
        "ops_order_archive", conf={"aoi": BERLIN, "data_product_id": fresh_up42.archive_product}, env=env
    )
    assert result.error is None and result.state == "success", result.log[-4000:]
    assert faults.fired["late_504"] == 1
    wait_for(lambda: faults.late_in_flight == 0)
    (order,) = fresh_up42.orders()
    assert result.xcom["order"] == [order["id"]]
    assert "outcome unknown" in result.log and "UP42 had created it" in result.log


def test_tasking_order_accepted_and_deferred(airflow_worker, up42: Up42):
    from .test_order import TASKING_PARAMS

    result = run(
        airflow_worker,
        up42,
        "ops_order_tasking",
        aoi=BERLIN,
        data_product_id=up42.tasking_product,
        acquisition_start="2030-01-01",
        acquisition_end="2030-01-31",
        order_params=TASKING_PARAMS,
        quotation_decision="ACCEPTED",
    )
    assert result.state == "success", result.log[-4000:]
    (order_id,) = result.xcom["order"]
    assert up42.hook.get_quotations(order_id=order_id)[0]["decision"] == "ACCEPTED"
    assert up42.hook.get_order(order_id)["status"] == "FULFILLED"


@pytest.mark.parametrize("fresh_emulator", [{"speed": 30.0}], indirect=True)  # a job lasts ~1.6 s
@pytest.mark.parametrize("dag_id", ["ops_job", "ops_job_deferrable"])
def test_job(airflow_worker, fresh_up42: Up42, dag_id):
    up42 = fresh_up42
    result = run(
        airflow_worker, up42, dag_id, aoi=BERLIN, test_job=False
    )  # a real job takes long enough to defer
    assert result.state == "success", result.log[-4000:]
    (job_id,) = result.xcom["job"]
    job = up42.hook.get_job(job_id)
    assert job["status"] == "SUCCEEDED" and job["name"].startswith(f"{dag_id}.job-")
    project = up42.server.config.project_id
    assert result.xcom["links"] == {
        "url": f"{CONSOLE_URL}/projects/{project}/jobs/{job_id}",
        "job_ids": [job_id],
    }
    assert result.deferred("job") == dag_id.endswith("deferrable")


def test_failing_job_fails_the_task_with_the_log(airflow_worker, up42: Up42):
    result = run(airflow_worker, up42, "ops_job_deferrable", aoi=BERLIN, name="emulator-fail")
    assert result.state == "failed" and result.tasks["job"] == "failed"
    error = result.errors("job")[-1]
    assert "FAILED" in error and "last log lines" in error


@pytest.mark.parametrize("fresh_emulator", [{"speed": 10.0}], indirect=True)
def test_lost_job_answer_and_retries_start_one_job(airflow_worker, fresh_up42: Up42):
    fresh_up42.server.state.faults.add_rule("lost_response", count=1, method="POST", path=r"/jobs$")
    result = run(airflow_worker, fresh_up42, "ops_job_retry", aoi=BERLIN, test_job=False)
    assert result.state == "success", result.log[-4000:]
    assert fresh_up42.server.state.faults.fired["lost_response"] == 1 and len(result.runs["job"]) > 1
    (job,) = fresh_up42.jobs()
    assert result.xcom["job"] == [job.id] and job.status == "SUCCEEDED"


def test_mapped_over_two_aois(airflow_worker, up42: Up42):
    result = run(airflow_worker, up42, "ops_job_mapped", aois=[BERLIN, WASHINGTON])
    assert result.state == "success", result.log[-4000:]
    job_ids = result.xcom["collect"]
    assert len(set(job_ids)) == 2
    jobs = [up42.hook.get_job(j) for j in job_ids]
    assert {j["status"] for j in jobs} == {"SUCCEEDED"} and len({j["name"] for j in jobs}) == 2
    boxes = [j["inputs"]["esa-s2-l2a-gtiff-visual:1"]["intersects"]["coordinates"][0][0][0] for j in jobs]
    assert boxes[0] > 0 > boxes[1]  # Berlin east, Washington west, in map-index order


@pytest.mark.parametrize("fresh_emulator", [{"max_concurrent_jobs": 1}], indirect=True)
def test_parallel_jobs_queue_behind_the_project_limit_deferrable(airflow_worker, fresh_up42: Up42):
    result = run(
        airflow_worker,
        fresh_up42,
        "ops_parallel_deferrable",
        aois=[BERLIN],
        interval_dates=[
            ["2022-01-01", "2022-03-31"],
            ["2022-04-01", "2022-06-30"],
            ["2022-07-01", "2022-09-30"],
        ],
    )
    assert result.state == "success", result.log[-4000:]
    out = result.xcom["jobs"]
    assert len(out["succeeded"]) == 3 and out["failed"] == []
    assert len(result.triggers) >= 3  # deferred once per running job
    jobs = sorted(fresh_up42.jobs(), key=lambda j: j.created_at)
    assert len(jobs) == 3 and all(j.status == "SUCCEEDED" for j in jobs)
    for earlier, later in itertools.pairwise(jobs):
        assert later.created_at >= earlier.finished_at  # never two at once


def test_parallel_jobs_failure_tolerance(airflow_worker, up42: Up42):
    conf = {
        "aois": [BERLIN, WASHINGTON],
        "interval_dates": [["2022-01-01", "2022-06-30"]],
        "name": "emulator-fail-parallel",
        "test_jobs": True,
    }
    tolerated = run(airflow_worker, up42, "ops_parallel", max_failed_jobs=2, **conf)
    assert tolerated.state == "success" and len(tolerated.xcom["jobs"]["failed"]) == 2
    failing = run(airflow_worker, up42, "ops_parallel", max_failed_jobs=1, **conf)
    assert failing.state == "failed" and "more than max_failed_jobs=1" in failing.errors("jobs")[-1]
