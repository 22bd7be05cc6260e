"""The DAG of benchmarks/airflow_triggerer_benchmark.py: mapped deferrable order sensors and a lag probe.

No scheduler runs it. The benchmark serializes it (``airflow dags reserialize``) and writes one run's
task instances into the metadata DB as deferred - ``wait_for_order[i]`` on the trigger this sensor
defers with (``UP42OrderStatusTrigger``, one order each), ``lag_probe`` on
``benchmarks.lag_probe.LagProbeTrigger`` - so a real ``airflow triggerer`` picks them up.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from benchmarks.lag_probe import LagProbeOperator
from up42_provider.sensors.order import UP42OrderFulfilledSensor


@dag(
    dag_id="up42_triggerer_benchmark",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["up42", "benchmark"],
)
def up42_triggerer_benchmark() -> None:
    @task
    def placed_orders() -> list[list[str]]:
        """The benchmark places the orders itself and maps the sensor over them."""
        raise NotImplementedError("the benchmark writes the mapped sensors into the DB")

    UP42OrderFulfilledSensor.partial(
        task_id="wait_for_order", deferrable=True, poll_interval=5, timeout=3600
    ).expand(order_ids=placed_orders())
    LagProbeOperator(task_id="lag_probe", path="lag.txt")


up42_triggerer_benchmark()
