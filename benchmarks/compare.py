"""Throughput of two installations of envsynth, measured in one run, alternating.

    python benchmarks/compare.py OLD_VENV NEW_VENV [--domains airline,retail] [-n 500] [--rounds 3]

Each round runs `envsynth generate D -n N --seed 1 -j 1 -q` with the old then the new
installation (wall time, start-up included) and checks the two datasets are byte-identical;
the report gives the best (least disturbed) tasks/s of each and their ratio, and the median. Used to show a refactor keeps
today's throughput.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def run(venv: Path, domain: str, n: int, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(venv / "bin" / "envsynth"), "generate", domain, "-n", str(n), "--seed", "1", "-j", "1",
                    "-q", "-o", str(out)], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--domains", default="airline,retail,hr")
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="envsynth-cmp-"))
    print(f"{'domain':8} {'old tasks/s':>11} {'new tasks/s':>11} {'new/old':>8}  identical   (best of {args.rounds})")
    for domain in args.domains.split(","):
        times: dict[str, list[float]] = {"old": [], "new": []}
        hashes = {}
        for r in range(args.rounds):
            for label, venv in (("old", args.old), ("new", args.new)):
                out = tmp / f"{domain}-{label}-{r}"
                times[label].append(run(venv, domain, args.n, out))
                hashes[label] = hashlib.sha256((out / "tasks.jsonl").read_bytes()).hexdigest()
        old, new = (args.n / min(times[k]) for k in ("old", "new"))
        mold, mnew = (args.n / statistics.median(times[k]) for k in ("old", "new"))
        print(f"{domain:8} {old:>11.1f} {new:>11.1f} {new / old:>8.2f}  {hashes['old'] == hashes['new']}"
              f"   (medians {mold:.1f} / {mnew:.1f})", flush=True)


if __name__ == "__main__":
    main()
