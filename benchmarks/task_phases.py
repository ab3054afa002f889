"""Where one task's time goes: a Generator is built in this process, the shapes of the first N
indices are drawn (the parent's work in `generate`, timed apart), then the N tasks are built in
order (a worker's work), and the per-phase timings the synthesizer records are averaged.

    python benchmarks/task_phases.py specs/airline.yaml -n 300
    python benchmarks/task_phases.py benchmarks/specs/400/composed400.yaml -n 40   # after compose.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solver.generate import GenerateOptions, Generator  # noqa: E402
from solver.spec.loader import load_domain  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-j", "--workers", type=int, default=2, help="processes for the planning only")
    a = ap.parse_args()
    domain = load_domain(a.spec)
    t0 = time.perf_counter()
    gen = Generator(domain, GenerateOptions(seed=a.seed), workers=a.workers)
    plan_s = time.perf_counter() - t0
    drawer = gen.drawer()
    t0 = time.perf_counter()
    items = [drawer.item(i) for i in range(a.n)]
    draw_ms = 1000 * (time.perf_counter() - t0) / a.n
    phases: Counter = Counter()
    written = 0
    t0 = time.perf_counter()
    for item in items:
        r = gen.task(item)
        written += r.line is not None
        phases.update(r.timings)
    task_ms = 1000 * (time.perf_counter() - t0) / a.n
    print(f"{len(domain.tools)} tools: planning {plan_s:.1f} s; shape draw (parent) {draw_ms:.1f} ms per index; "
          f"task (worker) {task_ms:.1f} ms per index, {written}/{a.n} written")
    for k, v in phases.most_common():
        print(f"  {k:8s} {1000 * v / a.n:6.1f} ms")


if __name__ == "__main__":
    main()
