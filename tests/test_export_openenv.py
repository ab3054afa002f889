"""`envsynth export openenv`: the package runs in the real OpenEnv (openenv 0.10.0, in its own venv).

Two ways in, as a user has them: the environment class imported from the export folder (in
process), and the package pip-installed and served by uvicorn on 127.0.0.1, driven through
OpenEnv's own clients (MCPToolClient over HTTP MCP + WebSocket, GenericEnvClient) and its
`openenv validate --url` checks. Each driver script runs once per session and reports JSON; each
test reads the part it is about. The dataset is 12 retail tasks with refusals (and a tool taking
an argument called `name`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from envsynth.errors import EnvsynthError
from envsynth.export import export
from envsynth.export.episode import Catalog
from envsynth.tasks.model import requests
from harness import free_port, harness_python, last_json, run_in, stop

pytestmark = pytest.mark.harness

OPENENV = ["openenv==0.10.0", "wheel"]  # wheel: pip builds the export without build isolation

IN_PROCESS = r'''
import json, sys
out = sys.argv[1]
sys.path.insert(0, out)
from server.envsynth_environment import EnvsynthEnvironment
from models import CallToolAction, ListToolsAction
from openenv.core.env_server.mcp_types import ToolErrorType
from envsynth.export.episode import Catalog
from envsynth.export.source import final_reply
from envsynth.tasks.model import requests

cat = Catalog(out + "/data")
ids = cat.ids()
rep = {}

env = EnvsynthEnvironment()
listed = env.step(ListToolsAction()).tools
rep["tools"] = {t.name: {"description": t.description, "schema": t.input_schema} for t in listed}

def call(env, name, args):
    o = env.step(CallToolAction(tool_name=name, arguments=args))
    return o

gold, noop, problems = {}, {}, []
for tid in ids:
    task = cat.task(tid)
    first = env.reset(task_id=tid)
    if first.task_id != tid or first.instruction != task.instruction or first.policy != task.policy:
        problems.append(f"{tid}: reset observation is not the task")
    for name, args, refusal in requests(task):
        o = call(env, name, dict(args))
        if (o.error is not None) != (refusal is not None):
            problems.append(f"{tid} {name}: error={o.error} refusal={refusal is not None}")
        if o.done or o.reward != 0.0:
            problems.append(f"{tid} {name}: a tool step has done={o.done} reward={o.reward}")
    end = call(env, "finish", {"message": final_reply(task)})
    gold[tid] = end.reward
    if not end.done:
        problems.append(f"{tid}: finish did not end the episode")
    env.reset(task_id=tid)
    end = call(env, "finish", {"message": ""})
    noop[tid] = end.reward
rep["gold"], rep["noop"], rep["gold_problems"] = gold, noop, problems

# a bad call: an error the agent sees, and nothing changed
writer = next(t for t in map(cat.task, ids) if any(cat.domain.tools[n].is_write or cat.domain.tools[n].effects
                                                    for n, _a, r in requests(t) if r is None))
wname, wargs = next((n, a) for n, a, r in requests(writer) if r is None and (cat.domain.tools[n].is_write or cat.domain.tools[n].effects))
bad = {}
fresh = EnvsynthEnvironment()
o = call(fresh, wname, dict(wargs))
bad["before_reset"] = o.error.message if o.error else None
fresh.reset(task_id=writer.id)
h0 = fresh.state.db_hash
o = call(fresh, wname, {**wargs, "bogus_argument": 1})
bad["bad_args"] = [o.error.error_type.value, o.error.message] if o.error else None
o = call(fresh, "no_such_tool", {})
bad["unknown_tool"] = [o.error.error_type.value, o.error.message] if o.error else None
o = call(fresh, "finish", {})
bad["finish_without_message"] = [o.error.message, o.done] if o.error else None
bad["unchanged"] = fresh.state.db_hash == h0
o = call(fresh, wname, dict(wargs))
bad["good_call_changes"] = o.error is None and fresh.state.db_hash != h0
call(fresh, "finish", {"message": "done"})
h1 = fresh.state.db_hash
o = call(fresh, wname, dict(wargs))
bad["after_finish"] = [o.error.message if o.error else None, o.done, o.reward, fresh.state.db_hash == h1]
rep["bad"] = bad

# picking tasks
pick = {}
a, b = EnvsynthEnvironment(), EnvsynthEnvironment()
pick["seed_same"] = a.reset(seed=7).task_id == b.reset(seed=7).task_id
pick["seeds"] = len({EnvsynthEnvironment().reset(seed=s).task_id for s in range(20)})
pick["index"] = [a.reset(index=i).task_id for i in range(len(ids))] == ids
pick["split_index"] = a.reset(split="test", index=2).task_id == ids[2]
errors = []
for kw in ({"task_id": "nope"}, {"index": len(ids)}, {"index": -1}, {"split": "train", "index": 0}, {"colour": 1}):
    try:
        a.reset(**kw)
        errors.append(None)
    except ValueError as e:
        errors.append(str(e))
pick["errors"] = errors
rep["pick"] = pick

# two instances do not share an episode
x, y = EnvsynthEnvironment(), EnvsynthEnvironment()
x.reset(task_id=writer.id); y.reset(task_id=writer.id)
hy = y.state.db_hash
for n, args, r in requests(writer):
    call(x, n, dict(args))
rep["isolated"] = {"other_unchanged": y.state.db_hash == hy, "writer_changed": x.state.db_hash != hy,
                   "other_noop": call(y, "finish", {"message": ""}).reward,
                   "writer_gold": call(x, "finish", {"message": final_reply(writer)}).reward}

# the task API (TaskProvider methods)
api = {"splits": env.list_splits(), "num": env.num_tasks("test"), "ids": [t["id"] for t in env.list_tasks("test")],
       "task2": env.get_task("test", 2)["id"], "range": [t["id"] for t in env.get_task_range("test", 1, 3)],
       "other_split": [env.num_tasks("train"), env.list_tasks("train")]}
try:
    env.get_task("test", len(ids))
    api["out_of_range"] = None
except IndexError as e:
    api["out_of_range"] = str(e)
rep["api"] = api
print(json.dumps(rep))
'''

OVER_HTTP = r'''
import asyncio, json, sys, urllib.request, urllib.error
from pathlib import Path
url, data, site = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
sys.path.insert(0, site)  # the export, pip-installed there
from openenv.core.mcp_client import MCPToolClient
from openenv.core.generic_client import GenericEnvClient
from openenv.cli._validation import validate_running_environment
from envsynth_retail import EnvsynthEnv
from envsynth_retail.check import check
from envsynth.export.episode import Catalog
from envsynth.export.source import final_reply
from envsynth.tasks.model import requests

cat = Catalog(data)
ids = cat.ids()
rep = {}

def writes(n):
    t = cat.domain.tools[n]
    return bool(t.is_write or t.effects)

async def gold_with_call_tool(env, task):
    """The gold plan with MCPToolClient.call_tool (HTTP MCP); `call` for tools taking `name`."""
    problems = []
    await env.reset(task_id=task.id)
    for name, args, refusal in requests(task):
        try:
            if "name" in args:
                await env.call(name, dict(args))
            else:
                await env.call_tool(name, **args)
            if refusal is not None:
                problems.append(f"{name}: refused request succeeded")
        except RuntimeError as e:
            if refusal is None or "Error:" not in str(e):
                problems.append(f"{name}: {e}")
    end = await env.finish(final_reply(task))
    return end.reward, end.done, problems

async def main():
    rep["check"] = await check(url, data, None, 3)   # the shipped checker: steps over the WebSocket, 3 sessions at once
    async with EnvsynthEnv(base_url=url) as env:
        first = await env.reset(task_id=ids[0])
        obs = first.observation.model_dump()
        rep["reset"] = {"task_id": obs.get("task_id"), "instruction": obs.get("instruction") == cat.task(ids[0]).instruction,
                        "done": first.done}
        tools = await env.list_tools()
        rep["tools"] = {t.name: {"description": t.description, "schema": t.input_schema} for t in tools}
        rep["call_tool_gold"] = {}
        for tid in ids:
            reward, done, problems = await gold_with_call_tool(env, cat.task(tid))
            rep["call_tool_gold"][tid] = [reward, done, problems]
        try:
            await env.reset(task_id="no-such-task")
            rep["unknown_task"] = None
        except RuntimeError as e:
            rep["unknown_task"] = str(e)

    # a bad call: an error the agent sees, and nothing changed
    writer = next(t for t in map(cat.task, ids) if any(writes(n) for n, _a, r in requests(t) if r is None))
    wname, wargs = next((n, a) for n, a, r in requests(writer) if r is None and writes(n))
    bad = {}
    async with EnvsynthEnv(base_url=url) as env:
        await env.reset(task_id=writer.id)
        h0 = (await env.state()).db_hash
        for label, name, args in (("bad_args", wname, {**wargs, "bogus_argument": 1}), ("unknown_tool", "no_such_tool", {})):
            try:
                await env.call_tool(name, **args)
                bad[label] = None
            except RuntimeError as e:
                bad[label] = str(e)
        try:
            await env.call(wname, {**wargs, "bogus_argument": 1})
            bad["bad_args_step"] = None
        except RuntimeError as e:
            bad["bad_args_step"] = str(e)
        st = await env.state()
        bad["unchanged"] = st.db_hash == h0
        reward, done, problems = await gold_with_call_tool(env, writer)
        bad["gold_after"] = [reward, problems]
    rep["bad"] = bad

    # two sessions on the same task: one's calls never reach the other's database
    iso = {}
    async with EnvsynthEnv(base_url=url) as a, EnvsynthEnv(base_url=url) as b:
        await a.reset(task_id=writer.id)
        await b.reset(task_id=writer.id)
        hb = (await b.state()).db_hash
        for n, args, r in requests(writer):
            try:
                await a.call(n, dict(args))
            except RuntimeError:
                pass
        iso["a_changed"] = (await a.state()).db_hash != hb
        iso["b_unchanged"] = (await b.state()).db_hash == hb
        iso["b_noop"] = (await b.finish("")).reward
        iso["a_gold"] = (await a.finish(final_reply(writer))).reward
        iso["b_task"] = (await b.state()).task_id
    rep["isolated"] = iso

    # the generic client (plain dicts) plays one task's gold too
    async with GenericEnvClient(base_url=url) as g:
        task = cat.task(ids[-1])
        await g.reset(task_id=task.id)
        for n, args, r in requests(task):
            await g.step({"type": "call_tool", "tool_name": n, "arguments": dict(args)})
        end = await g.step({"type": "call_tool", "tool_name": "finish", "arguments": {"message": final_reply(task)}})
        rep["generic"] = [end.reward, end.done]

asyncio.run(main())

def post(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body

with urllib.request.urlopen(url + "/envsynth_retail/splits", timeout=30) as r:
    splits = json.loads(r.read())
rep["api"] = {"splits": splits, "num": post("/envsynth_retail/num_tasks", {"split": "test"}),
              "tasks": post("/envsynth_retail/tasks", {"split": "test"}),
              "task2": post("/envsynth_retail/task", {"split": "test", "index": 2}),
              "range": post("/envsynth_retail/task_range", {"split": "test", "start": 1, "stop": 3}),
              "out_of_range": post("/envsynth_retail/task", {"split": "test", "index": len(ids)}),
              "other_env": post("/envsynth_airline/num_tasks", {"split": "test"})}
report = validate_running_environment(url, timeout_s=30)
rep["validate"] = [report.get("passed"), [c.get("id") for c in report.get("criteria", []) if not c.get("passed")]]
print(json.dumps(rep))
'''


@pytest.fixture(scope="session")
def openenv_py():
    return harness_python("openenv", OPENENV)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("openenv") / "ds"
    subprocess.run([sys.executable, "-m", "envsynth.cli", "generate", "retail", "-n", "12", "--refusals", "0.3",
                    "--seed", "5", "-o", str(out), "-q"], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def exported(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("openenv") / "envsynth_retail"
    report = export("openenv", dataset, out)
    assert report.package == "envsynth_retail" and report.tasks == 12
    return out


@pytest.fixture(scope="session")
def catalog(exported):
    return Catalog(exported / "data")


def _start(py: Path, script: str, *args: str) -> subprocess.Popen:
    """`harness.run_in`, without waiting."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.Popen([str(py), "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


