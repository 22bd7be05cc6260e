"""Throughput and memory of the transfer engine (one run, no asserts).

Downloads one blob (default 1 GiB) from an in-process emulator through its GCS-like signed URL with

* ``curl -s -o``                  - the floor to beat (C, no verification);
* ``download()``                  - our engine as shipped (``checksum="auto"``: size and CRC32C of
                                    ``x-goog-hash`` verified, atomic rename, sidecar written);
* ``download(checksum="md5")``    - the same, verifying MD5 instead (bound by MD5's ~600 MB/s);
* ``requests`` 1 KiB loop         - ``iter_content(chunk_size=1024)`` as the 2023 SDK did;

then uploads the same file to a moto S3 server on 127.0.0.1 with

* ``upload_file()``               - our upload (streamed multipart through ObjectStoragePath);
* ``S3FileSystem.put``            - plain s3fs ``put`` of the same file.

Every client runs in its own subprocess (the Python ones time the transfer only, without interpreter
start-up; their peak RSS growth over the pre-transfer baseline is sampled with psutil), the servers
stay in this process. Variants are interleaved round by round and each output file is deleted right
after its measurement, so machine drift and page-cache write-back hit all of them alike; the table
shows medians. ``curl + md5sum`` adds the time of ``md5sum`` over curl's file: what a verified curl
download costs. Each engine run's digest is compared with the emulator's, so a run that skipped
verification would fail the benchmark.

Run: ``.venv/bin/python benchmarks/download_benchmark.py [--size-mb 1024] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MIB = 1 << 20
AWS_CONN = "aws_bench"
RSS_TARGET_MIB = 64
RATIO_TARGET = 0.95


# -- workers (run in subprocesses) -----------------------------------------------------------------
class RssSampler:
    """Peak RSS of this process above the baseline taken at construction, sampled every 5 ms."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def worker(mode: str, source: str, target: str) -> None:
    import requests

    from up42_provider.transfer import download, upload_file

    if mode in ("upload", "put"):
        from airflow.sdk import ObjectStoragePath

        destination = ObjectStoragePath(target, conn_id=AWS_CONN)
        destination.fs.info(f"{destination.bucket}")  # warm the connection lookup and client
    session = requests.Session()
    digests: dict[str, str | None] = {}
    with RssSampler() as rss:
        started = time.perf_counter()
        if mode in ("engine", "engine-md5"):
            checksum = "md5" if mode == "engine-md5" else "auto"
            result = download(source, target, session=session, progress_interval=3600, checksum=checksum)
            digests = {"crc32c": result.crc32c, "md5": result.md5}
        elif mode == "sdk":
            response = session.get(source, stream=True)
            response.raise_for_status()
            with open(target, "wb") as out:
                for chunk in response.iter_content(chunk_size=1024):
                    if chunk:
                        out.write(chunk)
        elif mode == "upload":
            upload_file(source, destination, progress_interval=3600)
        elif mode == "put":
            destination.fs.put(source, destination.path)
        else:
            raise SystemExit(f"unknown worker mode {mode}")
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rss_growth": rss.growth, "digests": digests}))


