"""Long-horizon tasks (issue 13): how long walks are found, how fast long tasks are made, and
what long-mix datasets look like.

    python benchmarks/long_horizon.py planner  [--domains airline,hr] [--lengths 8,12,16]
    python benchmarks/long_horizon.py throughput [--domains ...] [--lengths 2,5,10,15] [-n 20]
    python benchmarks/long_horizon.py sets [--domains airline,retail,hr,itsm] [-n 500] [-j 2] [--keep DIR]
    python benchmarks/long_horizon.py coverage [--domains all six] [-n 60] [--default-n 100] [--keep DIR]

planner: the time to find one walk of L steps, two ways - the planner asked directly (clingo, one
walk of exactly L steps ending in a goal, randomized decisions, grounded for the goal's scope;
each solve in a child process stopped after --timeout seconds), and the chain builder
(plan/chain.py: intents chained through shared records, each extension re-checked).
throughput: tasks/s of `generate` with every task of one length (lengths beyond --max-len chained).
sets: a long mix per domain (--mix); the share of tasks with >= 8 and >= 12 gold steps, `verify`
with the second engine on every task, the distractor-blind agent's reward on tasks that list a
near miss before a target (must be 0), and edge coverage per length bucket.
coverage: per domain, a long-mix set and a default-mix set (`generate` without --length-mix) and
what `envsynth stats` says of each: edges covered of the graph's, per length bucket of the mix,
and how many uncovered edges have each kind of reason (never, unreachable within N steps,
infeasible, not built, not sampled: coverage.explain_uncovered). With --keep, sets already in
DIR/long/<domain> and DIR/default/<domain> are read, not made again.
Prints one JSON object per measurement. CPU seconds (`cpu_s`) are given beside wall seconds: the
machine these ran on is shared.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import statistics
import tempfile
import time
from pathlib import Path

from envsynth.coverage import Coverage, coverage_report, graph_edges, mix_starts, walk_bound
from envsynth.generate import GenerateOptions, Generator, generate, summarize
from envsynth.plan.chain import ChainBuilder
from envsynth.plan.facts import AspOptions
from envsynth.plan.planner import Planner, sample_walk
from envsynth.play.agents import DistractorBlind, evaluate, resolves_near_miss
from envsynth.spec.loader import load_domain
from envsynth.tasks.difficulty import parse_length_mix
from envsynth.verify import check_task, iter_tasks

LONG_MIX = "1-4:1,5-7:1,8-11:1,12-16:1"


def _direct(spec: str, goal: str, length: int, seed: int, out) -> None:
    """One walk of `length` steps ending in `goal`, as many goals as steps allowed (no single
    intent takes 8 steps), every tool, 4 slots per entity (what the chained walks use)."""
    t0, c0 = time.perf_counter(), time.process_time()
    domain = load_domain(spec)
    opts = AspOptions(slots={e: 4 for e in domain.entities if e != domain.actor}, max_goals=length, target=goal)
    w = sample_walk(domain, length, seed, opts)
    out.put((w is not None, time.perf_counter() - t0, time.process_time() - c0))


def direct_walk(spec: str, goal: str, length: int, seed: int, timeout: float) -> dict:
    """One direct draw in a child process (clingo cannot be interrupted from Python otherwise)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_direct, args=(spec, goal, length, seed, q))
    t0 = time.perf_counter()
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        return {"found": None, "seconds": round(time.perf_counter() - t0, 2), "timed_out": True}
    found, secs, cpu = q.get()
    return {"found": found, "seconds": round(secs, 2), "cpu_s": round(cpu, 2), "timed_out": False}


