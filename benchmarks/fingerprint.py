"""Fingerprints of datasets for fixed specs, seeds and options: run before and after a change that
must not change output (a refactor), and compare.

    python benchmarks/fingerprint.py > before.json        # on the old code
    python benchmarks/fingerprint.py > after.json         # on the new code
    python benchmarks/fingerprint.py --compare before.json after.json

Every shipped domain and every example is generated with two option sets (defaults; and
refusals + multi-intent), and the sha256 of tasks.jsonl and manifest.json is recorded, with the
first differing task when two fingerprints are compared on kept datasets (--keep DIR).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from envsynth.generate import GenerateOptions, generate

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["airline", "retail", "hr", "itsm", "calendar", "banking",
         str(ROOT / "examples" / "mini_air" / "mini_air.yaml"),
         str(ROOT / "examples" / "city_library" / "city_library.yaml")]
OPTIONS = {
    "default": dict(n=120, seed=5),
    "rich": dict(n=120, seed=9, refusals=0.2, multi_intent=0.3),
}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--keep", type=Path, default=None, help="Keep the datasets here.")
    ap.add_argument("-j", "--workers", type=int, default=2)
    args = ap.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        diff = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        for k in diff:
            print(f"differs: {k}: {a.get(k)} -> {b.get(k)}")
        print(f"{len(a) - len(diff)} of {len(a)} identical")
        sys.exit(1 if diff else 0)
    base = args.keep or Path(tempfile.mkdtemp(prefix="envsynth-fp-"))
    out = {}
    for spec in SPECS:
        name = Path(spec).stem
        for label, opts in OPTIONS.items():
            d = base / f"{name}-{label}"
            if spec.endswith(".yaml"):  # the examples are small domains: fewer distinct task shapes
                opts = {**opts, "n": 20}
            generate(spec, d, GenerateOptions(**opts), workers=args.workers)
            out[f"{name}/{label}/tasks"] = sha(d / "tasks.jsonl")
            out[f"{name}/{label}/manifest"] = sha(d / "manifest.json")
            print(f"{name}/{label}: {out[f'{name}/{label}/tasks']}", file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
