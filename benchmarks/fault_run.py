"""Fault-injected acceptance run: archive and processing pipelines against a faulty emulator.

Starts ``up42-emulator`` with seeded rates of every fault kind (``FAULTS``) and a 20 s token life,
runs the example DAGs (``airflow dags test``, one logical date per pipeline, sequentially), then
checks, each check able to fail (tests/benchmarks/test_fault_run.py plants each problem):

- every pipeline succeeded;
- no duplicates in the emulator's state (every page of its lists): orders per run-derived tag
  (``airflow-<16 hex>``), jobs per name, workflows per name;
- every unpacked delivery (a folder with the provider's manifest, and its bucket copy) equals one
  blob's members byte for byte, every kept archive equals the blob of its name, no partial file;
- no secret in any log (pipeline, Airflow, emulator): the API key, its Basic form, every token the
  emulator issued (``/_emulator/tokens``), nor anything JWT- or URL-signature-shaped.

    python benchmarks/fault_run.py [--archive 10] [--processing 5] [--out /tmp/fault-run]

Exit code 0 only when every check passes. Not a pytest test: it takes minutes.
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from up42_provider.demo import _run, _run_succeeded, airflow_command, airflow_environment  # noqa: E402
from up42_provider.transfer.archives import MANIFEST, member_path  # noqa: E402

FAULTS = {
    "--fault-5xx": 0.08,
    "--fault-429": 0.08,
    "--fault-slow": 0.05,
    "--fault-drop": 0.3,  # ~20 downloads a run: 0.15 once let none break off
    "--fault-token-expiry": 0.05,
    "--fault-lost-response": 0.1,
    "--fault-late": 0.2,  # drawn only on ~20 creating calls: at 0.1 a run once had none
    "--fault-late-504": 0.1,
}


def start_emulator(out: Path, seed: int, speed: float) -> tuple[subprocess.Popen[str], str, dict]:
    argv = [
        str(Path(sys.executable).with_name("up42-emulator")),
        "--port=0",
        f"--seed={seed}",
        f"--speed={speed}",
        "--token-lifetime=20",
        "--retry-after=0.2",
        "--slow-seconds=0.5",
        "--late-seconds=3",
        f"--data-dir={out / 'emulator-data'}",
        "--log-level=debug",
        *[f"{k}={v}" for k, v in FAULTS.items()],
    ]
    log = (out / "emulator.log").open("w")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    conn = None
    # stdout is the emulator's banner, which prints the credentials it serves for copying: read
    # but not kept. Its log (stderr) goes to emulator.log, which the secret scan reads.
    for line in proc.stdout:
        m = re.search(r"AIRFLOW_CONN_UP42_DEFAULT='(.*)'", line)
        if m and conn is None:
            conn = json.loads(m.group(1))
            break
        if time.monotonic() > deadline:
            break
    if conn is None:
        proc.kill()
        raise SystemExit("emulator did not announce a connection; see emulator.log")

    def pump() -> None:
        for _line in proc.stdout:  # type: ignore[union-attr]
            pass

    import threading

    threading.Thread(target=pump, daemon=True).start()
    return proc, conn["host"], conn


def api_token(base: str, conn: dict) -> str:
    for _ in range(20):
        r = httpx.post(
            f"{base}/oauth/token",
            auth=(conn["login"], conn["password"]),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        if r.status_code == 200:
            return r.json()["access_token"]
        time.sleep(0.3)
    raise SystemExit(f"no token from the emulator: {r.status_code}")


def get_json(base: str, path: str, token: str, **params: object) -> object:
    for _ in range(30):  # the emulator's faults also hit our checks: retry them
        r = httpx.get(
            f"{base}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        if r.status_code == 200:
            return r.json()
        time.sleep(0.3)
    raise SystemExit(f"GET {path}: {r.status_code}")


def items(body: object) -> list[dict]:
    """The records of a 2023 list answer: ``data`` as a list or a page with ``content``."""
    if isinstance(body, dict):
        body = body.get("data", body)
    if isinstance(body, dict):
        body = body.get("content", [])
    return list(body or [])


def fetch_all(base: str, path: str, token: str, size: int) -> list[dict]:
    """Every record of a paged 2023 list (page by page until a short page), not just the first page."""
    records: list[dict] = []
    for page in range(10_000):
        batch = items(get_json(base, path, token, page=page, size=size))
        records += batch
        if len(batch) < size:
            return records
    raise SystemExit(f"GET {path}: more than 10000 pages")


# -- the checks (pure functions of the emulator's state and the run's files: unit-tested) -------
ORDER_KEY = re.compile(r"^airflow-[0-9a-f]{16}$")  # operators/_common.py order_tag


def duplicates(keys: list[str | None]) -> dict[str, int]:
    """Keys seen more than once, with the number of surplus records (a missing key is not a key)."""
    counts = collections.Counter(k for k in keys if k)
    return {k: n - 1 for k, n in counts.items() if n > 1}


def order_keys(orders: list[dict]) -> list[str | None]:
    """Each order's idempotency tag (the run-derived ``airflow-<16 hex>``), None for other orders."""
    return [next((t for t in o.get("tags") or [] if ORDER_KEY.match(str(t))), None) for o in orders]


