"""What a DAG file's import of the provider costs the DAG processor: the operator, sensor and hook
modules load no network or geospatial library (they load when a task first talks to UP42 or draws)
and no trigger machinery (it loads when a task defers, :func:`up42_provider.waiting.trigger_class`);
the time is measured by benchmarks/parse_benchmark.py."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.parse_benchmark import HEAVY, MODULES

# Loaded by a task that defers or by the triggerer, never by parsing a DAG file.
DEFERRAL_ONLY = ("airflow.triggers.base", "up42_provider.triggers.base", "up42_provider.triggers.poller")


def modules_loaded_by_provider_imports() -> set[str]:
    code = (
        "import importlib, json, sys\n"
        "import airflow.sdk\n"
        "before = set(sys.modules)\n"
        f"for name in {MODULES!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_provider_modules_a_dag_imports_load_no_heavy_library_and_no_trigger():
    loaded = modules_loaded_by_provider_imports()
    assert sorted({m.split(".")[0] for m in loaded} & set(HEAVY)) == []
    assert sorted(loaded & set(DEFERRAL_ONLY)) == []