def run_worker(mode: str, source: str, target: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, source, target],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the benchmark ---------------------------------------------------------------------------------
def timed_command(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def build_blob(path: Path, size: int) -> None:
    """Incompressible bytes (a 16 MiB random block repeated) without holding the file in memory."""
    import numpy as np

    block = memoryview(np.random.default_rng(42).bytes(16 * MIB))
    with path.open("wb") as out:
        left = size
        while left > 0:
            piece = block[: min(len(block), left)]
            out.write(piece)
            left -= len(piece)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def row(name: str, seconds: list[float], size: int, base: float | None, rss: list[int] | None = None) -> str:
    t = median(seconds)
    speed = size / MIB / t
    ratio = f"{(base / t):6.2f}x" if base else "      "
    memory = f"{max(rss) / MIB:8.1f}" if rss else "       -"
    return f"  {name:<30} {speed:8.1f} {t:8.2f} {ratio}   {memory}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="blob size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--skip-sdk", action="store_true", help="leave out the slow 1 KiB requests loop")
    parser.add_argument("--skip-upload", action="store_true", help="leave out the S3 upload part")
    parser.add_argument("--work-dir", default=None, help="where downloaded files go (default: a temp dir)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if not shutil.which("curl"):
        raise SystemExit("curl is required")

    from up42_provider.emulator.config import EmulatorConfig
    from up42_provider.emulator.server import EmulatorServer

    size = args.size_mb * MIB
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    names = ("curl", "md5sum", "engine", "engine-md5", "sdk", "upload", "put")
    times: dict[str, list[float]] = {k: [] for k in names}
    rss: dict[str, list[int]] = {k: [] for k in names}
    with (
        tempfile.TemporaryDirectory(prefix="up42-bench-", dir=args.work_dir) as tmp,
        EmulatorServer(EmulatorConfig(seed=1)) as server,
    ):
        work = Path(tmp)
        blobs = server.state.blobs
        print(f"Building a {args.size_mb} MiB blob in the emulator ...", flush=True)
        blobs.register("bench/blob", "bench.tgz", "application/gzip", lambda p: build_blob(p, size))
        blob = blobs.ensure_sync("bench/blob")
        variants = ["curl", "engine", "engine-md5"] + ([] if args.skip_sdk else ["sdk"])
        want = {
            "engine": {"crc32c": blob.crc32c, "md5": None},
            "engine-md5": {"crc32c": None, "md5": base64.b64decode(blob.md5).hex()},
        }
        for round_no in range(args.rounds):
            order = variants[round_no % len(variants) :] + variants[: round_no % len(variants)]
            for variant in order:
                url = blobs.signed_url(server.url, "bench/blob")  # fresh: rounds may outlast a URL
                os.sync()  # untimed: the previous run's write-back must not land in this one's time
                target = work / f"{variant}.bin"
                if variant == "curl":
                    times["curl"].append(timed_command(["curl", "-s", "-o", str(target), url]))
                    times["md5sum"].append(timed_command(["md5sum", str(target)]))
                else:
                    result = run_worker(variant, url, str(target), env)
                    times[variant].append(result["seconds"])
                    rss[variant].append(result["rss_growth"])
                    if variant in want and result["digests"] != want[variant]:
                        raise SystemExit(f"{variant} verified {result['digests']}, expected {want[variant]}")
                if target.stat().st_size != size:
                    raise SystemExit(f"{variant} wrote {target.stat().st_size} bytes instead of {size}")
                remove(target, work / f"{variant}.bin.up42-verified.json")
            print(f"  download round {round_no + 1}/{args.rounds} done", flush=True)

        if not args.skip_upload:
            from moto.server import ThreadedMotoServer

            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            moto.start()
            _, port = moto.get_host_and_port()
            extra = {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"}
            # moto needs a while to assemble a 1 GiB multipart object: a long read timeout and no
            # botocore retries, or a timed-out CompleteMultipartUpload is re-sent and fails.
            extra["config_kwargs"] = {"read_timeout": 900, "retries": {"max_attempts": 1}}
            conn = {"conn_type": "aws", "login": "bench-key", "password": "bench-secret", "extra": extra}
            env[f"AIRFLOW_CONN_{AWS_CONN.upper()}"] = json.dumps(conn)
            os.environ[f"AIRFLOW_CONN_{AWS_CONN.upper()}"] = env[f"AIRFLOW_CONN_{AWS_CONN.upper()}"]
            from airflow.sdk import ObjectStoragePath

            bucket = ObjectStoragePath("s3://bench/", conn_id=AWS_CONN)
            bucket.fs.mkdir("bench")
            try:
                for round_no in range(args.rounds):
                    order = ["upload", "put"] if round_no % 2 == 0 else ["put", "upload"]
                    for variant in order:
                        key = f"s3://bench/{variant}/{round_no}/bench.tgz"
                        result = run_worker(variant, str(blob.path), key, env)
                        times[variant].append(result["seconds"])
                        rss[variant].append(result["rss_growth"])
                        written = ObjectStoragePath(key, conn_id=AWS_CONN)
                        written.fs.invalidate_cache()
                        if written.fs.size(written.path) != size:
                            raise SystemExit(f"{variant} uploaded a wrong size")
                        written.fs.rm(written.path)  # free moto's memory
                    print(f"  upload round {round_no + 1}/{args.rounds} done", flush=True)
            finally:
                moto.stop()

    curl = median(times["curl"])
    engine = median(times["engine"])
    verified_curl = [c + m for c, m in zip(times["curl"], times["md5sum"], strict=True)]
    print()
    print(f"Download of {args.size_mb} MiB over a signed URL of the in-process emulator (127.0.0.1), ")
    print(f"{args.rounds} interleaved rounds, medians; {os.cpu_count()} CPUs; servers share this process;")
    print(f"files written under {args.work_dir or tempfile.gettempdir()}.")
    print(f"  {'client':<30} {'MB/s':>8} {'seconds':>8} {'vs curl':>7}   {'peak RSS +MiB':>8}")
    print(row("curl -s -o", times["curl"], size, curl))
    print(row("curl -s -o + md5sum", verified_curl, size, curl))
    print(row("engine download() [crc32c]", times["engine"], size, curl, rss["engine"]))
    print(row("engine checksum='md5'", times["engine-md5"], size, curl, rss["engine-md5"]))
    if times["sdk"]:
        print(row("requests 1 KiB loop (SDK 2023)", times["sdk"], size, curl, rss["sdk"]))
    print()
    ratio = curl / engine
    ratio_verified = median(verified_curl) / engine
    peak = max(rss["engine"] + rss["engine-md5"]) / MIB
    per_round = median([c / e for c, e in zip(times["curl"], times["engine"], strict=True)])
    print(f"  engine / curl throughput:          {ratio:5.2f}x (target >= {RATIO_TARGET}x)")
    print(f"  median of per-round ratios:        {per_round:5.2f}x")
    print(f"  engine md5 / curl throughput:      {curl / median(times['engine-md5']):5.2f}x")
    print(f"  engine / (curl + md5sum):          {ratio_verified:5.2f}x")
    if times["sdk"]:
        print(f"  engine / SDK 1 KiB loop:           {median(times['sdk']) / engine:5.2f}x")
    print(f"  engine peak RSS growth:            {peak:5.1f} MiB (target <= {RSS_TARGET_MIB} MiB)")
    print(
        "  per-round seconds: "
        + ", ".join(f"{k}={[round(v, 2) for v in vals]}" for k, vals in times.items() if vals)
    )
    if times["upload"]:
        put = median(times["put"])
        print()
        print(f"Upload of {args.size_mb} MiB to a moto S3 server (127.0.0.1), {args.rounds} rounds, medians:")
        print(f"  {'client':<30} {'MB/s':>8} {'seconds':>8} {'vs put':>7}   {'peak RSS +MiB':>8}")
        print(row("s3fs put", times["put"], size, put, rss["put"]))
        print(row("engine upload_file()", times["upload"], size, put, rss["upload"]))
        print(f"  upload_file / s3fs put throughput: {put / median(times['upload']):5.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:5])
    else:
        main()
