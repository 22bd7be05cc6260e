"""``resolve_workflow`` under concurrency: mapped tasks sharing one ``workflow_name`` converge on one
workflow without any lock between them (each worker has its own hook, all start together)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from up42_provider.hooks.up42 import UP42Hook
from up42_provider.operators._workflow import resolve_workflow

from .conftest import DATA_BLOCK, PROCESSING_BLOCK, Up42

WORKERS = 6
TRIALS = 4


def _race(name: str) -> list[str]:
    barrier = threading.Barrier(WORKERS)

    def worker() -> str:
        hook = UP42Hook()
        try:
            hook.get_project()  # token and connection first: the race is over the workflow only
            barrier.wait(timeout=60)
            return resolve_workflow(hook, None, name, [DATA_BLOCK, PROCESSING_BLOCK])
        finally:
            hook.close()

    with ThreadPoolExecutor(WORKERS) as pool:
        return [f.result(timeout=120) for f in [pool.submit(worker) for _ in range(WORKERS)]]


def test_concurrent_workers_sharing_a_workflow_name_create_one_workflow(fresh_up42: Up42):
    for trial in range(TRIALS):
        name = f"shared-{trial}"
        ids = _race(name)
        held = [w for w in fresh_up42.hook.get_workflows() if w["name"] == name]
        assert [w["id"] for w in held] == [ids[0]], f"trial {trial}: {len(held)} workflows named {name}"
        assert set(ids) == {ids[0]}, f"trial {trial}: workers used {len(set(ids))} different workflows"
        tasks = fresh_up42.hook.get_workflow_tasks(ids[0])
        assert [t["blockName"] for t in tasks] == [DATA_BLOCK, PROCESSING_BLOCK]
