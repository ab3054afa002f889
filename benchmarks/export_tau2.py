"""tau2-bench export, checked by tau2 itself: how many tasks tau2's own evaluator scores 1.0 on the gold.

    python benchmarks/export_tau2.py --tau2-python /path/to/py312-venv/bin/python \\
        --tau2-data /path/to/tau2-bench/data /work/ds200/* [-n 50] [--cli-tasks 5]

The tau2 venv must hold tau2-bench (installed from its git checkout: it is not on PyPI) and
envsynth (`pip install -e /path/to/envsynth`). For each dataset directory this

1. exports it (`envsynth export tau2`) and pip-installs the package into the tau2 venv,
2. runs `python -m envsynth_<slug>_tau2.check -n N` there: tau2's `evaluate_simulation` on every
   task's gold trajectory (must be 1.0), and on the same run without its write calls (tasks with
   writes) or without the closing answers (the others) (must be 0.0),
3. runs the unmodified `tau2 run --domain envsynth_<slug> --agent envsynth_replay
   --user envsynth_scripted_user` CLI on the first --cli-tasks tasks (TAU2_DATA_DIR set) and reads
   the rewards from its results.json.

Prints one JSON object per dataset and a human line; exits 1 if any gold run scored below 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envsynth.export import export
from envsynth.export.source import Source


def run(cmd: list[str], env: dict, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


def data_dir(tau2_data: Path, work: Path) -> Path:
    """A TAU2_DATA_DIR holding tau2's user-simulator guidelines (which `tau2 run` reads) and an
    empty simulations/ folder for this run's results."""
    d = work / "tau2-data"
    src = tau2_data / "tau2" / "user_simulator"
    if not src.is_dir():
        sys.exit(f"{tau2_data} is not tau2-bench's data folder (no tau2/user_simulator/ in it)")
    shutil.copytree(src, d / "tau2" / "user_simulator", dirs_exist_ok=True)
    return d


def bench_one(directory: Path, py: Path, tau2_bin: Path, env: dict, work: Path, n: int, cli_tasks: int) -> dict:
    source = Source(directory)
    out = work / f"export-{source.slug}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    report = export("tau2", directory, out)
    t_export = time.perf_counter() - t0
    done = run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                "--disable-pip-version-check", str(out)], env)
    if done.returncode != 0:
        return {"dataset": str(directory), "error": f"pip install failed: {done.stderr[-2000:]}"}
    t0 = time.perf_counter()
    done = run([str(py), "-m", f"{report.package}.check"] + (["--limit", str(n)] if n else []), env)
    t_check = time.perf_counter() - t0
    try:
        check = last_json(done.stdout)
    except ValueError:
        return {"dataset": str(directory), "error": f"check failed: {done.stderr[-3000:]}"}
    domain = check["domain"]
    result = {"dataset": str(directory), "domain": domain, "exported_tasks": report.tasks,
              "export_seconds": round(t_export, 1), "check_seconds": round(t_check, 1), **check}
    if cli_tasks:
        save = f"envsynth_bench_{domain}_{int(time.time())}"
        sims = Path(env["TAU2_DATA_DIR"]) / "simulations" / save
        shutil.rmtree(sims, ignore_errors=True)
        cmd = [str(tau2_bin), "run", "--domain", domain, "--agent", "envsynth_replay",
               "--user", "envsynth_scripted_user", "--num-tasks", str(cli_tasks), "--save-to", save,
               "--log-level", "ERROR"]
        t0 = time.perf_counter()
        done = run(cmd, env)
        rewards = []
        if (sims / "results.json").exists():
            sims_json = json.loads((sims / "results.json").read_text())
            rewards = [s["reward_info"]["reward"] if s.get("reward_info") else None for s in sims_json["simulations"]]
        result["cli"] = {"command": " ".join(cmd[1:]), "returncode": done.returncode, "runs": len(rewards),
                         "scored_1": sum(1 for r in rewards if r == 1.0),
                         "seconds": round(time.perf_counter() - t0, 1)}
        if done.returncode != 0 or not rewards:
            result["cli"]["stderr"] = done.stderr[-2000:]
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path, help="generated dataset directories")
    ap.add_argument("--tau2-python", required=True, type=Path, help="python of a venv with tau2-bench and envsynth")
    ap.add_argument("--tau2-data", type=Path, default=Path(os.environ.get("TAU2_DATA_DIR", "")),
                    help="tau2-bench's data folder (for the user-simulator guidelines); default $TAU2_DATA_DIR")
    ap.add_argument("-n", type=int, default=50, help="tasks per dataset for the evaluator check (0 = all)")
    ap.add_argument("--cli-tasks", type=int, default=5, help="tasks per dataset run through `tau2 run` (0 = skip)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    py = args.tau2_python.absolute()  # not resolve(): a venv's python is a symlink to the base interpreter
    tau2_bin = py.parent / "tau2"
    if not py.exists() or not tau2_bin.exists():
        sys.exit(f"{py} is not the python of a venv with tau2-bench installed (no {tau2_bin})")
    results = []
    with tempfile.TemporaryDirectory(prefix="envsynth-tau2-bench-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "TAU2_DATA_DIR": str(data_dir(args.tau2_data, work)),
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)
        for d in args.dirs:
            if not (d / "tasks.jsonl").exists():
                print(f"skip {d}: no tasks.jsonl", file=sys.stderr)
                continue
            r = bench_one(d, py, tau2_bin, env, work, args.n, args.cli_tasks)
            results.append(r)
            print(json.dumps(r), flush=True)
            if "error" in r:
                print(f"{d}: {r['error'][:300]}", file=sys.stderr)
                continue
            cli = r.get("cli")
            print(f"{r['domain']}: tau2's evaluator scored {r['gold_scored_1']}/{r['tasks']} gold runs 1.0; "
                  f"{r['negatives_scored_0']}/{r['negatives']} runs without writes (or without the answers) 0.0"
                  + (f"; tau2 run CLI: {cli['scored_1']}/{cli['runs']} scored 1.0" if cli else "")
                  + f" (check {r['check_seconds']} s)", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    total = sum(r.get("tasks", 0) for r in results)
    ok = sum(r.get("gold_scored_1", 0) for r in results)
    neg = sum(r.get("negatives", 0) for r in results)
    neg0 = sum(r.get("negatives_scored_0", 0) for r in results)
    print(f"tau2: {ok}/{total} tasks scored 1.0 on the gold by tau2's own evaluator; {neg0}/{neg} scored 0.0 "
          f"without their writes / answers", file=sys.stderr)
    bad = any("error" in r or r.get("gold_scored_1") != r.get("tasks") or r.get("failures")
              or (r.get("cli") and r["cli"]["scored_1"] != r["cli"]["runs"]) for r in results)
    return 1 if bad or not results else 0


if __name__ == "__main__":
    sys.exit(main())
