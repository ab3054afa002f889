"""MCP export, checked with the official SDK's own client over stdio and over streamable HTTP.

    python benchmarks/export_mcp.py /work/ds200/* [-n 50] [--mcp-python PY] [--stdio-concurrency 2]

For each dataset directory this exports it (`envsynth export mcp`), then runs the exported
`check.py` (mcp.Client: list the tools and compare each schema with the task's, play each task's
gold plan and reply - reward must be 1.0 and the final database the task's hash - and do nothing -
reward must be 0.0) over the first N tasks:

- stdio: one `server.py --stdio --task ID` process per task (gold, then envsynth_start_task resets
  it for the no-op), --stdio-concurrency processes at a time;
- HTTP: one `server.py --http` (uvicorn on 127.0.0.1, a free port) with 8 clients at once, each
  episode keyed by its own `_meta["envsynth/episode"]`.

The MCP venv (mcp>=2.3,<3 + uvicorn + editable envsynth) is tests/harness.py's, built once under
.venvs/ unless --mcp-python names one. Prints one JSON object per dataset, a summary line each,
and exits 1 if any gold run missed 1.0, any no-op scored, or a schema was not verbatim.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness import free_port, harness_python, stop  # noqa: E402

from envsynth.errors import EnvsynthError  # noqa: E402
from envsynth.export import export  # noqa: E402
from envsynth.export.source import Source  # noqa: E402

REQUIREMENTS = ["mcp>=2.3,<3", "uvicorn"]  # as tests/test_export_mcp.py, so the venv is shared


def last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in the output:\n{text[-2000:]}")


def check(py: Path, out: Path, args: list[str]) -> dict:
    done = subprocess.run([str(py), str(out / "check.py"), *args], capture_output=True, text=True,
                          timeout=3600, check=False)
    try:
        return last_json(done.stdout)
    except ValueError:
        return {"error": f"check.py exited {done.returncode}: {done.stderr[-2000:]}"}


def over_http(py: Path, out: Path, n: int) -> dict:
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen([str(py), str(out / "server.py"), "--http", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if proc.poll() is not None:
                return {"error": f"the HTTP server exited ({proc.returncode}): {proc.stderr.read()[-2000:]}"}
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.perf_counter() - began > 120:
                    return {"error": "the HTTP server did not listen within 120 s"}
                time.sleep(0.2)
        startup = time.perf_counter() - began
        result = check(py, out, ["--url", f"http://127.0.0.1:{port}/mcp", "-n", str(n), "--concurrency", "8"])
        result["server_startup_seconds"] = round(startup, 2)
        return result
    finally:
        stop(proc)


def passed(r: dict) -> bool:
    return ("error" not in r and r["schemas_verbatim"] and not r["failures"]
            and r["gold_reward_1"] == r["gold_hash_match"] == r["noop_reward_0"] == r["tasks"])


def bench_one(directory: Path, py: Path, work: Path, n: int, stdio_k: int) -> dict:
    source = Source(directory)
    out = work / f"mcp-{source.slug}"
    began = time.perf_counter()
    report = export("mcp", directory, out)
    export_s = time.perf_counter() - began
    stdio = check(py, out, ["--stdio", "-n", str(n), "--concurrency", str(stdio_k)])
    http = over_http(py, out, n)
    return {"dataset": str(directory), "domain": source.name, "exported_tasks": report.tasks,
            "export_seconds": round(export_s, 2), "stdio": stdio, "http": http,
            "ok": passed(stdio) and passed(http)}


def line(r: dict) -> str:
    if "error" in r:
        return f"{r.get('dataset')}: {r['error']}"
    parts = [f"{r['domain']}:"]
    for t in ("stdio", "http"):
        x = r[t]
        if "error" in x:
            parts.append(f"{t} ERROR {x['error'][:200]}")
            continue
        parts.append(f"{t} {x['tools_listed']} tools verbatim={x['schemas_verbatim']}, gold 1.0 "
                     f"{x['gold_reward_1']}/{x['tasks']} (hash {x['gold_hash_match']}), no-op 0.0 "
                     f"{x['noop_reward_0']}/{x['tasks']}, {x['max_live_episodes']} episodes at once, "
                     f"{x['seconds']} s;")
    return " ".join(parts) + (" OK" if r["ok"] else " FAILED")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path, help="dataset directories made by `envsynth generate`")
    ap.add_argument("-n", type=int, default=50, help="tasks per dataset (the first N; default 50)")
    ap.add_argument("--stdio-concurrency", type=int, default=2, help="stdio server processes at a time")
    ap.add_argument("--mcp-python", type=Path, default=None, help="a venv's python holding mcp 2.x and envsynth")
    a = ap.parse_args()
    began = time.perf_counter()
    py = a.mcp_python or harness_python("mcp", REQUIREMENTS)
    venv_s = time.perf_counter() - began
    results = []
    with tempfile.TemporaryDirectory(prefix="envsynth-mcp-bench-") as tmp:
        for d in a.dirs:
            try:
                r = bench_one(d, py, Path(tmp), a.n, a.stdio_concurrency)
            except EnvsynthError as e:
                r = {"dataset": str(d), "error": str(e), "ok": False}
            results.append(r)
            print(json.dumps(r), flush=True)
            print(line(r), flush=True)
    good = [r for r in results if r["ok"]]
    gold = sum(r[t]["gold_reward_1"] for r in good for t in ("stdio", "http"))
    runs = sum(r[t]["tasks"] for r in good for t in ("stdio", "http"))
    live = min((r["http"]["max_live_episodes"] for r in good), default=0)
    print(json.dumps({"summary": {"datasets": len(results), "passed": len(good), "gold_runs_at_1": gold,
                                  "gold_runs": runs, "min_http_episodes_at_once": live, "venv_seconds": round(venv_s, 1),
                                  "seconds": round(time.perf_counter() - began, 1)}}))
    print(f"MCP: {len(good)}/{len(results)} datasets pass - a real mcp.Client over stdio and HTTP lists the tools "
          f"verbatim and plays {a.n} tasks' gold to reward 1.0 and the no-op to 0.0 ({gold}/{runs} gold runs), "
          f"{live} concurrent HTTP episodes isolated")
    return 0 if len(good) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
