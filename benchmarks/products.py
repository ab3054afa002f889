"""Z3 solve time per task with and without a product of two variables (retail's quantity x price).

    python benchmarks/products.py                 # retail walks up to 4 steps through the product tools
    python benchmarks/products.py --max-len 3 --repeat 5 --json products.json
    python benchmarks/products.py --max-quantity 1000   # the largest span a factor may have

Three encodings of the same walks, solved with `solve_walk` (the Z3 part of generation: near
misses, hints, the model):

- `binary`    the shipped spec: `quantity * variant.price` with quantity in [1, 4] written in binary
              (quantity = 1 + b0 + 2*b1, product = price + b0*price + b1*2*price) - linear;
- `none`      the same spec with every product replaced by the unit price (quantity still chosen,
              but never multiplied): the cost of the language before products;
- `nonlinear` the shipped spec with the product handed to Z3 as a plain x*y term (what a naive
              encoder would do; the solver is QF_LIA, so this shows why the binary encoding exists).

Only walks that call place_order, return_item or exchange_item are timed. Per encoding: how many
walks solved, were infeasible or failed, and the median / mean / 90th percentile solve time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from envsynth import registry
from envsynth.plan.planner import enumerate_walks
from envsynth.spec.loader import parse_spec_text
from envsynth.state import world
from envsynth.state.solve import solve_walk
from envsynth.state.synth import Infeasible, SynthOptions

PRODUCT_TOOLS = {"place_order", "return_item", "exchange_item"}
WITHOUT = [  # the products of specs/retail.yaml and what they were before quantities
    ("quantity * variant.price", "variant.price"),
    ("item.quantity * item.price", "item.price"),
    ("item.quantity * (new_variant.price - item.price)", "new_variant.price - item.price"),
]


def spec_text(path: Path, max_quantity: int) -> str:
    """retail's spec, with at most `max_quantity` units per order line (4 as shipped)."""
    text = path.read_text(encoding="utf-8")
    if max_quantity != 4:
        for old in ("quantity: {type: int, min: 1, max: 4", 'quantity: {type: int, min: 1, max: 4'):
            text = text.replace(old, f"quantity: {{type: int, min: 1, max: {max_quantity}")
        text = text.replace("total: {type: money, min: 5, max: 1600}", f"total: {{type: money, min: 5, max: {400 * max_quantity}}}")
    return text


def spec_without_products(path: Path, max_quantity: int):
    text = spec_text(path, max_quantity)
    for old, new in WITHOUT:
        assert old in text, f"{old!r} is no longer in {path}: update benchmarks/products.py"
        text = text.replace(old, new)
    return parse_spec_text(text, str(path))


def time_walks(domain, walks, repeat: int) -> dict:
    times, solved, infeasible, failed = [], 0, 0, {}
    try:  # warm up (first-use costs of Z3 and of the spec's caches are not the encoding's)
        solve_walk(domain, walks[0], random.Random(0), SynthOptions(), world.Symbols(domain))
    except Exception:  # noqa: BLE001
        pass
    for i, walk in enumerate(walks):
        best = None
        outcome = "ok"
        for _ in range(repeat):
            t0 = time.perf_counter()
            try:
                solve_walk(domain, walk, random.Random(1000 + i), SynthOptions(), world.Symbols(domain))
            except Infeasible:
                outcome = "infeasible"
            except Exception as e:  # noqa: BLE001 - a naive encoding may be refused by the solver
                outcome = f"{type(e).__name__}: {str(e)[:80]}"
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        times.append(best)
        if outcome == "ok":
            solved += 1
        elif outcome == "infeasible":
            infeasible += 1
        else:
            failed[outcome] = failed.get(outcome, 0) + 1
    ms = sorted(t * 1000 for t in times)
    return {"walks": len(walks), "solved": solved, "infeasible": infeasible, "failed": failed,
            "median_ms": round(statistics.median(ms), 2), "mean_ms": round(statistics.fmean(ms), 2),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-len", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3, help="solves per walk (the fastest counts)")
    ap.add_argument("--max-quantity", type=int, default=4, help="units per order line (span of the small factor)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    path = registry.shipped_spec("retail")
    shipped = parse_spec_text(spec_text(path, args.max_quantity), str(path))
    plain = spec_without_products(path, args.max_quantity)
    walks = [w for w in enumerate_walks(shipped, max_len=args.max_len)
             if PRODUCT_TOOLS & {s.tool for s in w.steps}]
    report = {"domain": "retail", "max_len": args.max_len, "max_quantity": args.max_quantity, "walks": len(walks)}
    report["binary"] = time_walks(shipped, walks, args.repeat)
    report["none"] = time_walks(plain, walks, args.repeat)
    real = world.Z3Terms.product
    world.Z3Terms.product = lambda self, a, b, small: a * b
    try:
        report["nonlinear"] = time_walks(shipped, walks, args.repeat)
    finally:
        world.Z3Terms.product = real
    for mode in ("binary", "none", "nonlinear"):
        r = report[mode]
        print(f"{mode:10s} {r['solved']:3d}/{r['walks']} solved, {r['infeasible']} infeasible, "
              f"failed {r['failed'] or 0}; median {r['median_ms']} ms, mean {r['mean_ms']} ms, p90 {r['p90_ms']} ms")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
