"""What the provider adds to DAG parsing: import time of its operator, sensor and hook modules over
``import airflow.sdk`` (one run, no asserts).

Every round starts fresh interpreters: a baseline that imports only ``airflow.sdk``, and one that
imports ``airflow.sdk`` and then the provider modules a DAG file imports; both time only the
imports (``time.perf_counter`` inside the child). The difference of the medians is the
provider's cost. The provider's byte-code is compiled first, as ``pip install`` does for a wheel
and as Airflow's own modules are: without it every child would compile the provider from source
(about 140 ms) while reading Airflow from byte-code, which is no DAG processor's situation. It
also lists which heavy libraries the provider modules pulled in (``requests`` and ``httpx``
should not be: they load when a task first talks to UP42).

Run: ``.venv/bin/python benchmarks/parse_benchmark.py [--rounds 15]``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import up42_provider

MODULES = (
    "up42_provider.operators.order",
    "up42_provider.operators.job",
    "up42_provider.operators.parallel",
    "up42_provider.operators.search",
    "up42_provider.sensors.order",
    "up42_provider.sensors.job",
    "up42_provider.hooks.up42",
)
# What a DAG file itself imports: the operators and sensors (the hook loads when a task runs).
DAG_MODULES = tuple(m for m in MODULES if not m.startswith("up42_provider.hooks"))
HEAVY = ("requests", "httpx", "httpcore", "urllib3", "shapely", "rasterio", "numpy", "matplotlib")

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
before = set(sys.modules)
for name in sys.argv[1:]:
    __import__(name)
t2 = time.perf_counter()
print(json.dumps({"sdk": t1 - t0, "provider": t2 - t1, "new": sorted(set(sys.modules) - before)}))
"""


def child(modules: tuple[str, ...]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *modules],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=300,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    compileall.compile_dir(Path(up42_provider.__file__).parent, quiet=1)
    child(MODULES)  # warm the OS file cache
    base, sdk, provider, dag_only, new = [], [], [], [], []
    for _ in range(args.rounds):
        base.append(child(())["sdk"])
        run = child(MODULES)
        sdk.append(run["sdk"])
        provider.append(run["provider"])
        new = run["new"]
        dag_only.append(child(DAG_MODULES)["provider"])
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"rounds: {args.rounds} (fresh interpreters each)")
    print(f"import airflow.sdk alone           median {ms(base):7.1f} ms")
    print(f"import airflow.sdk (provider run)  median {ms(sdk):7.1f} ms")
    print(f"provider modules on top            median {ms(provider):7.1f} ms  (budget 40 ms)")
    print(f"  operators + sensors only         median {ms(dag_only):7.1f} ms  (what a DAG file imports)")
    print(f"  ratio provider / airflow.sdk            {ms(provider) / ms(base):7.3f}")
    heavy = sorted({m.split(".")[0] for m in new if m.split(".")[0] in HEAVY})
    print(f"heavy libraries the provider pulled in: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