def planner(args) -> None:
    for spec in args.domains:
        domain = load_domain(spec)
        goals = Planner(domain).goals()
        gen = Generator(domain, GenerateOptions(n=1, seed=0, max_len=args.max_len))
        for length in args.lengths:
            rng = random.Random(length)
            direct = [direct_walk(spec, goals[k % len(goals)], length, k, args.timeout) for k in range(args.draws)]
            if args.direct_only:
                print(json.dumps({"measure": "one_long_walk_direct", "domain": spec, "length": length,
                                  "found": sum(1 for d in direct if d["found"]), "per_draw": direct}), flush=True)
                continue
            chains = ChainBuilder(domain, gen.walks)  # a cold builder per length: its checks are not cached
            times, cpus, found = [], [], 0
            for _ in range(args.draws):
                t0, c0 = time.perf_counter(), time.process_time()
                w = chains.build(length, rng)
                times.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                found += w is not None
            print(json.dumps({
                "measure": "one_long_walk", "domain": spec, "length": length,
                "direct": {"draws": len(direct), "found": sum(1 for d in direct if d["found"]),
                           "timed_out": sum(1 for d in direct if d["timed_out"]), "timeout_s": args.timeout,
                           "median_s": round(statistics.median(d["seconds"] for d in direct), 2),
                           "per_draw": direct},
                "chained": {"draws": args.draws, "found": found, "median_s": round(statistics.median(times), 2),
                            "median_cpu_s": round(statistics.median(cpus), 2), "checks": len(chains.accepted)},
            }), flush=True)


def throughput(args) -> None:
    for spec in args.domains:
        for length in args.lengths:
            with tempfile.TemporaryDirectory() as d:
                opts = GenerateOptions(n=args.n, seed=args.seed, max_len=args.max_len, length_mix={length: 1.0})
                t0, c0 = time.perf_counter(), time.process_time()
                r = generate(spec, Path(d), opts, workers=args.workers)
                secs = time.perf_counter() - t0
                print(json.dumps({"measure": "throughput", "domain": spec, "length": length, "tasks": r.tasks,
                                  "seconds": round(secs, 1), "tasks_per_s": round(r.tasks / secs, 3),
                                  "parent_cpu_s": round(time.process_time() - c0, 1), "workers": args.workers,
                                  "task_indices": r.indices}), flush=True)


def sets(args) -> None:
    base = args.keep or Path(tempfile.mkdtemp(prefix="envsynth-long-"))
    mix = parse_length_mix(args.mix)
    starts = sorted({int(part.split(":")[0].split("-")[0]) for part in args.mix.split(",")})  # range starts
    for spec in args.domains:
        d = base / spec
        opts = GenerateOptions(n=args.n, seed=args.seed, max_len=args.max_len, length_mix=mix)
        t0 = time.perf_counter()
        r = generate(spec, d, opts, workers=args.workers)
        secs = time.perf_counter() - t0
        domain = load_domain(d / "spec.yaml")
        tasks = list(iter_tasks(d / "tasks.jsonl"))
        lengths = [t.difficulty.length for t in tasks]
        bad = [t.id for t in tasks if not check_task(domain, t, second_engine=True).ok]
        blind = evaluate(domain, [t for t in tasks if resolves_near_miss(t)], DistractorBlind())
        cov = Coverage()
        for t in tasks:
            cov.add(summarize(domain, t))
        buckets = cov.by_length(domain, starts)
        print(json.dumps({
            "measure": "long_mix_set", "domain": spec, "mix": args.mix, "tasks": len(tasks),
            "seconds": round(secs, 1), "tasks_per_s": round(len(tasks) / secs, 3), "task_indices": r.indices,
            "share_8_or_more": round(sum(n >= 8 for n in lengths) / len(lengths), 3),
            "share_12_or_more": round(sum(n >= 12 for n in lengths) / len(lengths), 3),
            "longest": max(lengths), "verified": len(tasks) - len(bad), "failed_verify": bad[:5],
            "distractor_blind_with_near_miss_first": {"tasks": len(blind.with_distractors),
                                                       "mean_reward": blind.to_json()["with_distractors"]["mean_reward"]},
            "edges_total": len(graph_edges(domain)),
            "edges_covered": sum(1 for e in cov.edges if e in {"|".join(x) for x in graph_edges(domain)}),
            "by_length": {k: {kk: v[kk] for kk in ("tasks", "tools_covered", "edges_covered", "branches_covered")}
                          for k, v in buckets.items()},
            "difficulty": cov.difficulty(),
            "directory": str(d),
        }), flush=True)