def blob_trees(data_dir: Path) -> list[dict[str, str]]:
    """What each stored blob unpacks to, ``{relative path: md5}`` (as the provider names members).

    A zip or tar blob gives its regular members; any other blob is a single file under its name.
    """
    trees: list[dict[str, str]] = []
    for blob in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        tree: dict[str, str] = {}
        if zipfile.is_zipfile(blob):
            with zipfile.ZipFile(blob) as archive:
                for info in archive.infolist():
                    rel = member_path(info.filename)
                    if not info.is_dir() and rel:
                        tree[rel] = hashlib.md5(archive.read(info)).hexdigest()
        elif tarfile.is_tarfile(blob):
            with tarfile.open(blob) as archive:
                for member in archive.getmembers():
                    rel = member_path(member.name)
                    handle = archive.extractfile(member) if member.isfile() else None
                    if handle is not None and rel:
                        tree[rel] = hashlib.md5(handle.read()).hexdigest()
        else:
            tree[blob.name] = hashlib.md5(blob.read_bytes()).hexdigest()
        trees.append(tree)
    return trees


PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".download")


def delivery_folders(runs: Path, bucket: Path) -> tuple[list[Path], list[str]]:
    """The unpacked deliveries to check, and the runs that have none (a problem of its own).

    A delivery is a folder holding the provider's manifest under a run's output folder; its copy
    in the bucket (same path under any bucket prefix, the manifest not uploaded) is one as well.
    A partial download left anywhere in a run's folder is a problem.
    """
    folders, problems = [], []
    for run in sorted(p for p in runs.iterdir() if p.is_dir()):
        found = sorted(m.parent for m in run.rglob(MANIFEST))
        if not found:
            problems.append(f"no delivery under {run}")
        problems += [f"partial file {p}" for p in run.rglob("*") if p.name.endswith(PARTIAL_SUFFIXES)]
        for folder in found:
            folders.append(folder)
            folders += [c for c in bucket.glob(f"*/{folder.relative_to(run).as_posix()}") if c.is_dir()]
    return sorted(set(folders)), problems


def verify_deliveries(folders: list[Path], trees: list[dict[str, str]]) -> tuple[int, list[str]]:
    """Check each delivery folder against the blobs; (files checked, problems).

    A folder's files (the manifest aside) must equal one blob's members exactly: same paths, same
    bytes, none missing, none extra (so a partial or truncated file is a problem).
    """
    checked, problems = 0, []
    for folder in folders:
        files = [p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST]
        got = {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in files}
        checked += len(got)
        if got not in trees:
            near = next((t for t in trees if set(t) == set(got)), None)
            bad = sorted(n for n in got if near[n] != got[n]) if near else ["no blob has these files"]
            problems.append(f"{folder}: matches no blob ({', '.join(bad)})")
    return checked, problems


