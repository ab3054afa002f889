"""Export datasets for Hugging Face datasets / TRL and check them with the real packages.

    .venv/bin/python benchmarks/export_hf.py /work/ds200/retail /work/ds200/airline [-n 50]

Per dataset: `envsynth export hf` inside the hf harness venv (datasets 5.2, transformers 5.x,
trl 1.16, CPU torch; built once under .venvs/ like the tests'), then over the first N tasks:
SFT rows whose every tool call's arguments survive load -> save -> load in datasets (JSONL and
Parquet, each saved as JSONL, Parquet and save_to_disk), tools whose get_json_schema from the
TRL environment class equals the task schema (modulo the documented differences), gold runs
through the class + reward_func scoring 1.0, and no-op runs scoring 0.0. Prints one JSON line per
dataset and a human line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from harness import harness_python, last_json, run_in  # noqa: E402
from test_export_hf import GRPO, REQUIREMENTS  # noqa: E402 - the same venv and GRPOTrainer run as the tests

CHECK = r"""
import importlib, inspect, json, sys, time
import datasets
from transformers.utils import get_json_schema
from envsynth.export.episode import Catalog
from envsynth.tasks.model import requests
datasets.disable_progress_bars()
out, package, work, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, out)
cat = Catalog(f"{out}/{package}/data")
ids = cat.ids()[:n]
gold = {t: [[a, b] for a, b, _ in requests(cat.task(t))] for t in ids}
same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)

def intact(ds):
    ok = 0
    for row in ds:
        if row["task_id"] in gold:
            calls = [[c["function"]["name"], c["function"]["arguments"]] for m in row["messages"] for c in (m.get("tool_calls") or [])]
            ok += same(calls, gold[row["task_id"]])
    return ok

t0 = time.time()
rt = {}
for kind, ext in (("json", "jsonl"), ("parquet", "parquet")):
    ds = datasets.load_dataset(kind, data_files=f"{out}/sft.{ext}", split="train").select(range(len(ids)))
    ds.to_json(f"{work}/{ext}.jsonl"); ds.to_parquet(f"{work}/{ext}.parquet"); ds.save_to_disk(f"{work}/{ext}.disk")
    rt[ext] = min(intact(ds), intact(datasets.load_dataset("json", data_files=f"{work}/{ext}.jsonl", split="train")),
                  intact(datasets.load_dataset("parquet", data_files=f"{work}/{ext}.parquet", split="train")),
                  intact(datasets.load_from_disk(f"{work}/{ext}.disk")))
t_rt = time.time() - t0

def documented(tool):
    f = tool["function"]; params = f["parameters"]; req = params.get("required", []); props = {}
    for name, s in params["properties"].items():
        p = {k: v for k, v in s.items() if k not in ("minimum", "maximum", "description")}
        text = s.get("description") or name.replace("_", " ")
        lo, hi = s.get("minimum"), s.get("maximum")
        text += f" (from {lo} to {hi})" if lo is not None and hi is not None else f" (at least {lo})" if lo is not None else f" (at most {hi})" if hi is not None else ""
        p["description"] = text
        if name not in req:
            p["nullable"] = True
        props[name] = p
    parameters = {"type": "object", "properties": props}
    if req:
        parameters["required"] = req
    return {"type": "function", "function": {"name": f["name"], "description": f["description"], "parameters": parameters}}

m = importlib.import_module(package)
env = m.Environment()
names = {nm for nm, _ in inspect.getmembers(type(env), predicate=inspect.isfunction) if nm not in ("reset", "get_reward") and not nm.startswith("_")}
tools = cat.tools
schema_ok = sum(nm in names and get_json_schema(getattr(env, nm)) == documented(t) for t in tools for nm in [t["function"]["name"]])

t0 = time.time()
rl = datasets.load_dataset("parquet", data_files=f"{out}/rl.parquet", split="train").select(range(len(ids)))
sft = datasets.load_dataset("parquet", data_files=f"{out}/sft.parquet", split="train").select(range(len(ids)))
gold_one = noop_zero = 0
for row, s in zip(rl, sft):
    env.reset(**row)
    for msg in s["messages"]:
        for c in msg.get("tool_calls") or []:
            getattr(env, c["function"]["name"])(**c["function"]["arguments"])
    m.reward_func(completions=[s["messages"][2:]], environments=[env])
    gold_one += env.get_reward() == 1.0
    env.reset(**row)
    m.reward_func(completions=[[{"role": "assistant", "content": "Sorry, I cannot help with that."}]], environments=[env])
    noop_zero += env.get_reward() == 0.0
