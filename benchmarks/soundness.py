"""Soundness against any agent, per shipped domain: the exploit-seeking agent next to the oracle
and the no-op, on datasets made the way users make them.

    python benchmarks/soundness.py                      # six domains, 500 tasks each, 20% refusals
    python benchmarks/soundness.py -n 100 --domains airline,banking
    python benchmarks/soundness.py --keep out/sound     # keep the datasets (reused when present)
    python benchmarks/soundness.py --json sound.json

For each domain: `generate -n N --seed S --refusals R -j J`, then `eval` with oracle (must be 1.0),
noop (0.0) and exploit (0.0 on every task it does not solve by doing the gold - it sets such
attempts aside itself), with what each exploit strategy tried and whether any scored.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from envsynth.play.agents import evaluate, load_agent
from envsynth.generate import GenerateOptions, generate
from envsynth.verify import dataset_spec, iter_tasks

DOMAINS = ["airline", "retail", "hr", "itsm", "calendar", "banking"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--refusals", type=float, default=0.2)
    ap.add_argument("-j", "--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--domains", default=",".join(DOMAINS))
    ap.add_argument("--keep", type=Path, default=None, help="Folder for the datasets (reused when present).")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="envsynth-sound-"))
    results = {}
    print(f"{'domain':10} {'tasks':>5} {'gen s':>6} {'oracle':>6} {'noop':>5} {'exploit':>7} {'exploit s':>9}  "
          "exploit attempts (scored) by strategy")
    for name in args.domains.split(","):
        out = base / name
        t0 = time.perf_counter()
        if not (out / "tasks.jsonl").exists():
            generate(name, out, GenerateOptions(n=args.n, seed=args.seed, refusals=args.refusals),
                     workers=args.workers)
        gen_s = time.perf_counter() - t0
        domain = dataset_spec(out)
        row = {"tasks": 0, "generate_seconds": round(gen_s, 1)}
        for agent_name in ("oracle", "noop", "exploit"):
            agent = load_agent(agent_name)
            t0 = time.perf_counter()
            summary = evaluate(domain, iter_tasks(out / "tasks.jsonl"), agent)
            data = summary.to_json()
            row["tasks"] = data["tasks"]
            row[agent_name] = data["mean_reward"]
            row[f"{agent_name}_seconds"] = round(time.perf_counter() - t0, 1)
            if agent_name == "exploit":
                row["exploit_report"] = data["exploit"]
        results[name] = row
        strategies = ", ".join(f"{s} {v['attempts']} ({v['scored']})"
                               for s, v in row["exploit_report"]["strategies"].items())
        print(f"{name:10} {row['tasks']:>5} {gen_s:>6.1f} {row['oracle']:>6} {row['noop']:>5} {row['exploit']:>7} "
              f"{row['exploit_seconds']:>9}  {strategies}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
