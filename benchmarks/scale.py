"""Scale benchmark: the CLI on composed specs of about 20 to 400 tools (benchmarks/compose.py).

For each size, runs `envsynth check` (default options: every usable core), `envsynth walks
--max-len 3` (unless --skip-walks) and `envsynth generate -n N` with one and two workers, each
in its own subprocess with a timeout, and reports wall time, peak memory (the resident set of
the command's whole process tree, polled from /proc) and for generate the time to the first
task and the rate after it - as a markdown table and JSON.

    python benchmarks/scale.py                         # sizes 20 50 100 200 400, 120 s each
    python benchmarks/scale.py --sizes 20 100 --timeout 300 --json out/scale.json

The first task's time is when tasks.jsonl.partial first holds a complete line. generate writes
it through a buffered file, so that moment may come a task or two late: the table says how many
lines were there (`first`), and the rate after it counts only the lines that came later.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compose  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Bytes resident in `root` and all its descendants (0 once they are gone)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(parts[1]), int(parts[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
        rss[int(d)] = pages * PAGE
    total, stack = 0, [root]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def run(cmd: list[str], timeout: float, watch: Optional[Path] = None, done: Optional[Path] = None) -> dict:
    """Run `cmd` to completion or `timeout`; wall time, exit code, peak tree RSS, and - when
    `watch` is a partial tasks file - when its first line appeared and how many lines there were."""
    t0 = time.perf_counter()
    sink = tempfile.TemporaryFile()  # walks can print gigabytes: not into this process's memory
    proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE, start_new_session=True)
    peak = 0
    first_t = None
    first_n = 0
    timed_out = False
    while True:
        try:
            _, err = proc.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        peak = max(peak, _tree_rss(proc.pid))
        if watch is not None and first_t is None:
            n = _lines(watch)
            if n:
                first_t, first_n = time.perf_counter() - t0, n
        if time.perf_counter() - t0 > timeout:
            timed_out = True
            os.killpg(proc.pid, 9)
            _, err = proc.communicate()
            break
    wall = time.perf_counter() - t0
    sink.close()
    res = {"cmd": " ".join(cmd[1:]), "wall_s": round(wall, 2), "rc": None if timed_out else proc.returncode,
           "timed_out": timed_out, "peak_rss_mb": round(peak / 2**20, 1),
           "stderr_tail": err.decode(errors="replace").strip().splitlines()[-3:] if err else []}
    if watch is not None:
        total = _lines(done) if done is not None and done.exists() else _lines(watch)
        res["tasks"] = total
        if first_t is None and total:  # finished between two polls
            first_t, first_n = wall, total
        res["first_task_s"] = round(first_t, 2) if first_t is not None else None
        res["first_lines"] = first_n
        later = total - first_n
        span = wall - first_t if first_t is not None else 0
        res["tasks_per_s_after_first"] = round(later / span, 2) if later > 0 and span > 0 else None
    return res


def bench(size: int, timeout: float, n: int, envsynth: list[str], walks: bool = True) -> dict:
    spec = compose.write(size)
    tools = len(__import__("yaml").safe_load(spec.read_text())["tools"])
    row: dict = {"size": size, "tools": tools, "spec": str(spec)}
    row["check"] = run(envsynth + ["check", str(spec)], timeout)
    if walks:  # (exhaustive by design: it prints every walk)
        row["walks3"] = run(envsynth + ["walks", str(spec), "--max-len", "3"], timeout)
    for j in (1, 2):
        out = Path(tempfile.mkdtemp(prefix=f"scale{size}-j{j}-"))
        try:
            row[f"generate_j{j}"] = run(envsynth + ["generate", str(spec), "-n", str(n), "-j", str(j), "-q",
                                                    "-o", str(out)], timeout,
                                        watch=out / "tasks.jsonl.partial", done=out / "tasks.jsonl")
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return row


def _cell(r: dict) -> str:
    t = f">{r['wall_s']:.0f} s (timeout)" if r["timed_out"] else f"{r['wall_s']:.1f} s"
    if r["rc"] not in (None, 0, 3):
        t += f" (exit {r['rc']})"
    return f"{t}, {r['peak_rss_mb'] / 1024:.2f} GB"


def _gen(r: dict) -> str:
    first = f"{r['first_task_s']:.1f} s ({r['first_lines']})" if r.get("first_task_s") is not None else "none"
    rate = f"{r['tasks_per_s_after_first']:.1f}/s" if r.get("tasks_per_s_after_first") else "-"
    return f"{_cell(r)}; {r['tasks']} tasks; first {first}; {rate}"


def table(rows: list[dict]) -> str:
    out = ["| tools | `check` | `walks --max-len 3` | `generate -j 1` | `generate -j 2` |",
           "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['tools']} | {_cell(r['check'])} | {_cell(r['walks3']) if 'walks3' in r else 'not run'} | "
                   f"{_gen(r['generate_j1'])} | {_gen(r['generate_j2'])} |")
    return "\n".join(out)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=list(compose.SIZES))
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per command")
    ap.add_argument("-n", type=int, default=100, help="tasks per generate run")
    ap.add_argument("--json", type=Path, default=compose.OUT / "scale.json")
    ap.add_argument("--skip-walks", action="store_true", help="do not run `walks --max-len 3` (an exhaustive "
                                                                   "enumeration: minutes on the large sizes)")
    ap.add_argument("--envsynth", help="the envsynth executable to measure (default: the one on PATH), "
                                       "e.g. another checkout's venv, to compare two versions")
    a = ap.parse_args(argv)
    exe = a.envsynth or shutil.which("envsynth")
    envsynth = [exe] if exe else [sys.executable, "-m", "envsynth.cli"]
    rows = []
    for s in a.sizes:
        rows.append(bench(s, a.timeout, a.n, envsynth, walks=not a.skip_walks))
        print(f"size {s}: done", file=sys.stderr, flush=True)
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    print(f"\n(cells: wall time, peak memory of the process tree; generate: tasks written, time until "
          f"the first line of tasks.jsonl.partial (lines there then), tasks/s after it; JSON: {a.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
