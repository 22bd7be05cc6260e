"""Cluster policy of the Celery system test, installed as the scheduler's ``airflow_local_settings.py``.

Runs whose id starts with ``spread__`` get their tasks alternated between the two workers' own queues
(by the task's position in the DAG and its map index), so the tasks of one run provably run on both
workers and must share nothing but object storage. Every other run uses the ``default`` queue, which both
workers consume: there a task whose worker dies is retried by whichever worker is alive.

Retries wait ``RETRY_DELAY`` (``task_policy``, applied where the dag-processor parses) instead of the
example DAGs' minute: the worker-kill test waits for one retry, and nothing else here depends on the delay.
"""

from __future__ import annotations

import zlib
from datetime import timedelta
from typing import Any

SPREAD_PREFIX = "spread__"
WORKER_QUEUES = ("up42-worker-a", "up42-worker-b")
RETRY_DELAY = timedelta(seconds=5)


def task_policy(task: Any) -> None:
    if task.retries:
        task.retry_delay = RETRY_DELAY


def task_instance_mutation_hook(task_instance: Any, dag_run: Any = None) -> None:
    run_id = str(getattr(task_instance, "run_id", "") or "")
    if not run_id.startswith(SPREAD_PREFIX):
        return
    task = getattr(task_instance, "task", None)
    task_ids = list(getattr(getattr(task, "dag", None), "task_ids", []) or [])
    if task_instance.task_id in task_ids:
        position = task_ids.index(task_instance.task_id)
    else:
        position = zlib.crc32(task_instance.task_id.encode())
    position += max(int(getattr(task_instance, "map_index", -1) or -1), 0)
    task_instance.queue = WORKER_QUEUES[position % len(WORKER_QUEUES)]