ARCHIVE_SUFFIXES = (".zip", ".tgz", ".tar.gz", ".tar")


def verify_kept_archives(roots: list[Path], data_dir: Path) -> tuple[int, list[str]]:
    """Archives kept as they came (uploaded to the bucket unpacked or not) must be byte-equal to
    the emulator's blob of the same name; (archives checked, problems)."""
    blobs: dict[str, set[str]] = collections.defaultdict(set)
    for blob in (p for p in data_dir.rglob("*") if p.is_file()):
        blobs[blob.name].add(hashlib.md5(blob.read_bytes()).hexdigest())
    checked, problems = 0, []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES)):
            checked += 1
            if path.name not in blobs:
                problems.append(f"{path}: no blob of that name")
            elif hashlib.md5(path.read_bytes()).hexdigest() not in blobs[path.name]:
                problems.append(f"{path}: differs from the blob of that name")
    return checked, problems


def unfired(fired: dict[str, int]) -> list[str]:
    """Fault kinds that never fired: a run they did not hit proves nothing about them."""
    return sorted(kind for kind, count in fired.items() if not count)


JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
SIGNATURE = re.compile(
    r"(?:X-Goog-Signature|X-Amz-Signature|Signature|sig|signature)=([A-Za-z0-9%_\-.~+/]{8,})", re.I
)


def scan_secrets(files: list[Path], secrets: dict[str, str]) -> list[str]:
    """Every place a secret shows in ``files``: the exact ``secrets`` (label -> value) and any
    JWT-shaped or URL-signature text. Findings name the file and the kind, never the secret."""
    found = []
    for path in files:
        text = path.read_text(errors="replace")
        for label, value in secrets.items():
            if value and value in text:
                found.append(f"{path}: {label}")
        for kind, pattern in (("JWT-shaped token", JWT), ("URL signature", SIGNATURE)):
            hits = len(pattern.findall(text))
            if hits:
                found.append(f"{path}: {hits} x {kind}")
    return found


