"""The side virtualenv that holds the unmodified up42-py 4.3.0 (``.venv-up42-430/`` at the repo root).

up42-py 4.3.0 pins ``tenacity==8.4.1`` and ``pystac-client<0.8``, which conflict with Airflow's own pins,
so it can never live in ``.venv``. The suite builds a venv of its own on first use, from the system
``python3 -m venv`` (not from ``.venv``'s interpreter, so nothing of Airflow leaks in), installs the
requirement with the pinned set of ``constraints/up42-py-4.3.0.txt``, and caches it like ``.venv``: a
stamp file holds a hash of the requirement and the constraints, and a change of either rebuilds it.
A file lock serialises builders, so concurrent pytest workers (or ``make sdk-venv``) build it once.

    python -m tests.compat.current.sdk_venv      # build (or reuse) it and print its python
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
REQUIREMENT = "up42-py==4.3.0"
CONSTRAINTS = REPO / "constraints" / "up42-py-4.3.0.txt"
VENV = Path(os.environ.get("UP42_SDK430_VENV", REPO / ".venv-up42-430"))
LOCK = VENV.with_name(VENV.name + ".lock")
STAMP_NAME = ".installed"
BUILD_TIMEOUT = 900  # seconds for venv + pip install (the install itself takes ~15 s with a warm cache)
MIN_PYTHON = (3, 11)  # up42-py 4.3.0 requires Python >= 3.11


class SdkVenvError(RuntimeError):
    """The side venv could not be built; the message says which step failed and how to fix it."""


def _fingerprint() -> str:
    digest = hashlib.sha256(REQUIREMENT.encode())
    digest.update(CONSTRAINTS.read_bytes())
    return digest.hexdigest()


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def _version_ok(python: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return False
    return tuple(int(part) for part in out) >= MIN_PYTHON


def base_python() -> str:
    """The interpreter to build from: ``$UP42_SDK430_PYTHON``, else the system ``python3`` (>= 3.11)."""
    candidates = [os.environ.get("UP42_SDK430_PYTHON"), shutil.which("python3"), sys._base_executable]
    for candidate in candidates:
        if candidate and _version_ok(candidate):
            return candidate
    raise SdkVenvError(
        f"No Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]} found to build the up42-py 4.3.0 venv "
        f"(tried {[c for c in candidates if c]}); set UP42_SDK430_PYTHON to one."
    )


def _run(step: str, cmd: list[str]) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise SdkVenvError(f"{step} did not finish within {BUILD_TIMEOUT} s: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        raise SdkVenvError(f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def ensure(venv: Path = VENV) -> Path:
    """Build the side venv unless an up-to-date one exists; return its python."""
    stamp = venv / STAMP_NAME
    wanted = _fingerprint()
    if stamp.is_file() and stamp.read_text().strip() == wanted and venv_python(venv).exists():
        return venv_python(venv)
    lock_path = venv.with_name(venv.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it: wait, then re-check
        if stamp.is_file() and stamp.read_text().strip() == wanted and venv_python(venv).exists():
            return venv_python(venv)
        if venv.exists():
            shutil.rmtree(venv)
        _run("creating the venv", [base_python(), "-m", "venv", str(venv)])
        python = str(venv_python(venv))
        _run(
            "installing up42-py",
            [python, "-m", "pip", "install", "--quiet", REQUIREMENT, "-c", str(CONSTRAINTS)],
        )
        stamp.write_text(wanted + "\n")
    return venv_python(venv)


if __name__ == "__main__":
    print(ensure())
