"""Play each task's gold plan against a running server through OpenEnv's own client, and a
do-nothing run (finish at once), and report the rewards (written by `envsynth export openenv`).

    python check.py --url http://127.0.0.1:8000 [-n 50] [--sessions 4] [--json]
    python -m <package>.check --url ...            # once pip-installed

Gold: reset(task_id), each planned call as a CallToolAction step (a refused request must come
back as a tool error), then finish(<every answer and refusal reason>) - reward 1.0 expected.
No-op: reset(task_id), finish("") - reward 0.0 expected (nothing done, nothing told).
Tools: list_tools() must give the dataset's schemas verbatim (and `finish`).
Exit status 0 when every gold run scores 1.0, every no-op 0.0 and the schemas are verbatim.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

from openenv.core.env_server.mcp_types import CallToolAction
from openenv.core.mcp_client import MCPToolClient

from envsynth.export.episode import Catalog
from envsynth.export.source import final_reply
from envsynth.tasks.model import requests

DATA = Path(__file__).resolve().parent / "data"
FINISH = "finish"


async def play(env: MCPToolClient, task, gold: bool) -> tuple[float, list[str]]:
    """One episode on the server; returns its reward and what went unexpectedly."""
    problems = []
    first = await env.reset(task_id=task.id)
    if first.observation.model_dump().get("task_id") != task.id:
        problems.append(f"reset(task_id={task.id!r}) loaded {first.observation.model_dump().get('task_id')!r}")
    message = ""
    if gold:
        for name, arguments, refusal in requests(task):
            # a step, not call_tool(name, **arguments): some tools take an argument called `name`
            obs = (await env.step(CallToolAction(tool_name=name, arguments=dict(arguments)))).observation
            error = getattr(obs, "error", None)
            if error is not None and refusal is None:
                problems.append(f"{name}: {error.message}")
            elif error is None and refusal is not None:
                problems.append(f"{name}: a refused request succeeded")
        message = final_reply(task)
    end = await env.step(CallToolAction(tool_name=FINISH, arguments={"message": message}))
    if not end.done:
        problems.append(f"{FINISH} did not end the episode")
    return float(end.reward if end.reward is not None else -1.0), problems


async def check(url: str, data: Path, n: Optional[int], concurrency: int = 1) -> dict:
    """Gold and no-op on the first `n` tasks, over `concurrency` client sessions at once, and the
    tool listing compared with the dataset's schemas."""
    catalog = Catalog(data)
    ids = catalog.ids()[:n] if n else catalog.ids()
    out = {"url": url, "tasks": len(ids), "sessions": concurrency, "gold_reward_1": 0, "noop_reward_0": 0,
           "tools_verbatim": False, "failures": []}
    start = time.monotonic()
    expected = {t["function"]["name"]: t["function"]["parameters"] for t in catalog.tools}
    async with MCPToolClient(base_url=url) as env:
        listed = {t.name: t.input_schema for t in await env.list_tools()}
        listed.pop(FINISH, None)
        out["tools_verbatim"] = listed == expected
        if listed != expected:
            out["failures"].append({"task": None, "run": "list_tools", "reward": None,
                                    "problems": [f"{name}: listed schema differs" for name in sorted(set(listed) | set(expected))
                                                 if listed.get(name) != expected.get(name)]})

    async def worker(share: list[str]) -> None:
        async with MCPToolClient(base_url=url) as env:
            for task_id in share:
                task = catalog.task(task_id)
                reward, problems = await play(env, task, gold=True)
                out["gold_reward_1"] += reward == 1.0
                if reward != 1.0 or problems:
                    out["failures"].append({"task": task_id, "run": "gold", "reward": reward, "problems": problems})
                reward, problems = await play(env, task, gold=False)
                out["noop_reward_0"] += reward == 0.0
                if reward != 0.0 or problems:
                    out["failures"].append({"task": task_id, "run": "noop", "reward": reward, "problems": problems})

    k = max(1, concurrency)
    await asyncio.gather(*(worker(ids[i::k]) for i in range(k)))
    out["seconds"] = round(time.monotonic() - start, 2)
    out["ok"] = out["tools_verbatim"] and out["gold_reward_1"] == len(ids) and out["noop_reward_0"] == len(ids)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
    parser.add_argument("--data", type=Path, default=DATA, help="the export's data folder (the tasks' gold plans)")
    parser.add_argument("-n", type=int, default=None, help="check the first N tasks (default: all)")
    parser.add_argument("--sessions", type=int, default=1, help="client sessions playing at once (default 1)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        urllib.request.urlopen(args.url.rstrip("/") + "/health", timeout=10).read()
    except (OSError, ValueError) as e:
        print(f"cannot reach an OpenEnv server at {args.url}: {e}", file=sys.stderr)
        return 2
    report = asyncio.run(check(args.url, args.data, args.n, args.sessions))
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['tasks']} tasks at {report['url']} ({report['sessions']} sessions): gold reward 1.0 on "
              f"{report['gold_reward_1']}, no-op reward 0.0 on {report['noop_reward_0']}, tool schemas "
              f"{'verbatim' if report['tools_verbatim'] else 'DIFFERENT'} ({report['seconds']} s)")
        for f in report["failures"][:10]:
            print(f"  {f['task']} {f['run']}: reward {f['reward']} {'; '.join(f['problems'])}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
