"""Export datasets as verifiers 0.4 tasksets and check them with the real `vf-validate`.

    .venv/bin/python benchmarks/export_verifiers.py /work/ds200/retail /work/ds200/airline [-n 50]

Per dataset: `envsynth export verifiers` (in this venv), `pip install -e OUT` into the verifiers
harness venv (verifiers==0.4.0, built once under .venvs/ like the tests'), then
`vf-validate envsynth-<slug> --runtime.type subprocess -n N`: the gold check replays each task's
gold calls through the package's tool code and reward (must be valid), the no-op check scores the
untouched task (valid when its reward stays below 1.0). Prints one JSON line per dataset and a
human line; the package is uninstalled afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from harness import harness_python  # noqa: E402
from test_export_verifiers import REQUIREMENTS  # noqa: E402 - the tests' venv

from envsynth.errors import EnvsynthError  # noqa: E402
from envsynth.export import export  # noqa: E402


def sh(args: list, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                           f"{done.stderr[-3000:]}")
    return done


def one(py: Path, directory: Path, n: int, work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{py.parent}{os.pathsep}{env.get('PATH', '')}"
    t0 = time.time()
    out = work / directory.name
    report = export("verifiers", directory, out)
    taskset = report.package.replace("_", "-")
    t_export = time.time() - t0
    sh([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", out], env)
    t_install = time.time() - t0 - t_export
    try:
        t1 = time.time()
        sh([py.parent / "vf-validate", taskset, "--runtime.type", "subprocess", "--rich", "false", "-n", n,
            "-o", work / "runs", "--run.name", taskset], env)
        t_validate = time.time() - t1
        run = work / "runs" / taskset
        summary = json.loads((run / "summary.json").read_text())
        rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line]
    finally:
        subprocess.run([str(py), "-m", "pip", "uninstall", "-y", "--quiet", taskset], capture_output=True,
                       env=env, check=False)
    bad = [{"task": r["name"], "error": r["error"]} for r in rows if r["reason"] != "valid"]
    noop_rewards = sorted({r["noop"].get("reward") for r in rows if isinstance(r.get("noop"), dict)},
                          key=lambda x: (x is None, x))
    return {
        "dataset": str(directory), "taskset": taskset, "exported_tasks": report.tasks,
        "checked": summary["total"], "valid_rate": summary["valid_rate"],
        "gold_valid": summary["checks"]["gold"]["valid"], "noop_valid": summary["checks"]["noop"]["valid"],
        "noop_rewards": noop_rewards, "invalid": bad[:10],
        "seconds": {"export": round(t_export, 1), "install": round(t_install, 1), "vf_validate": round(t_validate, 1)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path, help="dataset directories made by `envsynth generate`")
    ap.add_argument("-n", type=int, default=50, help="tasks per dataset given to vf-validate (default 50)")
    args = ap.parse_args()
    missing = [str(d) for d in args.dirs if not (d / "tasks.jsonl").exists()]
    if missing:
        sys.exit(f"not a dataset directory (no tasks.jsonl): {', '.join(missing)}")
    t0 = time.time()
    py = harness_python("verifiers", REQUIREMENTS)
    print(f"verifiers venv ready in {time.time() - t0:.0f}s: {py}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="envsynth-vf-bench-") as tmp:
        for d in args.dirs:
            try:
                r = one(py, d, args.n, Path(tmp))
            except (EnvsynthError, RuntimeError) as e:
                r = {"dataset": str(d), "error": str(e)[-2000:]}
            results.append(r)
            print(json.dumps(r))
            if "error" in r:
                print(f"{d.name}: FAILED - {r['error'].splitlines()[0]}")
            else:
                print(f"{d.name}: vf-validate valid rate {r['valid_rate']} on {r['checked']} tasks "
                      f"(gold valid {r['gold_valid']}, no-op unsolved {r['noop_valid']}, no-op rewards "
                      f"{r['noop_rewards']}; vf-validate {r['seconds']['vf_validate']}s)")
            sys.stdout.flush()
    ok = [r for r in results if r.get("valid_rate") == 1.0 and r.get("checked") == min(args.n, r.get("exported_tasks", 0))]
    print(f"ALL: {len(ok)}/{len(results)} datasets at valid rate 1.0")
    sys.exit(0 if len(ok) == len(results) else 1)


if __name__ == "__main__":
    main()
