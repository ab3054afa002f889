"""`envsynth export mcp`: a standalone MCP server per domain, tested with the official SDK's own
client (`mcp.Client`, mcp 2.x) in its own venv - in memory, over stdio (a server process per
episode) and over streamable HTTP on 127.0.0.1 (a real uvicorn server process).

What these catch: schemas that are not the task's verbatim (a dropped `additionalProperties`, a
rewritten description), a reward that is not envsynth's (gold below 1.0, a no-op above 0.0), a
bad call that raises a JSON-RPC error the model never sees or that changes the database, episodes
that share a database (keyed by task, or not keyed at all), control tools that cannot be hidden,
and an unknown task id that ends in a traceback.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest

from envsynth.errors import EnvsynthError
from envsynth.export import export
from envsynth.export import mcp as mcp_export
from envsynth.export.source import Source
from envsynth.generate import GenerateOptions, generate

from harness import free_port, harness_python, last_json, run_in, stop

REQUIREMENTS = ["mcp>=2.3,<3", "uvicorn"]

# Run inside the harness venv: load OUT/server.py as a module (for the in-memory client).
PRELUDE = """
import asyncio, contextlib, importlib.util, json, sys
from pathlib import Path
from mcp import Client, StdioServerParameters
from envsynth.export.episode import Catalog
from envsynth.export.source import final_reply
from envsynth.runtime.execute import db_hash
from envsynth.tasks.model import requests
OUT = Path(sys.argv[1])
CAT = Catalog(OUT / "data")
spec = importlib.util.spec_from_file_location("envsynth_mcp_server", OUT / "server.py")
SERVER = importlib.util.module_from_spec(spec); spec.loader.exec_module(SERVER)

def text(r):
    return "".join(getattr(c, "text", "") for c in r.content)

async def ctl(c, name, args, meta=None):
    r = await c.call_tool(name, args, meta=meta)
    assert not r.is_error, (name, text(r))
    return json.loads(text(r))

async def gold(c, task, meta=None, start=True):
    if start:
        await ctl(c, "envsynth_start_task", {"task_id": task.id}, meta)
    for name, args, refusal in requests(task):
        r = await c.call_tool(name, dict(args), meta=meta)
        assert r.is_error == (refusal is not None), (task.id, name, text(r))
    return await ctl(c, "envsynth_score", {"messages": [final_reply(task)]}, meta)
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("mcp_retail")
    generate("retail", out, GenerateOptions(n=12, seed=5, refusals=0.4))
    return out


