"""OpenEnv export, checked through OpenEnv's own client against its own server.

    python benchmarks/export_openenv.py /work/ds200/* [-n 50] [--sessions 4] [--openenv-python PY]

For each dataset directory this exports it (`envsynth export openenv`), starts the package's
server as its openenv.yaml says (`uvicorn server.app:app` in the package folder, 127.0.0.1, a free
port) and runs the exported `check.py` over the first N tasks: OpenEnv's MCPToolClient lists the
tools (each schema must be the dataset's, verbatim), then for each task plays the gold plan -
reset(task_id), each call as a CallToolAction step (refused requests must come back as tool
errors), finish(<every answer and refusal reason>) - whose reward must be 1.0, and the no-op -
reset, finish("") - whose reward must be 0.0; --sessions client sessions play at once.

The OpenEnv venv (openenv==0.10.0 + editable envsynth) is tests/harness.py's, built once under
.venvs/ unless --openenv-python names one. Prints one JSON object per dataset, a summary line
each, and exits 1 if any gold run missed 1.0, any no-op scored, or a schema was not verbatim.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness import free_port, harness_python, stop  # noqa: E402

from envsynth.errors import EnvsynthError  # noqa: E402
from envsynth.export import export  # noqa: E402

REQUIREMENTS = ["openenv==0.10.0", "wheel"]  # as tests/test_export_openenv.py, so the venv is shared


def last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in the output:\n{text[-2000:]}")


def serve(py: Path, out: Path, log: Path) -> tuple[subprocess.Popen, str, float]:
    """The package's server, as openenv.yaml runs it; returns it, its URL and its start time (s)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    start = time.monotonic()
    proc = subprocess.Popen([str(py), "-m", "uvicorn", "server.app:app", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=str(out), env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=2).read()
            return proc, url, time.monotonic() - start
        except OSError:
            if proc.poll() is not None or time.monotonic() - start > 300:
                proc.kill()
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)


def run_one(py: Path, src: Path, n: int, sessions: int, work: Path) -> dict:
    out = work / src.name
    t = time.monotonic()
    report = export("openenv", src, out)
    exported = time.monotonic() - t
    proc, url, started = serve(py, out, work / f"{src.name}.server.log")
    try:
        done = subprocess.run([str(py), str(out / "check.py"), "--url", url, "-n", str(n), "--sessions", str(sessions),
                               "--json"], capture_output=True, text=True, timeout=3600, check=False)
        try:
            result = last_json(done.stdout)
        except ValueError:
            return {"dataset": str(src), "ok": False, "error": (done.stdout + done.stderr)[-3000:]}
    finally:
        stop(proc)
    return {"dataset": str(src), "domain": report.package, "exported_tasks": report.tasks,
            "export_seconds": round(exported, 2), "server_start_seconds": round(started, 2), **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="dataset directories (made by envsynth generate)")
    parser.add_argument("-n", type=int, default=50, help="tasks per dataset (default 50)")
    parser.add_argument("--sessions", type=int, default=4, help="client sessions playing at once (default 4)")
    parser.add_argument("--openenv-python", type=Path, help="a python with openenv 0.10 and envsynth installed")
    args = parser.parse_args(argv)
    dirs = [d for d in args.dirs if d.is_dir() and (d / "tasks.jsonl").exists()]
    if not dirs:
        print("no dataset directories (with tasks.jsonl) given", file=sys.stderr)
        return 2
    py = args.openenv_python or harness_python("openenv", REQUIREMENTS)
    results, ok = [], True
    with tempfile.TemporaryDirectory(prefix="envsynth-openenv-bench-") as tmp:
        for src in dirs:
            try:
                r = run_one(py, src, args.n, args.sessions, Path(tmp))
            except (EnvsynthError, RuntimeError) as e:
                r = {"dataset": str(src), "ok": False, "error": str(e)}
            results.append(r)
            ok &= bool(r.get("ok"))
            print(json.dumps(r), flush=True)
            if "error" in r:
                print(f"{src}: FAILED - {r['error'][:500]}", flush=True)
            else:
                print(f"{r['domain']}: {r['tasks']} tasks through MCPToolClient ({r['sessions']} sessions): gold reward "
                      f"1.0 on {r['gold_reward_1']}/{r['tasks']}, no-op 0.0 on {r['noop_reward_0']}/{r['tasks']}, "
                      f"schemas {'verbatim' if r['tools_verbatim'] else 'DIFFERENT'}; server up in "
                      f"{r['server_start_seconds']} s, played in {r['seconds']} s", flush=True)
                for f in r["failures"][:5]:
                    print(f"  {f['task']} {f['run']}: reward {f['reward']} {'; '.join(f['problems'])[:300]}", flush=True)
    summary = {"datasets": len(results), "ok": ok,
               "gold_reward_1": sum(r.get("gold_reward_1", 0) for r in results),
               "noop_reward_0": sum(r.get("noop_reward_0", 0) for r in results),
               "tasks": sum(r.get("tasks", 0) for r in results)}
    print(json.dumps(summary))
    print(f"OpenEnv: {summary['gold_reward_1']}/{summary['tasks']} gold runs reached reward 1.0 and "
          f"{summary['noop_reward_0']}/{summary['tasks']} no-op runs scored 0.0 over {len(results)} datasets "
          f"through OpenEnv's client{'' if ok else ' - FAILURES above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
