"""Check this server with the MCP SDK's own client: list the tools, play each task's gold plan
(expect reward 1.0 and the task's final database hash), and do nothing (expect reward 0.0).

    python check.py --stdio [-n 50]                  # one server process per task, over stdio
    python check.py --url http://127.0.0.1:8000/mcp  # a running `server.py --http`, 8 episodes at once
    python check.py --memory                         # the server in this process

Prints one JSON line: the counts, and any task that failed with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Optional

from envsynth.export.episode import Catalog
from envsynth.export.source import final_reply
from envsynth.tasks.model import requests
from mcp import Client, StdioServerParameters

HERE = Path(__file__).resolve().parent
KEY = "envsynth/episode"


class Tally:
    def __init__(self) -> None:
        self.counts = {"gold_reward_1": 0, "gold_hash_match": 0, "refusals_is_error": 0, "calls": 0,
                       "noop_reward_0": 0}
        self.failures: list[dict] = []
        self.live = 0
        self.max_live = 0

    def fail(self, task_id: str, what: str) -> None:
        self.failures.append({"task_id": task_id, "failure": what})

    def enter(self) -> None:
        self.live += 1
        self.max_live = max(self.max_live, self.live)

    def leave(self) -> None:
        self.live -= 1


def text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def control(client: Client, name: str, args: dict, meta: Optional[dict]) -> dict:
    r = await client.call_tool(name, args, meta=meta)
    if r.is_error:
        raise RuntimeError(f"{name}: {text(r)}")
    return json.loads(text(r))


async def play_gold(client: Client, catalog: Catalog, task_id: str, tally: Tally, meta: Optional[dict],
                    start: bool = True, count: bool = True) -> None:
    task = catalog.task(task_id)
    if count:
        tally.enter()
    try:
        if start:
            info = await control(client, "envsynth_start_task", {"task_id": task_id}, meta)
            if info["instruction"] != task.instruction:
                tally.fail(task_id, "envsynth_start_task returned another task's instruction")
        for name, arguments, refusal in requests(task):
            r = await client.call_tool(name, dict(arguments), meta=meta)
            tally.counts["calls"] += 1
            if r.is_error != (refusal is not None):
                tally.fail(task_id, f"{name} returned is_error={r.is_error}: {text(r)[:200]}")
            elif refusal is not None:
                tally.counts["refusals_is_error"] += 1
        score = await control(client, "envsynth_score", {"messages": [final_reply(task)]}, meta)
    finally:
        if count:
            tally.leave()
    if score["reward"] == 1.0:
        tally.counts["gold_reward_1"] += 1
    else:
        tally.fail(task_id, f"gold scored {score['reward']}: {score}")
    if score["db_hash"] == task.expected.final_state_hash:
        tally.counts["gold_hash_match"] += 1
    else:
        tally.fail(task_id, "the final database hash is not the task's")


async def play_noop(client: Client, task_id: str, tally: Tally, meta: Optional[dict]) -> None:
    await control(client, "envsynth_start_task", {"task_id": task_id}, meta)
    score = await control(client, "envsynth_score", {"messages": []}, meta)
    if score["reward"] == 0.0:
        tally.counts["noop_reward_0"] += 1
    else:
        tally.fail(task_id, f"doing nothing scored {score['reward']}")


async def list_and_compare(client: Client, catalog: Catalog) -> dict:
    tools = (await client.list_tools()).tools
    want = {f["function"]["name"]: f["function"] for f in catalog.tools}
    got = {t.name: t for t in tools if not t.name.startswith("envsynth_")}
    verbatim = set(got) == set(want) and all(
        got[n].input_schema == want[n]["parameters"] and got[n].description == want[n].get("description", "")
        for n in want)
    return {"tools_listed": len(got), "control_tools_listed": len(tools) - len(got), "schemas_verbatim": verbatim}


async def over_stdio(catalog: Catalog, ids: list[str], tally: Tally, concurrency: int, server: Path) -> dict:
    """One server process per task: `--task` starts it; the gold episode, then a reset and the no-op."""
    listing: dict = {}
    gate = asyncio.Semaphore(concurrency)

    async def one(task_id: str) -> None:
        async with gate:
            params = StdioServerParameters(command=sys.executable, args=[str(server), "--stdio", "--task", task_id])
            try:
                async with Client(params) as client:
                    tally.enter()  # a live server process is a live episode
                    try:
                        if not listing:
                            listing.update(await list_and_compare(client, catalog))
                        await play_gold(client, catalog, task_id, tally, None, start=False, count=False)
                        await play_noop(client, task_id, tally, None)
                    finally:
                        tally.leave()
            except Exception as e:  # noqa: BLE001 - a check reports, it does not stop
                tally.fail(task_id, f"{type(e).__name__}: {e}")

    await asyncio.gather(*(one(t) for t in ids))
    return listing


async def over_shared(target: Any, catalog: Catalog, ids: list[str], tally: Tally, concurrency: int) -> dict:
    """One server for all: `concurrency` clients, each episode keyed by its own `_meta` id."""
    queue: asyncio.Queue = asyncio.Queue()
    for t in ids:
        queue.put_nowait(t)
    listing: dict = {}
    run = uuid.uuid4().hex[:8]

    async def worker() -> None:
        async with Client(target) as client:
            if not listing:
                listing.update(await list_and_compare(client, catalog))
            while not queue.empty():
                task_id = queue.get_nowait()
                try:
                    await play_gold(client, catalog, task_id, tally, {KEY: f"{run}-gold-{task_id}"})
                    await play_noop(client, task_id, tally, {KEY: f"{run}-noop-{task_id}"})
                except Exception as e:  # noqa: BLE001
                    tally.fail(task_id, f"{type(e).__name__}: {e}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return listing


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--stdio", action="store_true")
    how.add_argument("--url")
    how.add_argument("--memory", action="store_true")
    p.add_argument("-n", type=int, default=50, help="tasks to play (the first N; default 50)")
    p.add_argument("--concurrency", type=int, default=None, help="episodes at once (default 8; 2 on stdio)")
    p.add_argument("--data", type=Path, default=HERE / "data")
    a = p.parse_args(argv)
    catalog = Catalog(a.data)
    ids = catalog.ids()[: a.n]
    tally = Tally()
    began = time.perf_counter()
    if a.stdio:
        transport, k = "stdio", a.concurrency or 2
        listing = asyncio.run(over_stdio(catalog, ids, tally, k, HERE / "server.py"))
    else:
        transport, k = ("http", a.concurrency or 8) if a.url else ("memory", a.concurrency or 8)
        if a.url:
            target: Any = a.url
        else:
            sys.path.insert(0, str(HERE))
            from server import build_server

            target = build_server(a.data)
        listing = asyncio.run(over_shared(target, catalog, ids, tally, k))
    print(json.dumps({"transport": transport, "tasks": len(ids), "concurrency": k,
                      "max_live_episodes": tally.max_live, **listing, **tally.counts,
                      "failures": tally.failures[:20], "seconds": round(time.perf_counter() - began, 2)}))
    return 0 if not tally.failures and listing.get("schemas_verbatim") else 1


if __name__ == "__main__":
    sys.exit(main())
