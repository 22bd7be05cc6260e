"""``make demo``: the example DAGs, run by real Airflow against the UP42 emulator, in a few minutes.

1. starts the UP42 API emulator (in this process, on a free port of 127.0.0.1, time sped up);
2. prepares a private Airflow home (``<output>/.airflow``: SQLite database, ``airflow db migrate`` once);
3. runs ``airflow dags test`` of the example DAGs (DAGs folder ``example_dags/``) in a subprocess with
   the ``up42_default`` (2023 project) and ``up42_current`` (today's account) connections pointing at
   the emulator, so pipelines of both API generations run - catalog search, coverage plot, credit
   estimate, order, deferred wait, download, quicklooks, plots and bucket upload; the downstream DAG that
   analyses the delivered GeoTIFFs; a processing workflow and job with its results and archive upload -
   and shows what each task does;
4. stops the emulator and lists what was produced: GeoTIFFs, PNG plots, HTML maps, the "bucket" copies.

Nothing leaves 127.0.0.1 and no UP42 credits are spent. ``python -m up42_provider.demo --help`` for
options (another output folder, emulator speed, a subset of the DAGs).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from up42_provider.emulator.config import EmulatorConfig
from up42_provider.emulator.server import EmulatorServer
from up42_provider.transfer.targets import SIDECAR_SUFFIX

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"
PIPELINES: dict[str, str] = {
    "up42_archive_imagery": "Archive imagery: search -> coverage plot -> estimate -> order -> deferred wait "
    "-> download -> quicklooks + plots -> upload to a bucket",
    "up42_downstream": "Downstream: statistics of the new GeoTIFFs (scheduled on the download's Asset; "
    "started by hand here)",
    "up42_processing": "Processing: workflow from blocks -> deferrable job -> results + plots -> upload",
    "up42_current_archive_processing": "Today's UP42 API: search -> v2 order -> deferred wait -> deliveries "
    "from STAC storage -> processing job on the delivery -> results -> upload",
}
# Output folders the example DAGs write below UP42_EXAMPLE_OUTPUT; emptied before each demo.
RESULT_FOLDERS = (
    "archive",
    "processing",
    "tasking",
    "parallel_processing",
    "downstream",
    "current",
    "bucket",
)

Echo = Callable[[str], None]

_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\dT(?P<time>\d\d:\d\d:\d\d)\.\d+Z\s+\[(?P<level>\w+)\s*\]\s+(?P<msg>.*?)"
    r"\s+\[(?P<logger>[\w.]+)\](?P<rest>.*)$"
)
_NOISE = (
    "graphviz",
    "You might need to install",
    "empty cryptography key",
    "httpx2",
    "AssetModel",  # dag.test creates the Asset of an alias on first use and says so, twice
    "::group::",
    "::endgroup::",
)
_SHOWN_LOGGERS = ("airflow.task.operators", "airflow.task.hooks", "up42_provider")
WIDTH = 150


def say(text: str) -> None:
    print(text, flush=True)


def _stamp(text: str) -> str:
    return f"  {time.strftime('%H:%M:%S')}  {text}"


def progress_line(line: str) -> str | None:
    """What a person follows of ``airflow dags test`` output: task starts, deferrals, the provider's own
    messages, task prints, warnings and errors; None for Airflow's internal chatter."""
    line = line.rstrip()
    if not line or any(noise in line for noise in _NOISE):
        return None
    record = _RECORD.match(line)
    if record is None:
        return _cut(f"              {line}")  # a task's print() or a traceback line
    msg, logger, level, clock = record["msg"], record["logger"], record["level"], record["time"]
    if msg.startswith("[DAG TEST] starting task_id="):
        return f"  {clock}  > {msg.split('task_id=', 1)[1].split()[0]}"
    if msg.startswith("Pausing task as DEFERRED"):
        return f"  {clock}      deferred: waiting in the triggerer (dags test runs the trigger inline)"
    if msg.startswith("Marking run"):
        return f"  {clock}  {'run succeeded' if 'successful' in msg else 'run FAILED'}"
    if level in ("error", "critical") or (level == "warning" and logger.startswith(_SHOWN_LOGGERS)):
        return _cut(f"  {clock}      {level.upper()}: {msg}")
    if logger.startswith(_SHOWN_LOGGERS):
        return _cut(f"  {clock}      {msg}")
    return None


