"""generate --ray on a real Ray cluster started here (a head and two worker nodes on 127.0.0.1):
the bytes -j 1 writes, in order, resumable; and plain messages when Ray is absent or unreachable."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envsynth.generate import GenerateOptions, generate

from harness import free_port, ray_cluster

HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed (pip install 'envsynth[ray]')")
N, SEED = 60, 3
OPTIONS = dict(n=N, seed=SEED, max_len=3)
ENVSYNTH = str(Path(sys.executable).parent / "envsynth")


@pytest.fixture(scope="module")
def cluster():
    with ray_cluster(nodes=3, cpus=1) as address:
        yield address


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("j1")
    generate("airline", out, GenerateOptions(**OPTIONS), workers=1)
    return out


def same_files(a: Path, b: Path) -> None:
    for name in ("tasks.jsonl", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ENVSYNTH, *args], capture_output=True, text=True, timeout=600)


@needs_ray
def test_a_ray_run_writes_the_bytes_one_worker_writes(cluster, reference, tmp_path):
    done = cli("generate", "airline", "-n", str(N), "--seed", str(SEED), "--max-len", "3", "-q",
               "-o", str(tmp_path), "--ray", cluster)
    assert done.returncode == 0, done.stderr
    same_files(reference, tmp_path)
    # what Ray says on its own (actors killed with work queued, tracebacks) stays out of the user's way
    assert "Traceback" not in done.stderr and "retries remaining" not in done.stderr, done.stderr


@needs_ray
def test_an_interrupted_ray_run_resumes_to_the_same_bytes(cluster, reference, tmp_path):
    class Stop(Exception):
        pass

    def stop_at_40(done, total):
        if done >= 40:
            raise Stop

    with pytest.raises(Stop):
        generate("airline", tmp_path, GenerateOptions(**OPTIONS), ray=cluster, progress=stop_at_40)
    assert not (tmp_path / "tasks.jsonl").exists()
    partial = tmp_path / "tasks.jsonl.partial"
    partial.write_text(partial.read_text() + '{"torn": tr')  # killed mid-line
    report = generate("airline", tmp_path, GenerateOptions(**OPTIONS), workers=2, ray=cluster)  # fewer actors
    assert report.resumed_from >= 25
    same_files(reference, tmp_path)


class Sleepy:
    """A worker object whose items take uneven times, so they finish out of order."""

    def task(self, item: int) -> tuple[int, int]:
        time.sleep(0.2 if item % 4 == 0 else 0.01)
        return item, os.getpid()


def build_sleepy(payload) -> Sleepy:
    return Sleepy()


@needs_ray
def test_the_ray_map_keeps_order_and_a_bounded_window(cluster):
    import ray.cloudpickle

    from envsynth.cluster import RayPool

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the nodes cannot import this file
    handed = 0

    def items():
        nonlocal handed
        for i in range(60):
            handed += 1
            yield i

    window = 6
    with RayPool(cluster, 3, build_sleepy, None) as pool:
        assert len(set(pool.nodes)) == 3  # one actor per node: one CPU each
        got, most = [], 0
        for item, pid in pool.map(items(), window=window):
            most = max(most, handed - len(got))
            got.append((item, pid))
    assert [i for i, _ in got] == list(range(60))
    assert len({pid for _, pid in got}) == 3  # all three actors worked
    assert most <= window


@needs_ray
def test_an_address_nobody_answers_at_is_a_message(tmp_path):
    port = free_port()
    done = cli("generate", "airline", "-n", "2", "-q", "-o", str(tmp_path), "--ray", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert f"error: no Ray cluster answers at 127.0.0.1:{port}" in done.stderr
    assert "ray start --head" in done.stderr and "Traceback" not in done.stderr
    done = cli("generate", "airline", "-n", "2", "-q", "-o", str(tmp_path), "--ray", "head-node")
    assert done.returncode == 1 and "HOST:PORT" in done.stderr


@needs_ray
def test_more_actors_than_cluster_cpus_is_a_message(cluster, tmp_path):
    done = cli("generate", "airline", "-n", "2", "-q", "-o", str(tmp_path), "-j", "4", "--ray", cluster)
    assert done.returncode == 1
    assert "-j 4 asks for more actors than the Ray cluster's 3 CPUs" in done.stderr, done.stderr


def test_without_ray_installed_the_message_says_how_to_install_it(tmp_path):
    hide = tmp_path / "noray"
    (hide / "ray").mkdir(parents=True)
    (hide / "ray" / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = dict(os.environ, PYTHONPATH=f"{hide}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    done = subprocess.run([ENVSYNTH, "generate", "airline", "-n", "2", "-q", "-o", str(tmp_path / "o"), "--ray"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert "pip install 'envsynth[ray]'" in done.stderr and "Traceback" not in done.stderr, done.stderr
