"""What a DAG file's import of the provider costs the DAG processor: the operator, sensor and hook
modules load no network or geospatial library (they load when a task first talks to UP42 or draws);
the time is measured by benchmarks/parse_benchmark.py."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.parse_benchmark import HEAVY, MODULES


def test_provider_modules_a_dag_imports_load_no_heavy_library():
    code = (
        "import importlib, json, sys\n"
        "import airflow.sdk\n"
        "before = set(sys.modules)\n"
        f"for name in {MODULES!r}: importlib.import_module(name)\n"
        "loaded = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        f"print(json.dumps(sorted(loaded & set({HEAVY!r}))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
