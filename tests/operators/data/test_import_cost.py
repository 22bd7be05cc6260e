"""Importing the data operators (what the DAG processor does for every DAG file) must not pull in
the heavy optional libraries: they are imported only when a plot is actually rendered."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "folium", "rasterio", "geopandas", "PIL", "branca")
MODULES = (
    "up42_provider.operators.download",
    "up42_provider.operators.upload",
    "up42_provider.operators.quicklooks",
    "up42_provider.plots",
)


def test_operator_modules_do_not_import_plotting_or_raster_libraries():
    code = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