def _cut(text: str) -> str:
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def airflow_command() -> list[str]:
    script = Path(sys.executable).with_name("airflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


def airflow_environment(
    home: Path, output: Path, connection: str, poll_interval: float, current_connection: str | None = None
) -> dict[str, str]:
    """A private Airflow (none of the caller's AIRFLOW_* settings leak in) running the example DAGs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        AIRFLOW_CONN_UP42_DEFAULT=connection,  # 2023 project
        AIRFLOW_CONN_UP42_CURRENT=current_connection or connection,  # today's account
        UP42_EXAMPLE_OUTPUT=str(output),
        UP42_EXAMPLE_POLL_INTERVAL=f"{poll_interval:g}",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    return env


def _run(argv: Sequence[str], env: dict[str, str], log_path: Path, echo: Echo | None) -> int:
    """Run ``argv``; everything goes to ``log_path``, the filtered view to ``echo``."""
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            list(argv),
            env=env,
            cwd=env["AIRFLOW_HOME"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            shown = progress_line(line) if echo else None
            if shown is not None and echo is not None:
                echo(shown)
        return proc.wait()


def ensure_database(env: dict[str, str], echo: Echo) -> None:
    home = Path(env["AIRFLOW_HOME"])
    if (home / "airflow.db").exists():
        echo(_stamp(f"Airflow home {home} (database exists)"))
        return
    echo(_stamp(f"airflow db migrate (new Airflow home {home}) ..."))
    code = _run([*airflow_command(), "db", "migrate"], env, home / "db-migrate.log", None)
    if code != 0:
        raise SystemExit(f"airflow db migrate failed; see {home / 'db-migrate.log'}")


@dataclass
class DemoResult:
    output: Path
    runs: dict[str, bool] = field(default_factory=dict)  # dag id -> succeeded
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(self.runs.values())

    def files(self, *suffixes: str, below: str = "") -> list[Path]:
        root = self.output / below if below else self.output
        return sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and p.name.lower().endswith(suffixes) and ".airflow" not in p.parts
        )


def run_demo(
    output: Path,
    speed: float = 20.0,
    dag_ids: Iterable[str] = tuple(PIPELINES),
    poll_interval: float = 1.0,
    echo: Echo = say,
) -> DemoResult:
    """Run the example DAGs against a fresh emulator; outputs below ``output``."""
    started = time.monotonic()
    output = output.resolve()
    home = output / ".airflow"
    home.mkdir(parents=True, exist_ok=True)
    for name in RESULT_FOLDERS:
        shutil.rmtree(output / name, ignore_errors=True)
    result = DemoResult(output)
    with EmulatorServer(EmulatorConfig(speed=speed)) as emulator:
        echo(_stamp(f"UP42 emulator on {emulator.url} (time x{speed:g}; nothing leaves 127.0.0.1)"))
        env = airflow_environment(
            home, output, emulator.airflow_connection(), poll_interval, emulator.airflow_connection("current")
        )
        ensure_database(env, echo)
        for dag_id in dag_ids:
            echo(f"\n== {dag_id}: {PIPELINES.get(dag_id, '')}")
            echo(_stamp(f"airflow dags test {dag_id}"))
            began = time.monotonic()
            log_path = home / f"demo-{dag_id}.log"
            code = _run([*airflow_command(), "dags", "test", dag_id], env, log_path, echo)
            succeeded = code == 0 and _run_succeeded(log_path)
            result.runs[dag_id] = succeeded
            echo(
                _stamp(
                    f"{dag_id}: {'success' if succeeded else 'FAILED'} in {time.monotonic() - began:.0f} s"
                )
            )
            if not succeeded:
                echo(f"  full log: {log_path}")
                break
        echo(_stamp("stopping the emulator"))
    result.seconds = time.monotonic() - started
    return result


def _run_succeeded(log_path: Path) -> bool:
    finished = [line for line in log_path.read_text().splitlines() if "DagRun Finished" in line]
    return bool(finished) and "state=success" in finished[-1]


def summary(result: DemoResult) -> str:
    """Where the outputs are, grouped by kind."""
    out = result.output

    def listing(title: str, paths: list[Path]) -> list[str]:
        lines = [f"  {title} ({len(paths)}):"]
        lines += [f"    {p.relative_to(out)}  ({p.stat().st_size / 1024:.0f} KiB)" for p in paths[:12]]
        if len(paths) > 12:
            lines.append(f"    ... and {len(paths) - 12} more")
        return lines

    def local(paths: list[Path]) -> list[Path]:
        return [p for p in paths if p.relative_to(out).parts[0] != "bucket"]

    bucket = result.files("", below="bucket") if (out / "bucket").exists() else []
    tiffs = local(result.files(".tif", ".tiff"))
    plots = [p for p in local(result.files(".png")) if p.parent.name == "plots"]
    maps = local(result.files(".html"))
    reports = result.files(".json", below="downstream") if (out / "downstream").exists() else []
    lines = [f"Outputs under {out}:"]
    lines += listing("GeoTIFFs", tiffs)
    lines += listing("PNG plots", plots)
    lines += listing("HTML maps (open in a browser)", maps)
    if reports:
        lines += listing("downstream reports", reports)
    lines += listing(
        "uploaded copies (the 'bucket')", [p for p in bucket if not p.name.endswith(SIDECAR_SUFFIX)]
    )
    lines.append(f"  Airflow home, logs and the full output of each run: {out / '.airflow'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("demo-output"), help="where everything goes")
    parser.add_argument("--speed", type=float, default=20.0, help="emulator time factor (default 20)")
    parser.add_argument(
        "--dag",
        action="append",
        choices=sorted(PIPELINES),
        help="run only this DAG (repeatable; default: all of them, in order)",
    )
    args = parser.parse_args(argv)
    say("UP42 provider demo: the example DAGs in real Airflow (airflow dags test) against the UP42 emulator")
    result = run_demo(args.output, speed=args.speed, dag_ids=args.dag or tuple(PIPELINES))
    say(f"\n{'Done' if result.ok else 'FAILED'} in {result.seconds:.0f} s.")
    say(summary(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
