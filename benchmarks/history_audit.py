"""Records no tool could have made: every record of every initial database re-checked against
the rules its creating tool leaves behind (spec/history.py) and its entity's invariants, in SQL.

    python benchmarks/history_audit.py DIR [DIR ...] [--spec SPEC]

Reads tasks.jsonl as plain JSON (so datasets written by older versions can be audited against
today's spec with --spec) and prints, per dataset and rule, how many records break it and in how
many tasks. Used for the before/after numbers of issue 11:

    envsynth generate banking -n 1000 --seed 101 -o /tmp/a_banking -q
    python benchmarks/history_audit.py /tmp/a_banking
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from envsynth import sqlcheck
from envsynth.spec.history import history
from envsynth.spec.loader import load_domain


def audit(directory: Path, spec: str | None) -> tuple[int, Counter, Counter, int]:
    domain = load_domain(spec or directory / "spec.yaml")
    rules = [(r.entity, f"{r.because}: {r.text}", r.node) for r in history(domain).rules]
    rules += [(e.name, f"invariant: {src}", node) for e in domain.entities.values() for node, src in e.invariants]
    records, tasks = Counter(), Counter()
    n = bad_tasks = 0
    with open(directory / "tasks.jsonl", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            n += 1
            db = json.loads(line)["initial_db"]
            base = sqlcheck.Database(domain, db)
            any_bad = False
            for entity, label, node in rules:
                bad = sqlcheck.breaking(domain, base, entity, node)
                if bad:
                    records[label] += len(bad)
                    tasks[label] += 1
                    any_bad = True
            bad_tasks += any_bad
            base.close()
    return n, records, tasks, bad_tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--spec", help="audit against this spec (default: each dataset's spec.yaml)")
    args = ap.parse_args()
    for d in args.dirs:
        n, records, tasks, bad_tasks = audit(d, args.spec)
        print(f"{d}: {n} tasks, {sum(records.values())} records breaking a rule, in {bad_tasks} tasks")
        for label in sorted(records, key=lambda k: -records[k]):
            print(f"  {records[label]:6} records in {tasks[label]:5} tasks  {label}")


if __name__ == "__main__":
    main()