t_play = time.time() - t0
print(json.dumps({"rows": len(ids), "round_trip_jsonl": rt["jsonl"], "round_trip_parquet": rt["parquet"],
                  "tools": len(tools), "schema_match": schema_ok, "gold_reward_1": gold_one, "noop_reward_0": noop_zero,
                  "round_trip_s": round(t_rt, 1), "play_s": round(t_play, 1)}))
"""

EXPORT = ("import sys, json, time; from envsynth.export import export; t = time.time(); "
          "r = export('hf', sys.argv[1], sys.argv[2]); "
          "print(json.dumps({'tasks': r.tasks, 'package': r.package, 'notes': r.notes, 's': round(time.time() - t, 1)}))")


def grpo(py: Path, out: Path, package: str, k: int) -> dict:
    """Run the k longest tasks (by calls, answers and refusals first; transcripts short enough for
    the tiny model's context) through the real GRPOTrainer: one gold and one no-op rollout each."""
    rows = [json.loads(line) for line in (out / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    rl = {r["task_id"]: r for r in map(json.loads, (out / "rl.jsonl").read_text(encoding="utf-8").splitlines())}

    def rank(row):
        calls = sum(len(m.get("tool_calls") or []) for m in row["messages"])
        return (calls, bool(rl[row["task_id"]]["answers"]), bool(rl[row["task_id"]]["refusals"]))

    fits = [r for r in rows if len(json.dumps(r["messages"][2:])) < 6000]
    ids = [r["task_id"] for r in sorted(fits, key=rank, reverse=True)[:k]]
    t = time.time()
    rep = last_json(run_in(py, GRPO, str(out), package, json.dumps(ids)))
    gold = [s for s in rep["seen"][0::2]]
    noop = [s for s in rep["seen"][1::2]]
    return {"grpo_tasks": len(ids), "grpo_calls": [len(s["calls"]) for s in gold],
            "grpo_gold_1": sum(s["reward"] == 1.0 for s in gold), "grpo_noop_0": sum(s["reward"] == 0.0 for s in noop),
            "grpo_s": round(time.time() - t, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("-n", type=int, default=50, help="tasks checked per dataset (default 50)")
    ap.add_argument("--grpo", type=int, default=1, help="tasks per dataset also run through the real GRPOTrainer "
                    "(tiny scripted model, gold + no-op rollout; about 30-60 s each on a CPU; default 1)")
    args = ap.parse_args()
    t = time.time()
    py = harness_python("hf", REQUIREMENTS)
    print(f"hf venv ready in {time.time() - t:.1f}s: {py}", file=sys.stderr)
    results = []
    for d in args.dirs:
        with tempfile.TemporaryDirectory() as tmp:
            out, work = Path(tmp) / "out", Path(tmp) / "work"
            work.mkdir()
            exp = last_json(run_in(py, EXPORT, str(d), str(out)))
            if not exp["package"]:
                print(json.dumps({"dataset": str(d), "error": exp["notes"]}))
                continue
            rep = {"dataset": str(d), "exported": exp["tasks"], "export_s": exp["s"],
                   **last_json(run_in(py, CHECK, str(out), exp["package"], str(work), str(args.n)))}
            if args.grpo:
                rep.update(grpo(py, out, exp["package"], args.grpo))
        results.append(rep)
        print(json.dumps(rep))
        print(f"{d.name}: exported {rep['exported']} tasks in {rep['export_s']}s; of {rep['rows']} checked: "
              f"round trip intact {rep['round_trip_jsonl']} (JSONL) / {rep['round_trip_parquet']} (Parquet), "
              f"schemas {rep['schema_match']}/{rep['tools']} tools, gold reward 1.0: {rep['gold_reward_1']}, "
              f"no-op reward 0.0: {rep['noop_reward_0']}"
              + (f"; GRPOTrainer: gold 1.0 on {rep['grpo_gold_1']}/{rep['grpo_tasks']} (calls {rep['grpo_calls']}), "
                 f"no-op 0.0 on {rep['grpo_noop_0']}" if "grpo_tasks" in rep else ""), file=sys.stderr)
    bad = [r for r in results if not (r["round_trip_jsonl"] == r["round_trip_parquet"] == r["gold_reward_1"]
                                      == r["noop_reward_0"] == r["rows"] and r["schema_match"] == r["tools"]
                                      and r.get("grpo_gold_1", 0) == r.get("grpo_noop_0", 0) == r.get("grpo_tasks", 0))]
    return 1 if bad or len(results) < len(args.dirs) else 0


if __name__ == "__main__":
    sys.exit(main())
