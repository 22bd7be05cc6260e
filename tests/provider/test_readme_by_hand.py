"""The README's by-hand ``airflow dags test`` steps work as written on a fresh machine.

The bash block is run verbatim by bash in a scratch folder laid out like the repository (``.venv`` and
``example_dags`` linked), with no Airflow home prepared and no Airflow setting in the environment.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARKER = "or by hand, from the repository's folder"


def by_hand_steps() -> str:
    text = (REPO / "README.md").read_text()
    after = text[text.index(MARKER) :]
    return re.search(r"```bash\n(.*?)```", after, flags=re.S).group(1)  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.timeout(660)  # db migrate and a whole processing pipeline: minutes on a loaded machine
def test_by_hand_steps_run_on_a_fresh_machine(tmp_path: Path) -> None:
    script = by_hand_steps()
    assert "airflow db migrate" in script and "airflow dags test up42_processing" in script
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8042)) == 0:
            pytest.skip("port 8042 (the emulator's default, used by the README) is taken on this machine")
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (folder / "example_dags").symlink_to(REPO / "example_dags")
    (folder / "steps.sh").write_text("set -e\n" + script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "_AIRFLOW"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        HOME=str(tmp_path / "home"),  # nothing of this machine's ~/airflow
        UP42_EXAMPLE_OUTPUT=str(tmp_path / "output"),
        UP42_EXAMPLE_POLL_INTERVAL="2",  # the example's waits poll every 2 s instead of every minute
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    done = subprocess.run(
        ["bash", "steps.sh"], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert (folder / ".airflow" / "airflow.db").exists()
    assert re.search(r"DagRun Finished: dag_id=up42_processing.*state=success", output), output[-5000:]