def _coverage_of(spec: str, d: Path, opts: GenerateOptions, workers: int, starts: list[int]) -> dict:
    """Make the set in `d` (unless it is there), then what `stats` reports of it."""
    made, secs = False, None
    if not (d / "tasks.jsonl").exists():
        t0 = time.perf_counter()
        generate(spec, d, opts, workers=workers)
        made, secs = True, round(time.perf_counter() - t0, 1)
    domain = load_domain(d / "spec.yaml")
    cov = Coverage()
    for t in iter_tasks(d / "tasks.jsonl"):
        cov.add(summarize(domain, t))
    t0 = time.perf_counter()
    rep = coverage_report(domain, cov, walk_bound(d), starts)
    return {"tasks": rep["tasks"], "generated_now": made, "generate_s": secs, "longest": max(cov.lengths),
            "edges": f"{rep['edges_covered']}/{rep['edges_total']}", "tools": f"{rep['tools_covered']}/{rep['tools_total']}",
            "branches": f"{rep['branches_covered']}/{rep['branches_total']}",
            "edges_by_bucket": {k: f"{b['edges_covered']}/{b['edges_total']} ({b['tasks']} tasks)"
                                for k, b in rep["by_length"].items()},
            "uncovered_edge_reasons": rep["uncovered_edge_reasons"],
            "uncovered_tool_reasons": rep["uncovered_tool_reasons"],
            "explain_s": round(time.perf_counter() - t0, 1), "directory": str(d)}


def coverage(args) -> None:
    base = args.keep or Path(tempfile.mkdtemp(prefix="envsynth-cov-"))
    mix = parse_length_mix(args.mix)
    starts = mix_starts(mix)
    for spec in args.domains:
        long = _coverage_of(spec, base / "long" / spec, GenerateOptions(n=args.n, seed=args.seed, max_len=args.max_len,
                                                                        length_mix=mix), args.workers, starts)
        default = _coverage_of(spec, base / "default" / spec,
                               GenerateOptions(n=args.default_n, seed=args.seed, max_len=args.max_len),
                               args.workers, [])
        print(json.dumps({"measure": "edge_coverage", "domain": spec, "mix": args.mix, "long_mix": long,
                          "default_mix": default}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["planner", "throughput", "sets", "coverage"])
    ap.add_argument("--domains", default="airline,retail,hr,itsm")
    ap.add_argument("--lengths", default=None)
    ap.add_argument("-n", type=int, default=None)
    ap.add_argument("-j", "--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-len", type=int, default=4)
    ap.add_argument("--draws", type=int, default=3, help="planner: walks drawn per length and way")
    ap.add_argument("--timeout", type=float, default=60.0, help="planner: seconds per direct draw")
    ap.add_argument("--direct-only", action="store_true", help="planner: only the direct draws")
    ap.add_argument("--mix", default=LONG_MIX)
    ap.add_argument("--default-n", type=int, default=100, help="coverage: tasks of the default-mix set")
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    if args.domains == "all":
        args.domains = "airline,retail,hr,itsm,banking,calendar"
    args.domains = args.domains.split(",")
    default_lengths = {"planner": "8,12,16", "throughput": "2,5,10,15", "sets": "", "coverage": ""}[args.what]
    args.lengths = [int(x) for x in (args.lengths or default_lengths).split(",") if x]
    args.n = args.n or {"planner": 0, "throughput": 20, "sets": 500, "coverage": 60}[args.what]
    {"planner": planner, "throughput": throughput, "sets": sets, "coverage": coverage}[args.what](args)


if __name__ == "__main__":
    main()
