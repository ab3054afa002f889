"""envsynth benchmarks: throughput, time per stage, near-miss cost, walk space, learning, coverage.

    python benchmarks/bench.py                       # everything, airline and retail, 500 tasks
    python benchmarks/bench.py --sections throughput --domains airline -n 200
    python benchmarks/bench.py --json bench.json     # also write the numbers

Every number comes from one run of this script on one machine, so ratios between rows are
meaningful; absolute numbers depend on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from envsynth.plan.facts import AspOptions
from envsynth.plan.canonical import canonical_key
from envsynth.coverage import Coverage, reachable_within
from envsynth.generate import GenerateOptions, generate, summarize
from envsynth.spec.loader import load_domain
from envsynth.verify import iter_tasks, verify_dir
from envsynth.plan.planner import WalkStats, check_walk, enumerate_walks, sample_walk

STAGES = ["walks", "solve", "fill", "replay", "unique", "render", "verify"]
AGENTS = [("oracle", 1), ("noop", 1), ("random", 3), ("distractor-blind", 1)]
RESULTS: dict = {}


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
                    if info.type.kind in ("money", "int") and info.default is None:
                        values.setdefault(f"{ent}.{fname}", []).append(table[rid][fname])
    spread = {}
    for key, vals in sorted(values.items()):
        ent, fname = key.split(".")
        t = domain.entities[ent].fields[fname].type
        lo, hi = t.lo / t.scale, t.hi / t.scale
        spread[key] = {"n": len(vals), "distinct": len(set(vals)), "min": min(vals),
                       "median": round(statistics.median(vals), 2), "max": max(vals),
                       "at_bound_share": round(sum(1 for v in vals if v in (lo, hi)) / len(vals), 3)}
    return {"tool_sequences": len(seqs), "instructions": len(instr), "spread": spread}


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (generate's workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def gen_run(name: str, n: int, workers: int, seed: int, agents: bool = False, **opts) -> dict:
    from envsynth.play.agents import evaluate, load_agent

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0, c0 = time.perf_counter(), cpu_seconds()
        report = generate(name, out, GenerateOptions(n=n, seed=seed, **opts), workers=workers)
        wall, gen_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        t1, c1 = time.perf_counter(), cpu_seconds()
        checks = verify_dir(out)
        verify_s, verify_cpu = time.perf_counter() - t1, cpu_seconds() - c1
        assert all(c.ok for c in checks), [c for c in checks if not c.ok][:3]
        manifest = json.loads((out / "manifest.json").read_text())
        domain = load_domain(name)
        var = variety(out, domain) if agents else None
        evals = {}
        if agents:
            for agent, trials in AGENTS:
                evals[agent] = evaluate(domain, iter_tasks(out / "tasks.jsonl"), load_agent(agent),
                                        trials=trials).to_json()
        cov = None
        if opts.get("multi_intent"):
            c = Coverage()
            for t in iter_tasks(out / "tasks.jsonl"):
                c.add(summarize(domain, t))
            cov = c.report(domain, reachable_within(domain, opts.get("max_len", 4)))
    stage = dict(report.timings)
    stage["walks"] = report.walk_seconds
    return {
        "domain": name, "workers": workers, "options": opts, "tasks": report.tasks,
        "seconds": round(wall, 2), "tasks_per_s": round(report.tasks / wall, 1),
        "verify_tasks_per_s": round(len(checks) / verify_s, 1),
        # CPU per task (this process and its workers; a busy machine moves wall time, not these)
        "generate_cpu_ms_per_task": round(1000 * gen_cpu / report.tasks, 1),
        "verify_cpu_ms_per_task": round(1000 * verify_cpu / len(checks), 1),
        "generate_over_verify": round((gen_cpu / report.tasks) / (verify_cpu / len(checks)), 2),
        "stage_ms_per_task": {k: round(1000 * stage.get(k, 0.0) / report.tasks, 2) for k in STAGES},
        "counts": dict(report.counts), "manifest": manifest, "variety": var, "agents": evals, "coverage": cov,
    }


def section_throughput(domains, n, seed, workers):
    print(f"## Throughput ({n} tasks per row)\n")
    print("| domain | near misses | workers | tasks/s | verify tasks/s | generate CPU ms/task | verify CPU ms/task "
          "| generate/verify | " + " | ".join(f"{s} ms" for s in STAGES) + " |")
    print("|---|---|---|---|---|---|---|---|" + "---|" * len(STAGES))
    rows = []
    for d in domains:
        for w, dist in [(w, 3) for w in workers] + [(1, 0)]:
            r = gen_run(d, n, w, seed, agents=(w == 1 and dist == 3), distractors=dist)
            rows.append(r)
            st = r["stage_ms_per_task"]
            print(f"| {d} | {'on' if dist else 'off'} | {w} | {r['tasks_per_s']} | {r['verify_tasks_per_s']} | "
                  f"{r['generate_cpu_ms_per_task']} | {r['verify_cpu_ms_per_task']} | {r['generate_over_verify']} | "
                  + " | ".join(str(st[s]) for s in STAGES) + " |", flush=True)
    print("\nStage times are CPU milliseconds per task summed over workers; `walks` is the one-off clingo "
          "enumeration; `verify` is the check every task passes before it is written.\n")
    for d in domains:
        on = next(r for r in rows if r["domain"] == d and r["workers"] == 1 and r["options"]["distractors"])
        off = next(r for r in rows if r["domain"] == d and r["workers"] == 1 and not r["options"]["distractors"])
        print(f"- {d}: near misses on/off = {on['tasks_per_s']}/{off['tasks_per_s']} tasks/s "
              f"(ratio {on['tasks_per_s'] / off['tasks_per_s']:.2f}, 1 worker)")
    print("\n| domain | agent | mean reward | tasks with a listed near miss | their mean reward | pass^k |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        for name, e in r["agents"].items():
            pk = ", ".join(f"k={k}: {v}" for k, v in e.get("pass_hat_k", {}).items()) or "-"
            print(f"| {r['domain']} | {name} | {e['mean_reward']} | {e['with_distractors']['tasks']} | "
                  f"{e['with_distractors']['mean_reward']} | {pk} |")
    for r in rows:
        if r["variety"]:
            v = r["variety"]
            print(f"\n{r['domain']}: {v['tool_sequences']} distinct tool sequences, {v['instructions']} distinct "
                  f"instructions in {r['tasks']} tasks; {r['manifest']['dataset']['distinct_shapes']} distinct shapes\n")
            print("| field | values | distinct | min | median | max | share on a bound |")
            print("|---|---|---|---|---|---|---|")
            for key, s in v["spread"].items():
                print(f"| {key} | {s['n']} | {s['distinct']} | {s['min']} | {s['median']} | {s['max']} | "
                      f"{s['at_bound_share']} |")
    print()
    RESULTS["throughput"] = [{k: v for k, v in r.items() if k != "manifest"} for r in rows]


def section_walks(domains, seed):
    print("## Walk space\n")
    print("| domain | max len | walks | canonical | per length | enumeration walks/s | canonical walks/s |")
    print("|---|---|---|---|---|---|---|")
    out = []
    for d in domains:
        dom = load_domain(d)
        for L in (3, 4, 5):
            st = WalkStats()
            t0 = time.perf_counter()
            ws = list(enumerate_walks(dom, max_len=L, stats=st))
            t_enum = time.perf_counter() - t0
            keys = {canonical_key(dom, w) for w in ws}
            t_all = time.perf_counter() - t0
            print(f"| {d} | {L} | {len(ws)} | {len(keys)} | {dict(sorted(st.per_length.items()))} | "
                  f"{len(ws) / t_enum:.0f} | {len(keys) / t_all:.0f} |", flush=True)
            out.append({"domain": d, "max_len": L, "walks": len(ws), "canonical": len(keys)})
    print("\nSampling (clingo, one walk per draw, fresh grounding each): distinct walks in 60 draws of length 4, "
          "2 goals allowed\n")
    print("| domain | clingo seed only | randomized decisions | ms per draw |")
    print("|---|---|---|---|")
    for d in domains:
        dom = load_domain(d)
        opts = AspOptions(max_goals=2)
        row = []
        for randomize in (False, True):
            t0 = time.perf_counter()
            got = [sample_walk(dom, 4, s, opts, randomize=randomize) for s in range(60)]
            ms = (time.perf_counter() - t0) / 60 * 1000
            row.append(len({canonical_key(dom, w) for w in got if w is not None}))
        print(f"| {d} | {row[0]} | {row[1]} | {ms:.1f} |", flush=True)
        out.append({"domain": d, "sample_seed_only": row[0], "sample_randomized": row[1]})
    print()
    RESULTS["walks"] = out


def section_learning(domains, seed, proposals=300):
    """Propose merged walks (the ones that can be numerically impossible) and solve them, with
    and without learning nogoods from unsat cores - same proposals, one run."""
    from envsynth.plan.learning import Learner, learn
    from envsynth.plan.merge import merge
    from envsynth.state.synth import Infeasible, synthesize

    print(f"## Feasibility learning ({proposals} merged-walk proposals per row)\n")
    print("| domain | learning | proposed | solved by Z3 | feasible | pruned | nogoods | feasible per solve |")
    print("|---|---|---|---|---|---|---|---|")
    out = []
    for d in domains:
        dom = load_domain(d)
        ws = list(enumerate_walks(dom, max_len=4))
        rng = random.Random(seed)
        props = []
        while len(props) < proposals:
            m = merge(dom, rng.choice(ws), rng.choice(ws), rng)
            if m is not None and check_walk(dom, m):
                props.append(m)
        for on in (False, True):
            learner = Learner()
            solved = feasible = pruned = 0
            for i, m in enumerate(props):
                if on and learner.match(m):
                    pruned += 1
                    continue
                solved += 1
                try:
                    synthesize(dom, m, i)
                    feasible += 1
                except Infeasible as e:
                    learner.add(learn(m, e.core, e.core_steps, e.core_kinds, e.core_objects))
            ratio = feasible / solved if solved else 0
            print(f"| {d} | {'on' if on else 'off'} | {len(props)} | {solved} | {feasible} | {pruned} | "
                  f"{len(learner)} | {ratio:.3f} |", flush=True)
            out.append({"domain": d, "learning": on, "proposed": len(props), "solved": solved,
                        "feasible": feasible, "pruned": pruned, "nogoods": len(learner)})
    print()
    RESULTS["learning"] = out


def section_coverage(domains, seed, n=1000):
    print(f"## Coverage of a {n}-task dataset (multi-intent share asked: 0.3)\n")
    print("| domain | canonical walks (<= 4 steps) | used | tools | reachable edges covered | all graph edges covered | "
          "branches | multi-intent share | tasks/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    out = []
    for d in domains:
        r = gen_run(d, n, 2, seed, multi_intent=0.3, max_len=4)
        c = r["coverage"]
        print(f"| {d} | {c['canonical_walks']} | {c['canonical_walks_covered']} | {c['tools_covered']}/{c['tools_total']} | "
              f"{c['edges_reachable_covered']}/{c['edges_reachable']} | {c['edges_covered']}/{c['edges_total']} | "
              f"{c['branches_covered']}/{c['branches_total']} | {c['multi_intent_share']} | {r['tasks_per_s']} |",
              flush=True)
        out.append({"domain": d, **{k: c[k] for k in ("canonical_walks", "canonical_walks_covered", "tools_covered",
                                                       "tools_total", "edges_reachable", "edges_reachable_covered",
                                                       "edges_covered", "edges_total", "multi_intent_share")},
                    "counts": r["counts"]})
    print("\n(`reachable` edges: those some single-intent walk within the bound uses; the rest of the graph "
          "needs merged walks.)\n")
    RESULTS["coverage"] = out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domains", nargs="+", default=["airline", "retail"])
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--sections", nargs="+", default=["throughput", "walks", "learning", "coverage"])
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    print(f"# envsynth benchmark: seed {args.seed}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    if "throughput" in args.sections:
        section_throughput(args.domains, args.n, args.seed, args.workers)
    if "walks" in args.sections:
        section_walks(args.domains, args.seed)
    if "learning" in args.sections:
        section_learning(args.domains, args.seed)
    if "coverage" in args.sections:
        section_coverage(args.domains, args.seed)
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
