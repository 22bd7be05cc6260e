"""The pytest plugin ``up42_provider.testing``: users' DAG tests run as the README says, in their own pytest.

Each test writes a small user project into a scratch folder outside the repository and runs pytest
on it in a subprocess (a fresh interpreter, as a user's session would be): real Airflow, real
``dag.test()``, real HTTP to the emulator.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PLUGIN = "up42_provider.testing"
SECTION = "## Using the emulator in your own DAG tests"


def recipe() -> dict[str, str]:
    """The files of the README's recipe: every fenced block of the section whose first line names a file."""
    text = README.read_text()
    section = text[text.index(SECTION) : text.index("\n## ", text.index(SECTION) + len(SECTION))]
    files = {}
    for body in re.findall(r"```(?:python|toml)\n(.*?)```", section, flags=re.S):
        first, _, rest = body.partition("\n")
        name = re.fullmatch(r"# ([\w./-]+\.(?:py|toml))", first.strip())
        if name:
            files[name.group(1)] = body if name.group(1).endswith(".py") else rest
    return files


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
    return root


def run_pytest(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m pytest`` in ``project``, with an environment free of Airflow and pytest settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "_AIRFLOW"))}
    # This checkout first (a development worktree may differ from the installed one).
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::Warning", *args],
        cwd=project,
        env=base,
        capture_output=True,
        text=True,
        timeout=280,
    )


def outcome(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def test_readme_recipe_runs_verbatim(tmp_path: Path) -> None:
    files = recipe()
    assert {"pyproject.toml", "dags/my_pipeline.py", "tests/test_my_pipeline.py"} <= set(files), files.keys()
    if not any(ep.value == PLUGIN for ep in metadata.entry_points(group="pytest11")):
        pytest.skip(
            f"the pytest11 entry point {PLUGIN} is not in this environment's package metadata: "
            "reinstall the project (pip install -e '.[dev]') to test the recipe as users get it"
        )
    project = write_project(tmp_path / "my-project", files)
    assert REPO not in project.parents
    result = run_pytest(project)  # no -p: the installed entry point loads the plugin, as for users
    assert result.returncode == 0, outcome(result)
    assert re.search(r"\b1 passed\b", result.stdout), outcome(result)


USER_DAG = """
from datetime import datetime

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def credits_check():
    @task
    def balance() -> float:
        from up42_provider.hooks.up42 import UP42Hook

        return UP42Hook().get_credits_balance()

    balance()


my_dag = credits_check()
"""

# Runs in the user's session: the fixture's environment and Airflow home are active inside the test,
# gone after it, and the user's own AIRFLOW_HOME (set by their conftest) is back.
USER_TESTS = """
import json
import os

import pytest
from airflow import settings

from my_dag import my_dag

OURS = ("AIRFLOW", "NO_PROXY", "no_proxy")  # what the fixture or Airflow's task runs set
BEFORE = {k: v for k, v in os.environ.items() if k.startswith(OURS)}
USER_HOME = os.environ["AIRFLOW_HOME"]


def test_dag_runs_in_the_fixture_home(up42_emulator):
    assert os.environ["AIRFLOW_HOME"] != USER_HOME
    assert settings.SQL_ALCHEMY_CONN.endswith(os.environ["AIRFLOW_HOME"] + "/airflow.db")
    assert my_dag.test().state == "success"
    conn = json.loads(os.environ["AIRFLOW_CONN_UP42_DEFAULT"])
    assert conn["host"] == up42_emulator.url and conn["login"] == up42_emulator.config.project_id


def test_environment_and_database_are_restored_afterwards():
    assert {k: v for k, v in os.environ.items() if k.startswith(OURS)} == BEFORE
    assert USER_HOME in settings.SQL_ALCHEMY_CONN


@pytest.mark.up42_emulator(speed=7, initial_credits=50)
def test_marker_configures_the_emulator(up42_emulator):
    assert (up42_emulator.config.speed, up42_emulator.config.initial_credits) == (7, 50)
    assert up42_emulator.state.credits.balance == 50


@pytest.mark.up42_emulator(generation="current")
def test_current_generation_connects_with_the_account(up42_emulator):
    conn = json.loads(os.environ["AIRFLOW_CONN_UP42_DEFAULT"])
    config = up42_emulator.config
    assert conn["login"] == getattr(config, "account_username", "emulator@up42.example")
    assert conn["password"] == getattr(config, "account_password", "emulator-password")
    assert conn["extra"] == {"api_generation": "current"}


@pytest.mark.up42_emulator(generation="2019")
def test_unknown_generation(up42_emulator):
    pass


@pytest.mark.up42_emulator(spead=10)
def test_unknown_config_field(up42_emulator):
    pass
"""

USER_CONFTEST = """
import os

os.environ["AIRFLOW_HOME"] = os.path.join(os.path.dirname(__file__), "my-airflow-home")
"""


def test_fixture_isolates_and_restores(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "proj",
        {
            "dags/my_dag.py": USER_DAG,
            "tests/test_it.py": USER_TESTS,
            "conftest.py": USER_CONFTEST,
            "pytest.ini": "[pytest]\npythonpath = dags\n",
        },
    )
    result = run_pytest(project, "-p", PLUGIN, "-rA")
    text = outcome(result)
    assert re.search(r"\b4 passed, 2 errors\b", result.stdout), text
    assert "unknown UP42 API generation '2019'; use one of 2023, current" in result.stdout, text
    assert "spead not EmulatorConfig field(s)" in result.stdout, text
    # The session's migration was the fixture's: the user's home got no database.
    assert not (project / "my-airflow-home" / "airflow.db").exists()


def test_missing_dags_folder_is_named_with_its_fix(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "proj",
        {
            "test_it.py": "def test_it(up42_emulator):\n    pass\n",
            "pytest.ini": "[pytest]\nup42_dags_folder = airflow/dags\n",
        },
    )
    result = run_pytest(project, "-p", PLUGIN)
    assert result.returncode != 0, outcome(result)
    assert f"DAGs folder {project / 'airflow' / 'dags'} does not exist" in result.stdout, outcome(result)
    assert "up42_dags_folder" in result.stdout
