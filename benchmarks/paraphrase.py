"""Paraphrase with a fact check, against a local chat-completions server scripted to lie.

    python benchmarks/paraphrase.py /work/ds200/* [-n 200] [--faithful-share 0.5] [--fail-every 429:7] [-j 4]
                                    [--no-verify] [--matrix]

For each dataset directory (its first N tasks) this starts tests/chat_server.py with the brain
tests/brains_paraphrase.py - per instruction a faithful rewrite (greetings and thanks swapped,
sentences reordered, dates as "Dec 7" / "7 December 2026" / ISO, "$35" for $35.00, contractions)
or a deliberately fact-breaking one (an id changed, a date dropped or moved a day, an amount
changed or added, a qualifier dropped or added, the user's name or email changed, an enum choice
swapped, the request negated, a new date) - and runs `envsynth paraphrase` through the real
`openai` client, with 429s injected (`--fail-every`). It then reads the output: every
fact-breaking rewrite must have been rejected (the task keeps its template text), every faithful
one kept; and `envsynth verify` must pass on it.

`--matrix` adds the fact check alone (no server) on every breaker that applies to every
instruction, and four faithful variants of each: far more cases than one rewrite per task.

Prints one JSON line per dataset and a table; exits 1 if a fact-breaking rewrite was kept, a
faithful one rejected, or verify failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.brains_paraphrase import BREAKERS, faithful, rewrite  # noqa: E402

from envsynth.paraphrase import ParaphraseOptions, paraphrase_dataset  # noqa: E402
from envsynth.play.factcheck import fact_check, task_facts  # noqa: E402
from envsynth.verify import dataset_spec, iter_checks, iter_tasks  # noqa: E402


def subset(src: Path, n: int, dest: Path) -> Path:
    dest.mkdir(parents=True)
    with open(src / "tasks.jsonl", encoding="utf-8") as f, open(dest / "tasks.jsonl", "w", encoding="utf-8") as g:
        for i, line in enumerate(f):
            if i >= n:
                break
            g.write(line)
    for name in ("spec.yaml", "manifest.json"):
        if (src / name).exists():
            (dest / name).write_bytes((src / name).read_bytes())
    return dest


def start_server(share: float, fail_every: str, log: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PARAPHRASE_FAITHFUL_SHARE": str(share)}
    cmd = [sys.executable, str(ROOT / "tests" / "chat_server.py"), "--brain", "tests.brains_paraphrase:brain",
           "--port", "0", "--log", str(log)] + (["--fail-every", fail_every] if fail_every else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"chat server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/v1"


def run(directory: Path, args, tmp: Path) -> dict:
    src = subset(directory, args.n, tmp / f"{directory.name}-src")
    out = tmp / f"{directory.name}-out"
    log = tmp / f"{directory.name}-requests.log"
    proc, url = start_server(args.faithful_share, args.fail_every, log)
    try:
        t0 = time.perf_counter()
        summary = paraphrase_dataset(src, out, ParaphraseOptions(model="openai:scripted", base_url=url,
                                                                 concurrency=args.jobs, seed=1))
        seconds = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    requests = [json.loads(x) for x in log.read_text().splitlines()]
    broken_total, broken_rejected = Counter(), Counter()
    kept = faithful_total = 0
    wrong = []
    for old, new in zip(iter_tasks(src / "tasks.jsonl"), iter_tasks(out / "tasks.jsonl")):
        kind, text = rewrite(old.instruction, args.faithful_share)
        p = new.meta.paraphrase
        if kind == "faithful":
            faithful_total += 1
            if p.accepted and new.instruction == text:
                kept += 1
            else:
                wrong.append({"task": old.id, "kind": kind, "reasons": p.reasons, "text": text})
        else:
            broken_total[kind] += 1
            if not p.accepted and new.instruction == old.instruction:
                broken_rejected[kind] += 1
            else:
                wrong.append({"task": old.id, "kind": kind, "text": text})
    result = {
        "dataset": str(directory), "tasks": summary.tasks, "seconds": round(seconds, 1),
        "requests": len(requests), "injected_errors": sum(1 for r in requests if r["injected"]),
        "faithful_kept": [kept, faithful_total],
        "broken_rejected": {k: [broken_rejected[k], broken_total[k]] for k in sorted(broken_total)},
        "manifest": json.loads((out / "manifest.json").read_text())["paraphrase"],
        "wrong": wrong[:10],
    }
    if args.verify:
        t0 = time.perf_counter()
        failures = [c for c in iter_checks(out) if not c.ok]
        result["verify"] = {"ok": not failures, "failed": len(failures), "seconds": round(time.perf_counter() - t0, 1),
                            "first_problems": [c.problems for c in failures[:3]]}
    return result


def matrix(directory: Path, n: int) -> dict:
    """The fact check alone: every breaker that applies to each instruction, and four faithful variants."""
    domain = dataset_spec(directory)
    total, rejected = Counter(), Counter()
    wrong = []
    for i, task in enumerate(iter_tasks(directory / "tasks.jsonl")):
        if i >= n:
            break
        facts = task_facts(domain, task)
        o = task.instruction
        for v in range(4):
            ok, reasons = fact_check(o, faithful(o, v), facts)
            total["faithful"] += 1
            rejected["faithful"] += not ok
            if not ok:
                wrong.append({"task": task.id, "kind": "faithful", "reasons": reasons})
        for kind, b in BREAKERS.items():
            text = b(o)
            if text is None or text == o:
                continue
            ok, _ = fact_check(o, text, facts)
            total[kind] += 1
            rejected[kind] += not ok
            if ok:
                wrong.append({"task": task.id, "kind": kind, "text": text})
    return {"total": dict(total), "rejected": dict(rejected), "wrong": wrong[:10]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("-n", type=int, default=200, help="Tasks per dataset (its first N).")
    ap.add_argument("--faithful-share", type=float, default=0.5)
    ap.add_argument("--fail-every", default="429:7", help="Inject STATUS every K requests ('' for none).")
    ap.add_argument("-j", "--jobs", type=int, default=4)
    ap.add_argument("--no-verify", dest="verify", action="store_false")
    ap.add_argument("--matrix", action="store_true")
    args = ap.parse_args()
    bad = False
    totals: dict = defaultdict(lambda: [0, 0])
    with tempfile.TemporaryDirectory() as tmp:
        for d in [d for d in args.datasets if (d / "tasks.jsonl").exists()]:  # /work/ds200/* has logs too
            r = run(d, args, Path(tmp))
            if args.matrix:
                r["matrix"] = matrix(d, args.n)
            print(json.dumps(r), flush=True)
            bad |= bool(r["wrong"]) or (args.verify and not r["verify"]["ok"])
            bad |= bool(args.matrix and r["matrix"]["wrong"])
            totals["faithful kept"][0] += r["faithful_kept"][0]
            totals["faithful kept"][1] += r["faithful_kept"][1]
            for k, (a, b) in r["broken_rejected"].items():
                totals[f"rejected: {k}"][0] += a
                totals[f"rejected: {k}"][1] += b
            if args.matrix:
                m = r["matrix"]
                for k, t in m["total"].items():
                    key = "matrix faithful kept" if k == "faithful" else f"matrix rejected: {k}"
                    totals[key][0] += t - m["rejected"].get(k, 0) if k == "faithful" else m["rejected"].get(k, 0)
                    totals[key][1] += t
            v = r.get("verify", {})
            print(f"{d.name}: {r['tasks']} tasks, {r['requests']} requests ({r['injected_errors']} injected errors) "
                  f"in {r['seconds']}s; faithful kept {r['faithful_kept'][0]}/{r['faithful_kept'][1]}, "
                  f"fact-breaking rejected {sum(a for a, _ in r['broken_rejected'].values())}/"
                  f"{sum(b for _, b in r['broken_rejected'].values())}"
                  + (f"; verify {'ok' if v['ok'] else 'FAILED'} ({v['seconds']}s)" if v else ""), file=sys.stderr)
    print("\n".join(f"{k:38s} {a}/{b}" for k, (a, b) in sorted(totals.items())), file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