def log_files(out: Path) -> list[Path]:
    """Every log the run wrote: pipeline and emulator output, Airflow's logs under its home."""
    home = out / ".airflow"
    logs = {p for p in out.glob("*.log") if p.name != "all.log"}
    logs |= {p for p in home.rglob("*") if p.is_file() and (p.suffix == ".log" or "logs" in p.parts)}
    return sorted(logs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=int, default=10)
    ap.add_argument("--processing", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/up42-fault-run"))
    args = ap.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = out / ".airflow"
    home.mkdir(exist_ok=True)
    started = time.monotonic()
    proc, base, conn = start_emulator(out, args.seed, args.speed)
    failures: list[str] = []
    try:
        conn["extra"] = {**conn.get("extra", {}), "create_settle_seconds": 8, "timeout": [5, 2]}
        env = airflow_environment(home, out, json.dumps(conn), 0.5)
        # Airflow's own level (INFO), as deployed. At DEBUG, Airflow's task supervisor logs every
        # value a task registers with the secrets masker (the API key, tokens, signed query
        # strings) and urllib3 logs each request line with its query string: not the provider's
        # output, but it would put secrets in the logs this run scans.
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
        env["AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY"] = "2"
        if not (home / "airflow.db").exists() and (
            _run([*airflow_command(), "db", "migrate"], env, home / "db-migrate.log", None) != 0
        ):
            raise SystemExit("airflow db migrate failed")
        runs: dict[str, bool] = {}
        plan = [("up42_archive_imagery", i) for i in range(args.archive)]
        plan += [("up42_processing", i) for i in range(args.processing)]
        for dag_id, i in plan:
            name = f"{dag_id}-{i:02d}"
            folder = out / "runs" / name
            conf = {"output_folder": str(folder)}
            if dag_id == "up42_processing":
                conf["workflow_name"] = f"fault-run-{i:02d}"
            date = f"2024-01-{i + 1:02d}T00:00:00+00:00"
            log_path = out / f"{name}.log"
            began = time.monotonic()
            code = _run(
                [*airflow_command(), "dags", "test", dag_id, date, "-c", json.dumps(conf)],
                env,
                log_path,
                None,
            )
            runs[name] = code == 0 and _run_succeeded(log_path)
            print(
                f"{name}: {'success' if runs[name] else 'FAILED'} in {time.monotonic() - began:.0f} s",
                flush=True,
            )

        token = api_token(base, conn)
        info = get_json(base, "/_emulator/info", token)
        assert isinstance(info, dict)
        ws, project = info["workspaceId"], info["projectId"]
        order_list = fetch_all(base, f"/workspaces/{ws}/orders", token, size=500)
        job_list = fetch_all(base, f"/projects/{project}/jobs", token, size=100)
        wfs = items(get_json(base, f"/projects/{project}/workflows", token))
        issued = get_json(base, "/_emulator/tokens", token)
        assert isinstance(issued, dict)
        dup_orders = duplicates(order_keys(order_list))
        dup_jobs = duplicates([j.get("name") for j in job_list])
        dup_wfs = duplicates([w.get("name") for w in wfs])
        untagged = sum(k is None for k in order_keys(order_list))
        folders, problems = delivery_folders(out / "runs", out / "bucket")
        checked, corrupt = verify_deliveries(folders, blob_trees(out / "emulator-data"))
        kept, corrupt_kept = verify_kept_archives([out / "runs", out / "bucket"], out / "emulator-data")
        problems += corrupt + corrupt_kept
        failures += problems
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    logs = log_files(out)
    basic = base64.b64encode(f"{conn['login']}:{conn['password']}".encode()).decode()
    secrets = {"project API key": conn["password"], "Basic credentials": basic}
    secrets.update({f"issued token #{i}": t for i, t in enumerate(issued["tokens"])})
    secrets_found = scan_secrets(logs, secrets)
    log_bytes = sum(p.stat().st_size for p in logs)

    ok_runs = sum(runs.values())
    rows = [
        ("pipelines succeeded", f"{ok_runs}/{len(runs)}"),
        ("orders (without an airflow tag)", f"{len(order_list)} ({untagged})"),
        ("duplicate orders (per tag)", str(sum(dup_orders.values()))),
        ("jobs", str(len(job_list))),
        ("duplicate jobs (per name)", str(sum(dup_jobs.values()))),
        ("workflows", str(len(wfs))),
        ("duplicate workflows (per name)", str(sum(dup_wfs.values()))),
        ("deliveries / files verified", f"{len(folders)} / {checked}"),
        ("kept archives verified", str(kept)),
        ("corrupt or missing files", str(len(problems))),
        ("tokens issued (scanned for)", str(len(issued["tokens"]))),
        ("secrets in logs", str(len(secrets_found))),
        ("faults fired", json.dumps(info.get("faultsFired"))),
        ("requests", str(info.get("requests"))),
        ("log files / bytes scanned", f"{len(logs)} / {log_bytes}"),
        ("seconds", f"{time.monotonic() - started:.0f}"),
    ]
    for k, v in rows:
        print(f"{k:34} {v}")
    if ok_runs != len(runs):
        failures.append("pipelines failed: " + ", ".join(n for n, s in runs.items() if not s))
    for what, dups in (("orders", dup_orders), ("jobs", dup_jobs), ("workflows", dup_wfs)):
        failures += [f"duplicate {what}: {key} x {n + 1}" for key, n in dups.items()]
    failures += [f"secret in a log: {found}" for found in secrets_found]
    failures += [f"fault kind never fired: {kind}" for kind in unfired(info.get("faultsFired") or {})]
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
