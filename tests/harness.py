"""Real harness packages for the export tests, each in its own virtual environment.

The harnesses' dependencies clash (verifiers 0.4 pins mcp 2.0.0, OpenEnv needs mcp < 2, tau2-bench
needs Python >= 3.12), so an export is tested the way a user runs it: in a venv holding that
harness, envsynth (editable, so the venv follows the checkout) and nothing else, driven from the
test as a subprocess. A venv is built once under `.venvs/` (named by its requirements, so a change
of pins builds a new one) and reused; building needs the package registry, as CI has.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

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


@contextlib.contextmanager
def ray_cluster(nodes: int = 3, cpus: int = 1, timeout: float = 120) -> Iterator[str]:
    """A real Ray cluster on this machine - a head and nodes-1 worker nodes on 127.0.0.1, `cpus`
    CPUs each - and its address. Every node is a `ray start --block` process in a process group
    of its own, ended through that group (never `ray stop`, which ends every Ray on the machine)."""
    ray = str(Path(sys.executable).parent / "ray")
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    node = ["--num-cpus", str(cpus), "--node-ip-address", "127.0.0.1", "--block", "--disable-usage-stats"]
    procs: list[subprocess.Popen] = []
    address = f"127.0.0.1:{port}"

    def start(args: list[str], name: str) -> None:
        with open(Path(tmp) / f"{name}.log", "wb") as log:
            procs.append(subprocess.Popen([ray, "start", *args, *node], stdout=log, stderr=subprocess.STDOUT,
                                          env=env, start_new_session=True))

    def wait_for(total_cpus: int, deadline: float) -> None:
        want = f"/{float(total_cpus)} CPU"
        while True:
            done = subprocess.run([ray, "status", "--address", address], capture_output=True, text=True, env=env)
            if want in done.stdout:
                return
            dead = [p.args for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(f.read_text(errors="replace")[-2000:] for f in Path(tmp).glob("*.log"))
                raise RuntimeError(f"the local Ray cluster did not come up ({'a node exited' if dead else 'timeout'}):"
                                   f"\n{done.stdout[-1000:]}{done.stderr[-1000:]}\n{logs}")
            time.sleep(1)

    try:
        deadline = time.monotonic() + timeout
        start(["--head", "--port", str(port), "--include-dashboard=false", "--temp-dir", tmp], "head")
        wait_for(cpus, deadline)  # a worker node that finds no head gives up
        for i in range(1, nodes):  # one at a time: two nodes starting at once on one host can time out
            start(["--address", address], f"worker{i}")
            wait_for((i + 1) * cpus, deadline)
        yield address
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # the node's daemons, in its group
        shutil.rmtree(tmp, ignore_errors=True)
