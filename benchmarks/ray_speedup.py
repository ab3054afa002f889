"""generate --ray on a local 3-node Ray cluster against -j 1: same bytes, tasks/s, speed-up.

    python benchmarks/ray_speedup.py                      # 1,000 airline tasks; 1, 2, 3 actors
    python benchmarks/ray_speedup.py -n 200 --actors 1,2 --json ray.json

Starts a real cluster on this machine (a head and two worker nodes on 127.0.0.1, one CPU each,
tests/harness.py's ray_cluster) and ends it after. Every run writes the same spec, seed and
options; each dataset is compared byte for byte with the -j 1 one (tasks.jsonl, manifest.json).
"total" is the whole `generate` call (planning, starting actors, writing); "steady" counts from
the first task written to the last, which is what more machines speed up. On one machine the
speed-up is bounded by its cores: the actors, the driver (which plans, then writes and counts
every task) and Ray's own daemons share them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from harness import ray_cluster  # noqa: E402

from envsynth.generate import GenerateOptions, generate  # noqa: E402


def run(out: Path, options: GenerateOptions, **kw) -> dict:
    first: list[float] = []

    def progress(done: int, total: int) -> None:
        if done >= 1 and not first:
            first.append(time.perf_counter())

    t0 = time.perf_counter()
    report = generate(kw.pop("spec"), out, options, progress=progress, **kw)
    t1 = time.perf_counter()
    steady = (report.tasks - 1) / (t1 - first[0]) if first and t1 > first[0] else 0.0
    return {"tasks": report.tasks, "seconds": round(t1 - t0, 2), "tasks_per_s": round(report.tasks / (t1 - t0), 2),
            "steady_tasks_per_s": round(steady, 2), "first_task_s": round(first[0] - t0, 2) if first else None}


def same(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in ("tasks.jsonl", "manifest.json"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default="airline")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--actors", default="1,2,3", help="comma list of actor counts (the cluster has 3 CPUs)")
    ap.add_argument("--local", default="1,2", help="comma list of local -j worker counts (the first is the reference)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    options = GenerateOptions(n=args.n, seed=args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:
        tmp = Path(tmp)
        with ray_cluster(nodes=3, cpus=1) as address:
            ref = None
            for j in [int(x) for x in args.local.split(",")]:
                out = tmp / f"j{j}"
                row = {"run": f"-j {j}", **run(out, options, spec=args.spec, workers=j)}
                ref = ref or out
                row["identical_to_j1"] = same(ref, out)
                rows.append(row)
                print(json.dumps(row), flush=True)
            for k in [int(x) for x in args.actors.split(",")]:
                out = tmp / f"ray{k}"
                row = {"run": f"--ray, {k} actor{'s' if k > 1 else ''}",
                       **run(out, options, spec=args.spec, workers=k, ray=address)}
                row["identical_to_j1"] = same(ref, out)
                rows.append(row)
                print(json.dumps(row), flush=True)
    base = rows[0]
    print(f"\n{args.n} {args.spec} tasks, seed {args.seed}, default options; {os.cpu_count()} cores; "
          "local Ray cluster of 3 nodes x 1 CPU on 127.0.0.1\n")
    print(f"| run | total s | tasks/s | steady tasks/s | speed-up (steady) | first task s | bytes = -j 1 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        up = r["steady_tasks_per_s"] / base["steady_tasks_per_s"] if base["steady_tasks_per_s"] else 0.0
        r["speedup_steady"] = round(up, 2)
        print(f"| {r['run']} | {r['seconds']} | {r['tasks_per_s']} | {r['steady_tasks_per_s']} | {up:.2f}x | "
              f"{r['first_task_s']} | {'yes' if r['identical_to_j1'] else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps({"spec": args.spec, "n": args.n, "seed": args.seed, "rows": rows}, indent=2) + "\n")
    if not all(r["identical_to_j1"] for r in rows):
        sys.exit("a run's output differs from -j 1's")


if __name__ == "__main__":
    main()