@pytest.fixture(scope="session")
def started(openenv_py, exported, tmp_path_factory):
    """The in-process driver, and the export pip-installed (into its own folder) and served by
    uvicorn on 127.0.0.1, started at once so that they overlap (each import of openenv costs
    seconds: it imports gradio)."""
    in_proc = _start(openenv_py, IN_PROCESS, str(exported))
    site = tmp_path_factory.mktemp("openenv") / "site"
    log_path = site.parent / "server.log"
    box: dict = {"url": f"http://127.0.0.1:{free_port()}", "site": site, "log": log_path}

    def serve():
        try:
            done = subprocess.run([str(openenv_py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                   "--no-deps", "--no-build-isolation", "--target", str(site), str(exported)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise AssertionError("pip could not install the export:\n" + done.stdout + done.stderr)
            env = {**os.environ, "PYTHONPATH": str(site)}
            box["log_file"] = open(log_path, "w")
            box["proc"] = subprocess.Popen(
                [str(openenv_py), "-m", "uvicorn", "envsynth_retail.server.app:app", "--host", "127.0.0.1",
                 "--port", box["url"].rsplit(":", 1)[1]],
                env=env, stdout=box["log_file"], stderr=subprocess.STDOUT, cwd=str(site.parent))
        except BaseException as e:  # noqa: BLE001 - reported by the `server` fixture
            box["error"] = e

    thread = threading.Thread(target=serve)
    thread.start()
    yield {"in_process": in_proc, "thread": thread, "box": box}
    thread.join()
    for proc in (box.get("proc"), in_proc):
        if proc is not None and proc.poll() is None:
            stop(proc)
    if "log_file" in box:
        box["log_file"].close()


@pytest.fixture(scope="session")
def in_process(started):
    proc = started["in_process"]
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"in-process driver failed:\nSTDOUT:\n{out[-4000:]}\nSTDERR:\n{err[-6000:]}"
    return json.loads([line for line in out.splitlines() if line.strip()][-1])


@pytest.fixture(scope="session")
def server(started):
    started["thread"].join()
    box = started["box"]
    if "error" in box:
        raise box["error"]
    deadline = time.monotonic() + 240
    while True:
        try:
            urllib.request.urlopen(box["url"] + "/health", timeout=2).read()
            return box
        except OSError:
            if box["proc"].poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the server did not start:\n" + box["log"].read_text()) from None
            time.sleep(0.5)


@pytest.fixture(scope="session")
def over_http(openenv_py, server, exported):
    done = run_in(openenv_py, OVER_HTTP, server["url"], str(exported / "data"), str(server["site"]), timeout=600)
    return last_json(done)


def _verbatim(catalog):
    return {t["function"]["name"]: {"description": t["function"]["description"], "schema": t["function"]["parameters"]}
            for t in catalog.tools}


# --- the export itself ------------------------------------------------------------------------

def test_export_lays_out_an_openenv_package(exported):
    """Catches a file missing from the layout `openenv init` makes, or a manifest not pointing at the app."""
    for rel in ["openenv.yaml", "pyproject.toml", "__init__.py", "client.py", "models.py", "server/app.py",
                "server/envsynth_environment.py", "server/requirements.txt", "server/Dockerfile", "data/spec.yaml",
                "data/tasks.jsonl", "data/env.json"]:
        assert (exported / rel).is_file(), rel
    manifest = (exported / "openenv.yaml").read_text()
    assert "name: envsynth_retail" in manifest and "app: server.app:app" in manifest
    assert '"openenv>=0.10.0,<0.11"' in (exported / "pyproject.toml").read_text()


def test_export_refuses_a_domain_tool_named_finish(dataset, tmp_path):
    """Catches a domain tool silently shadowed by the episode-ending `finish` tool."""
    ds = tmp_path / "ds"
    ds.mkdir()
    for name in ("tasks.jsonl", "manifest.json"):
        (ds / name).write_bytes((dataset / name).read_bytes())
    (ds / "spec.yaml").write_text((dataset / "spec.yaml").read_text().replace("get_user_details", "finish"))
    with pytest.raises(EnvsynthError, match="finish"):
        export("openenv", ds, tmp_path / "out")


# --- in process: the Environment class ---------------------------------------------------------

def test_tools_listed_with_the_datasets_schemas_verbatim_in_process(in_process, catalog):
    """Catches a schema rebuilt or altered on the way into FastMCP, a tool missing, or no `finish`."""
    tools = dict(in_process["tools"])
    finish = tools.pop("finish")
    assert finish["schema"]["required"] == ["message"]
    assert tools == _verbatim(catalog)


def test_gold_reaches_reward_1_in_process(in_process, catalog):
    """Catches a reward that is not envsynth's score of the episode (e.g. the reply not passed to
    the scorer), a refused request not coming back as an error, or finish not ending the episode."""
    assert in_process["gold_problems"] == []
    assert in_process["gold"] == {tid: 1.0 for tid in catalog.ids()}


def test_finishing_at_once_scores_0_in_process(in_process, catalog):
    """Catches a reward that ignores the answers (a read-only task would pass doing nothing) or the database."""
    assert in_process["noop"] == {tid: 0.0 for tid in catalog.ids()}


def test_bad_call_is_an_error_and_changes_nothing_in_process(in_process):
    """Catches errors returned as results, a refused call that changes the database, calls
    accepted before reset or after finish, and envsynth's error text not reaching the agent."""
    bad = in_process["bad"]
    assert bad["before_reset"].startswith("Error: no task is loaded")
    assert bad["bad_args"][0] == "execution_error" and bad["bad_args"][1].startswith("Error: unknown argument 'bogus_argument'")
    assert bad["unknown_tool"][0] == "tool_not_found" and bad["unknown_tool"][1].startswith("Error:")
    assert bad["finish_without_message"] == ["Error: finish needs 'message', your reply to the user, as a string", False]
    assert bad["unchanged"] is True
    assert bad["good_call_changes"] is True
    assert bad["after_finish"] == ["Error: the episode is over (finish was called); reset to start another", True, 0.0, True]


def test_reset_picks_tasks_by_id_index_or_seed_deterministically(in_process):
    """Catches a seed that does not decide the task, an index off by one, and bad reset options
    accepted silently instead of a clear error."""
    pick = in_process["pick"]
    assert pick["seed_same"] and pick["index"] and pick["split_index"]
    assert pick["seeds"] > 1  # different seeds reach different tasks
    errors = pick["errors"]
    assert all(errors), errors
    assert "no task 'nope'" in errors[0] and "out of range" in errors[1] and "out of range" in errors[2]
    assert "no split 'train'" in errors[3] and "colour" in errors[4]


def test_two_environments_do_not_share_an_episode_in_process(in_process):
    """Catches an episode or database shared between environment instances."""
    assert in_process["isolated"] == {"other_unchanged": True, "writer_changed": True, "other_noop": 0.0,
                                      "writer_gold": 1.0}


def test_task_provider_methods_list_the_tasks_in_process(in_process, catalog):
    """Catches tasks missing from or misordered in the task API, and a bad index not raising IndexError."""
    ids = catalog.ids()
    api = in_process["api"]
    assert api["splits"] == ["test"] and api["num"] == len(ids) and api["ids"] == ids
    assert api["task2"] == ids[2] and api["range"] == ids[1:3] and api["other_split"] == [0, []]
    assert api["out_of_range"]


# --- over HTTP: the installed package served by uvicorn, OpenEnv's clients ------------------------

def test_gold_reaches_1_and_noop_0_over_http_on_localhost(over_http, catalog):
    """Catches a reward lost on the WebSocket path (step_async), an HTTP MCP call that does not
    reach the session's episode, or a broken package install (data files, imports)."""
    check = over_http["check"]
    assert check["failures"] == [] and check["ok"] and check["tools_verbatim"] and check["sessions"] == 3
    assert check["gold_reward_1"] == check["noop_reward_0"] == len(catalog.ids())
    assert over_http["call_tool_gold"] == {tid: [1.0, True, []] for tid in catalog.ids()}
    assert over_http["generic"] == [1.0, True]
    assert over_http["reset"] == {"task_id": catalog.ids()[0], "instruction": True, "done": False}
    assert "no task 'no-such-task'" in over_http["unknown_task"]


def test_tools_listed_verbatim_over_http_on_localhost(over_http, catalog):
    """Catches schemas changed by the server's MCP listing (e.g. FastMCP rebuilding them)."""
    tools = dict(over_http["tools"])
    assert tools.pop("finish")["schema"]["required"] == ["message"]
    assert tools == _verbatim(catalog)


def test_bad_call_is_an_error_and_changes_nothing_over_http_on_localhost(over_http):
    """Catches a refused call that the client sees as a success, or one that changes the session's database."""
    bad = over_http["bad"]
    assert "Error: unknown argument 'bogus_argument'" in bad["bad_args"]
    assert "Error: unknown argument 'bogus_argument'" in bad["bad_args_step"] and "execution_error" in bad["bad_args_step"]
    assert "no_such_tool" in bad["unknown_tool"]
    assert bad["unchanged"] is True
    assert bad["gold_after"] == [1.0, []]


def test_two_sessions_are_isolated_over_http_on_localhost(over_http):
    """Catches sessions sharing one environment or database on the server."""
    assert over_http["isolated"]["a_changed"] is True
    assert over_http["isolated"]["b_unchanged"] is True
    assert over_http["isolated"]["b_noop"] == 0.0 and over_http["isolated"]["a_gold"] == 1.0


def test_task_endpoints_list_the_tasks_over_http_on_localhost(over_http, catalog):
    """Catches the task API not served (501), tasks missing, a bad index answered 500 instead of
    400, and the server failing `openenv validate --url`."""
    ids = catalog.ids()
    api = over_http["api"]
    assert api["splits"] == [{"name": "test", "type": "test"}]
    assert api["num"] == [200, {"num_tasks": len(ids)}]
    assert api["tasks"][0] == 200 and [t["id"] for t in api["tasks"][1]["tasks"]] == ids
    assert api["task2"][0] == 200 and api["task2"][1]["task"]["id"] == ids[2]
    assert api["range"][0] == 200 and [t["id"] for t in api["range"][1]["tasks"]] == ids[1:3]
    assert api["out_of_range"][0] == 400
    assert api["other_env"][0] == 404
    assert over_http["validate"] == [True, []]


def test_the_dataset_has_what_the_tests_need(catalog):
    """The tests above mean something only if the tasks include refusals, writes, answers and a
    tool argument called `name` (which MCPToolClient.call_tool cannot pass)."""
    tasks = list(catalog.tasks())
    assert any(t.expected.refusals for t in tasks)
    assert any(t.expected.answers for t in tasks)
    assert any("name" in args for t in tasks for _n, args, _r in requests(t))
    assert json.loads((catalog.data_dir / "env.json").read_text())["env_name"] == "envsynth_retail"
