"""Hostile tool calls against the environment, per domain: what escapes, what slips through.

    python benchmarks/fuzz_calls.py                                  # six domains, 200 tasks x 40 calls
    python benchmarks/fuzz_calls.py --tasks 20 --calls 40 --domains airline,banking
    python benchmarks/fuzz_calls.py --dir out/airline --dir out/hr    # datasets from `envsynth generate`
    python benchmarks/fuzz_calls.py --json                           # the numbers as JSON on stdout

Tasks are generated in memory (seed --seed) unless --dir names datasets, of which the first
--tasks tasks are used. Every task gets a fresh Environment and --calls hostile calls, then a
score, then its gold actions replayed after failed calls (see envsynth.fuzz for the checks).
A runtime without bugs shows zeros in every category column.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from envsynth.spec.model import Domain
from envsynth.play.fuzz import CATEGORIES, FuzzReport, fuzz_tasks
from envsynth.generate import generate_tasks
from envsynth.spec.loader import load_domain
from envsynth.tasks.model import Task
from envsynth.verify import dataset_spec, iter_tasks

DOMAINS = ["airline", "retail", "hr", "itsm", "calendar", "banking"]
COLUMNS = ["calls", "exception", "not_text", "changed_after_error", "out_of_bounds_accepted",
           "bad_record_after_write", "score_raises", "gold_broken_by_errors", "checker_error"]
SHORT = {"changed_after_error": "chg_after_err", "out_of_bounds_accepted": "oob_accepted",
         "bad_record_after_write": "bad_record", "gold_broken_by_errors": "gold_broken",
         "checker_error": "checker_err"}


def sources(args: argparse.Namespace) -> list[tuple[str, Domain, list[Task], float]]:
    """(label, domain, tasks, seconds to get them) for every domain or dataset asked for."""
    out = []
    if args.dir:
        for d in args.dir:
            t0 = time.perf_counter()
            domain = dataset_spec(Path(d))
            tasks = list(itertools.islice(iter_tasks(Path(d) / "tasks.jsonl"), args.tasks))
            out.append((f"{domain.name} ({d})", domain, tasks, time.perf_counter() - t0))
        return out
    for name in args.domains.split(","):
        t0 = time.perf_counter()
        domain = load_domain(name.strip())
        tasks = generate_tasks(domain, args.tasks, seed=args.seed)
        out.append((domain.name, domain, tasks, time.perf_counter() - t0))
    return out


def row(label: str, r: FuzzReport) -> list[str]:
    return [label] + [str(r.calls)] + [str(r.counts[c]) for c in COLUMNS[1:]]


def print_table(results: list[tuple[str, FuzzReport, float, float]]) -> None:
    head = ["domain"] + [SHORT.get(c, c) for c in COLUMNS]
    rows = [row(label, r) for label, r, _, _ in results]
    total = FuzzReport("total")
    for _, r, _, _ in results:
        total.calls += r.calls
        total.counts.update(r.counts)
    rows.append(row("TOTAL", total))
    widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    for i, line in enumerate([head] + rows):
        if i == len(rows):
            print("  ".join("-" * w for w in widths))
        print("  ".join(x.ljust(w) if j == 0 else x.rjust(w) for j, (x, w) in enumerate(zip(line, widths))))
    print()
    for label, r, gen_s, fuzz_s in results:
        print(f"{label}: {r.tasks} tasks, {r.calls} calls ({r.refused} refused, {r.accepted} accepted), "
              f"{r.gold_checks} gold replays after failed calls; tasks {gen_s:.1f}s, fuzzing {fuzz_s:.1f}s")


def print_examples(results: list[tuple[str, FuzzReport, float, float]], n: int) -> None:
    for category in CATEGORIES:
        found = [f for _, r, _, _ in results for f in r.first(category, n)]
        if not found:
            continue
        total = sum(r.counts[category] for _, r, _, _ in results)
        print(f"\n== {category}: {total} (first {n} per domain)")
        for f in found:
            print(f"  {f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=200, help="tasks per domain (default 200)")
    ap.add_argument("--calls", type=int, default=40, help="hostile calls per task (default 40)")
    ap.add_argument("--seed", type=int, default=1, help="seed of task generation and of the fuzzer")
    ap.add_argument("--domains", default=",".join(DOMAINS), help="shipped domains, comma-separated")
    ap.add_argument("--dir", action="append", help="a dataset directory (repeatable); replaces --domains")
    ap.add_argument("--examples", type=int, default=3, help="findings shown per category and domain")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    args = ap.parse_args(argv)

    results = []
    for label, domain, tasks, gen_s in sources(args):
        t0 = time.perf_counter()
        report = fuzz_tasks(domain, tasks, args.calls, args.seed)
        results.append((label, report, gen_s, time.perf_counter() - t0))
        if not args.json:
            print(f"fuzzed {label}: {report.calls} calls", file=sys.stderr)

    if args.json:
        doc = {"tasks": args.tasks, "calls_per_task": args.calls, "seed": args.seed,
               "total_calls": sum(r.calls for _, r, _, _ in results),
               "domains": [{**r.as_dict(args.examples), "label": label, "tasks_seconds": round(g, 2),
                            "fuzz_seconds": round(f, 2)} for label, r, g, f in results]}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_table(results)
        print_examples(results, args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