@pytest.fixture(scope="module")
def exported(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("mcp_out") / "retail"
    report = export("mcp", dataset, out)
    assert report.tasks == 12
    return out


@pytest.fixture(scope="module")
def py():
    return harness_python("mcp", REQUIREMENTS)


def test_export_writes_the_server_its_data_and_the_commands(dataset, exported):
    # catches: a server without its data, data that is not the dataset's, next steps a user cannot run
    for name in ("server.py", "check.py", "README.md", "requirements.txt"):
        assert (exported / name).is_file(), name
    assert (exported / "data" / "tasks.jsonl").read_bytes() == (dataset / "tasks.jsonl").read_bytes()
    assert (exported / "data" / "spec.yaml").read_bytes() == (dataset / "spec.yaml").read_bytes()
    assert "mcp>=2.3,<3" in (exported / "requirements.txt").read_text()


def test_a_domain_tool_named_like_a_control_tool_is_refused(dataset, tmp_path):
    # catches: a domain tool silently shadowed by (or shadowing) envsynth_start_task & co
    source = Source(dataset)
    source.domain.tools["envsynth_score"] = next(iter(source.domain.tools.values()))
    with pytest.raises(EnvsynthError, match="envsynth_score"):
        mcp_export.write(source, tmp_path)


@pytest.mark.harness
def test_in_memory_client_lists_verbatim_schemas_plays_gold_to_one_and_noop_to_zero(py, exported):
    # catches: a schema or description that is not the task's; a reward that is not envsynth's;
    # --hide-control not hiding the control tools, or hiding them so they no longer answer
    script = PRELUDE + """
async def main():
    want = [f["function"] for f in CAT.tools]
    out = {"gold": [], "noop": [], "hash": 0}
    async with Client(SERVER.build_server(OUT / "data")) as c:
        tools = (await c.list_tools()).tools
        out["listed"] = [(t.name, t.description, t.input_schema) for t in tools]
        for task in CAT.tasks():
            s = await gold(c, task)
            out["gold"].append(s["reward"])
            out["hash"] += s["db_hash"] == task.expected.final_state_hash
            await ctl(c, "envsynth_start_task", {"task_id": task.id})
            out["noop"].append((await ctl(c, "envsynth_score", {"messages": []}))["reward"])
    async with Client(SERVER.build_server(OUT / "data", hide_control=True)) as c:
        out["hidden_listed"] = [t.name for t in (await c.list_tools()).tools]
        task = next(CAT.tasks())
        out["hidden_still_answers"] = (await gold(c, task))["reward"]
    out["want"] = [(f["name"], f["description"], f["parameters"]) for f in want]
    print(json.dumps(out))
asyncio.run(main())
"""
    out = last_json(run_in(py, script, str(exported), timeout=300))
    listed = [tuple(x) for x in out["listed"]]
    want = [tuple(x) for x in out["want"]]
    assert listed[: len(want)] == want  # name, description, input_schema verbatim, in the task's order
    assert [n for n, _, _ in listed[len(want):]] == ["envsynth_list_tasks", "envsynth_start_task", "envsynth_state",
                                                     "envsynth_score"]
    assert out["gold"] == [1.0] * 12 and out["hash"] == 12
    assert out["noop"] == [0.0] * 12
    assert out["hidden_listed"] == [w[0] for w in want]
    assert out["hidden_still_answers"] == 1.0


@pytest.mark.harness
def test_bad_calls_return_is_error_results_and_change_nothing(py, exported):
    # catches: an exception escaping as a JSON-RPC error (the client raises MCPError and the model
    # never sees it), an error that still changes the database or the ids a later call creates,
    # control tools that accept an unknown task or bad arguments
    script = PRELUDE + """
async def main():
    task = max(CAT.tasks(), key=lambda t: (bool(t.expected.changes), len(t.gold_actions)))
    tool = CAT.tools[0]["function"]
    prop = next(iter(tool["parameters"]["properties"]))
    bad = [
        (tool["name"], {}),                                   # a required argument missing
        (tool["name"], {prop: 12345}),                        # wrong type
        (tool["name"], {prop: "x", "not_a_parameter": 1}),   # an argument the schema does not have
        ("no_such_tool", {}),                                 # an unknown tool
    ] + [(a.name, {**a.arguments, **{k: "no-such-id" for k, v in a.arguments.items() if isinstance(v, str)}})
         for a in task.gold_actions[-1:]]                     # the gold write on records that do not exist
    out = {"before_start": None, "bad": [], "control": []}
    async with Client(SERVER.build_server(OUT / "data")) as c:
        r = await c.call_tool(tool["name"], {prop: "x"})
        out["before_start"] = [r.is_error, text(r)]
        for name, args in [("envsynth_start_task", {"task_id": "no-such-task"}), ("envsynth_start_task", {}),
                           ("envsynth_score", {"messages": [3]}), ("envsynth_nope", {})]:
            r = await c.call_tool(name, args)
            out["control"].append([r.is_error, text(r)])
        await ctl(c, "envsynth_start_task", {"task_id": task.id})
        start = (await ctl(c, "envsynth_state", {}))["db_hash"]
        for name, args in bad:
            r = await c.call_tool(name, args)
            after = (await ctl(c, "envsynth_state", {}))["db_hash"]
            out["bad"].append([name, r.is_error, text(r), after == start])
        s = await gold(c, task, start=False)
        out["gold_after_errors"] = s["reward"]
        out["failed_calls"] = s["failed_calls"]
        # scoring ends the episode: no call after it runs, and a second score is the first one
        first = task.gold_actions[0]
        r = await c.call_tool(first.name, dict(first.arguments))
        again = await ctl(c, "envsynth_score", {"messages": ["anything else"]})
        out["after_score"] = [r.is_error, text(r), again == s, (await ctl(c, "envsynth_state", {}))["scored"]]
        out["initial"] = start == db_hash(task.initial_db)
    print(json.dumps(out))
asyncio.run(main())
"""
    out = last_json(run_in(py, script, str(exported), timeout=300))
    assert out["before_start"][0] and "envsynth_start_task" in out["before_start"][1]
    for is_error, msg in out["control"]:
        assert is_error and msg.startswith("Error: "), msg
    assert "no task 'no-such-task'" in out["control"][0][1]
    assert len(out["bad"]) == 5
    for name, is_error, msg, unchanged in out["bad"]:
        assert is_error and msg.startswith("Error: ") and unchanged, (name, msg)
    assert out["initial"]
    # the bad calls changed nothing, so the gold plan played after them still scores 1.0
    assert out["gold_after_errors"] == 1.0 and out["failed_calls"] >= 5
    # an agent that can call envsynth_score cannot probe it: the first score is final
    is_error, msg, same, scored = out["after_score"]
    assert is_error and "was scored and is over" in msg and same and scored


@pytest.mark.harness
def test_stdio_server_process_per_episode_plays_gold_and_noop_and_rejects_unknown_task(py, exported):
    # catches: a stdio server that does not start the --task episode, a reset (start_task) that
    # keeps the played database, and an unknown --task that ends in a traceback instead of a message
    script = PRELUDE + """
async def main():
    out = []
    for task in list(CAT.tasks())[:2]:
        params = StdioServerParameters(command=sys.executable,
                                       args=[str(OUT / "server.py"), "--stdio", "--task", task.id])
        async with Client(params) as c:
            names = [t.name for t in (await c.list_tools()).tools]
            s = await gold(c, task, start=False)                  # --task started the episode
            await ctl(c, "envsynth_start_task", {"task_id": task.id})
            n = await ctl(c, "envsynth_score", {"messages": []})  # reset: a fresh database
            out.append([len(names), s["reward"], s["db_hash"] == task.expected.final_state_hash,
                        n["reward"], n["db_hash"] == db_hash(task.initial_db)])
    print(json.dumps({"runs": out, "tools": len(CAT.tools)}))
asyncio.run(main())
"""
    out = last_json(run_in(py, script, str(exported), timeout=300))
    for listed, reward, own_hash, noop, fresh in out["runs"]:
        assert listed == out["tools"] + 4  # the domain tools and the four envsynth_* control tools
        assert reward == 1.0 and own_hash
        assert noop == 0.0 and fresh
    done = subprocess.run([str(py), str(exported / "server.py"), "--stdio", "--task", "no-such-task"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2
    assert "no task 'no-such-task'" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def http_server(py, exported):
    port = free_port()
    proc = subprocess.Popen([str(py), str(exported / "server.py"), "--http", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the HTTP server exited ({proc.returncode}): {proc.stderr.read()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise AssertionError("the HTTP server did not listen within 120 s") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)


@pytest.mark.harness
def test_eight_concurrent_episodes_stay_isolated_over_http_on_localhost(py, exported, http_server):
    # catches: episodes keyed by task or not keyed at all (one episode's writes land in another's
    # database), a no-op of a task that another episode is playing picking up its writes
    script = PRELUDE + """
URL = sys.argv[2]
async def main():
    tasks = sorted(CAT.tasks(), key=lambda t: -len(t.gold_actions))[:8]
    stack = contextlib.AsyncExitStack()
    clients = [await stack.enter_async_context(Client(URL)) for _ in tasks]
    keys = [{"envsynth/episode": f"ep-{i}"} for i in range(len(tasks))]
    twin = {"envsynth/episode": "twin-of-0"}  # task 0 again, doing nothing, on the first client
    await asyncio.gather(*(ctl(c, "envsynth_start_task", {"task_id": t.id}, k)
                           for c, t, k in zip(clients, tasks, keys)),
                         ctl(clients[0], "envsynth_start_task", {"task_id": tasks[0].id}, twin))
    plans = [requests(t) for t in tasks]
    for step in range(max(map(len, plans))):  # lockstep: every episode's step k, all at once
        rs = await asyncio.gather(*(c.call_tool(p[step][0], dict(p[step][1]), meta=k)
                                    for c, p, k in zip(clients, plans, keys) if step < len(p)))
        for r, p in zip(rs, [p for p in plans if step < len(p)]):
            assert r.is_error == (p[step][2] is not None), text(r)
    scores = await asyncio.gather(*(ctl(c, "envsynth_score", {"messages": [final_reply(t)]}, k)
                                    for c, t, k in zip(clients, tasks, keys)))
    twin_score = await ctl(clients[0], "envsynth_score", {"messages": []}, twin)
    await stack.aclose()
    print(json.dumps({
        "episodes": [[s["task_id"] == t.id, s["reward"], s["db_hash"] == t.expected.final_state_hash]
                     for s, t in zip(scores, tasks)],
        "writes": sum(bool(t.expected.changes) for t in tasks),
        "twin": [twin_score["reward"], twin_score["db_hash"] == db_hash(tasks[0].initial_db)]}))
asyncio.run(main())
"""
    out = last_json(run_in(py, script, str(exported), http_server, timeout=300))
    assert len(out["episodes"]) == 8 and out["writes"] >= 2
    for own_task, reward, own_hash in out["episodes"]:
        assert own_task and reward == 1.0 and own_hash
    assert out["twin"] == [0.0, True]
    # the shipped checker agrees, with 8 clients at once over the same server
    done = subprocess.run([str(py), str(exported / "check.py"), "--url", http_server, "--concurrency", "8"],
                          capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, report
    assert report["gold_reward_1"] == report["gold_hash_match"] == report["noop_reward_0"] == 12
    assert report["max_live_episodes"] == 8 and report["schemas_verbatim"]
