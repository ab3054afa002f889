"""Real harness packages for the export tests, each in its own virtual environment.

The harnesses' dependencies clash (verifiers 0.4 pins mcp 2.0.0, OpenEnv needs mcp < 2, tau2-bench
needs Python >= 3.12), so an export is tested the way a user runs it: in a venv holding that
harness, envsynth (editable, so the venv follows the checkout) and nothing else, driven from the
test as a subprocess. A venv is built once under `.venvs/` (named by its requirements, so a change
of pins builds a new one) and reused; building needs the package registry, as CI has.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"


def harness_python(name: str, requirements: Sequence[str], python: Optional[str] = None,
                   with_envsynth: bool = True) -> Path:
    """The interpreter of venv `name` holding `requirements` (+ envsynth), built if missing."""
    base = os.path.realpath(python or sys.executable)  # .venv/bin/python and python3 are one venv
    key = hashlib.sha256(json.dumps([list(requirements), base, with_envsynth]).encode()).hexdigest()[:10]
    venv = VENVS / f"{name}-{key}"
    py = venv / "bin" / "python"
    VENVS.mkdir(exist_ok=True)
    with open(VENVS / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes never build the same venv at once
        if (venv / ".complete").exists():
            return py
        if venv.exists():
            subprocess.run(["rm", "-rf", str(venv)], check=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run(pip + ["--upgrade", "pip"], check=True)
        args = list(requirements) + (["-e", str(ROOT)] if with_envsynth else [])
        done = subprocess.run(pip + args, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"could not build the {name} harness venv ({' '.join(args)}):\n"
                               f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        (venv / ".complete").write_text("\n".join(args) + "\n")
    return py


def run_in(py: Path, script: str, *args: str, timeout: float = 900, env: Optional[dict] = None,
           cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Run `script` (Python source) with the harness interpreter; raise with its output on failure."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PYTHONPATH", None)
    done = subprocess.run([str(py), "-c", script, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=str(cwd) if cwd else None)
    if done.returncode != 0:
        raise AssertionError(f"harness script failed ({done.returncode}):\nSTDOUT:\n{done.stdout[-4000:]}\n"
                             f"STDERR:\n{done.stderr[-6000:]}")
    return done


def last_json(done: subprocess.CompletedProcess) -> dict:
    """The last line of a harness script's stdout, read as JSON (the script's report)."""
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """End a server process a test started: ask, then insist."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
