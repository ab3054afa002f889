"""End-to-end benchmark: tasks per second, time per stage, verification speed and variety.

    python benchmarks/bench.py                 # airline and retail, 500 tasks, 1 and 2 workers
    python benchmarks/bench.py -n 200 --domains airline --json bench.json

Every number comes from one run of this script on one machine, so ratios between rows are
meaningful; absolute numbers depend on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from envsynth.generate import GenerateOptions, generate
from envsynth.loader import load_domain
from envsynth.verify import iter_tasks, verify_dir

STAGES = ["walks", "solve", "fill", "replay", "proofs", "render"]


def variety(directory: Path, domain) -> dict:
    """Distinct tool sequences and instructions, and the spread of numeric fields of the records
    the gold trajectories act on (are they realistic, or piled on a bound?)."""
    seqs, instr = Counter(), set()
    values: dict[str, list] = {}
    for task in iter_tasks(directory / "tasks.jsonl"):
        seqs[task.meta.walk] += 1
        instr.add(task.instruction)
        ids = {v for a in task.gold_actions for v in a.arguments.values() if isinstance(v, str)}
        for ent, table in task.initial_db.items():
            for rid in ids & set(table):
                for fname, info in domain.entities[ent].fields.items():
                    if info.type.kind in ("money", "int") and not info.default:
                        values.setdefault(f"{ent}.{fname}", []).append(table[rid][fname])
    spread = {}
    for key, vals in sorted(values.items()):
        ent, fname = key.split(".")
        t = domain.entities[ent].fields[fname].type
        lo, hi = t.lo / t.scale, t.hi / t.scale
        spread[key] = {
            "n": len(vals),
            "distinct": len(set(vals)),
            "min": min(vals),
            "median": statistics.median(vals),
            "max": max(vals),
            "at_bound_share": round(sum(1 for v in vals if v in (lo, hi)) / len(vals), 3),
        }
    return {"tool_sequences": len(seqs), "instructions": len(instr), "spread": spread}


def run(domain_name: str, n: int, workers: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        report = generate(domain_name, out, GenerateOptions(n=n, seed=seed), workers=workers)
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        checks = verify_dir(out)
        verify_s = time.perf_counter() - t1
        assert all(c.ok for c in checks), [c for c in checks if not c.ok][:3]
        manifest = json.loads((out / "manifest.json").read_text())
        var = variety(out, load_domain(domain_name)) if workers == 1 else None
    stage = dict(report.timings)
    stage["walks"] = report.walk_seconds
    return {
        "domain": domain_name,
        "workers": workers,
        "tasks": report.tasks,
        "seconds": round(wall, 2),
        "tasks_per_s": round(report.tasks / wall, 1),
        "verify_tasks_per_s": round(len(checks) / verify_s, 1),
        "stage_ms_per_task": {k: round(1000 * stage.get(k, 0.0) / report.tasks, 2) for k in STAGES},
        "infeasible": manifest["attempts"]["infeasible"],
        "walks": manifest["walk_space"]["walks"],
        "walks_per_s": round(manifest["walk_space"]["walks"] / max(report.walk_seconds, 1e-9), 1),
        "variety": var,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domains", nargs="+", default=["airline", "retail"])
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    rows = []
    print(f"# envsynth benchmark: {args.n} tasks, seed {args.seed}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}\n")
    print("| domain | workers | tasks/s | verify tasks/s | " + " | ".join(f"{s} ms" for s in STAGES)
          + " | infeasible |")
    print("|---|---|---|---|" + "---|" * len(STAGES) + "---|")
    for d in args.domains:
        for w in args.workers:
            r = run(d, args.n, w, args.seed)
            rows.append(r)
            st = r["stage_ms_per_task"]
            print(f"| {d} | {w} | {r['tasks_per_s']} | {r['verify_tasks_per_s']} | "
                  + " | ".join(str(st[s]) for s in STAGES) + f" | {r['infeasible']} |", flush=True)
    print("\nStage times are summed over workers (CPU time per task); `walks` is the one-off clingo "
          "enumeration, shared by all tasks.\n")
    for r in rows:
        if r["variety"]:
            v = r["variety"]
            print(f"## {r['domain']}: {v['tool_sequences']} distinct tool sequences, "
                  f"{v['instructions']} distinct instructions in {r['tasks']} tasks; "
                  f"{r['walks']} walks enumerated ({r['walks_per_s']} walks/s)")
            print("| field | values | distinct | min | median | max | share on a bound |")
            print("|---|---|---|---|---|---|---|")
            for key, s in v["spread"].items():
                print(f"| {key} | {s['n']} | {s['distinct']} | {s['min']} | {s['median']} | {s['max']} | "
                      f"{s['at_bound_share']} |")
            print()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
