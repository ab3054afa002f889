"""`envsynth export verifiers`: a verifiers 0.4 (`verifiers.v1`) taskset package, installed the way a
user installs it (`pip install -e OUT` into a venv holding verifiers==0.4.0) and run by verifiers'
own command-line tools - `vf-validate` (model-free gold and no-op checks) and `vf-eval` with the
`null` harness against a scripted OpenAI-compatible endpoint on 127.0.0.1, so the per-rollout MCP
tool server, verifiers' state sync and the reward run exactly as in a real evaluation.

What these catch: a package verifiers cannot load by its taskset id (module name, `__all__`), a
gold check that does not reach envsynth's reward (broken gold data, tools or scorer), a reward a
no-op passes (one that ignores the answers or refusal reasons), tool schemas that are not the
task's verbatim, and a tool server whose calls do not reach the rollout's state (a write lost, a
bad call that changes something, a reward read from the prompt instead of the assistant).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from envsynth.errors import EnvsynthError
from envsynth.export import export
from envsynth.export.source import Source, final_reply
from envsynth.generate import GenerateOptions, generate
from envsynth.tasks.model import requests
from harness import harness_python

REQUIREMENTS = ["verifiers==0.4.0", "uv"]  # uv: the null harness runs its chat program as a uv script
TASKSET = "envsynth-retail"

# A scripted OpenAI-compatible chat endpoint. Per task (found by its instruction, the first user
# message): "gold" sends one bad call, then the gold calls one per turn, then the gold reply;
# "noop" answers at once with a generic apology.
FAKE_MODEL = r'''
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
SCRIPTS = json.load(open(sys.argv[1]))

def answer(body):
    msgs = body.get("messages", [])
    first = next((m for m in msgs if m.get("role") == "user"), {})
    content = first.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content)
    script = SCRIPTS.get((content or "").strip())
    if script is None:
        return {"role": "assistant", "content": "I do not know this task."}
    calls = script["calls"]
    done = sum(1 for m in msgs if m.get("role") == "tool")
    if script["mode"] == "gold" and done < len(calls):
        name, args = calls[done]
        return {"role": "assistant", "content": None, "tool_calls": [{"id": f"call_{done}", "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)}}]}
    return {"role": "assistant", "content": script["reply"]}

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        msg = answer(body)
        finish = "tool_calls" if msg.get("tool_calls") else "stop"
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        base = {"id": "chatcmpl-scripted", "created": 0, "model": body.get("model", "scripted")}
        if body.get("stream"):
            delta = dict(msg)
            if delta.get("tool_calls"):
                delta["tool_calls"] = [{**c, "index": i} for i, c in enumerate(delta["tool_calls"])]
            chunks = [{**base, "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]},
                      {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}]
            data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"
            kind = "text/event-stream"
        else:
            data = json.dumps({**base, "object": "chat.completion", "usage": usage,
                               "choices": [{"index": 0, "message": msg, "finish_reason": finish}]}).encode()
            kind = "application/json"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
open(sys.argv[2], "w").write(str(server.server_address[1]))
server.serve_forever()
'''


@pytest.fixture(scope="module")
def py() -> Path:
    return harness_python("verifiers", REQUIREMENTS)


def harness_env(py: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{py.parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(py: Path, args: list, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env=harness_env(py, **env), check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({done.returncode}):\n"
                             f"STDOUT:\n{done.stdout[-4000:]}\nSTDERR:\n{done.stderr[-6000:]}")
    return done


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vf_ds")
    generate("retail", out, GenerateOptions(n=12, seed=5, refusals=0.4))
    return out


@pytest.fixture(scope="module")
def installed(py, dataset, tmp_path_factory):
    """The export, pip-installed (editable) into the verifiers venv, as a user does."""
    out = tmp_path_factory.mktemp("vf_export") / "pkg"
    report = export("verifiers", dataset, out)
    assert report.package == "envsynth_retail"
    run(py, [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", out])
    yield out
    subprocess.run([str(py), "-m", "pip", "uninstall", "-y", "--quiet", TASKSET], capture_output=True, check=False)


def vf_validate(py: Path, out_dir: Path, *args: str, **env: str) -> tuple[dict, dict]:
    """Run `vf-validate` (subprocess runtime); its summary and its result rows by task id."""
    run(py, [py.parent / "vf-validate", TASKSET, "--runtime.type", "subprocess", "--rich", "false",
             "-o", out_dir, "--run.name", "check", *args], **env)
    summary = json.loads((out_dir / "check" / "summary.json").read_text())
    rows = [json.loads(line) for line in (out_dir / "check" / "results.jsonl").read_text().splitlines() if line]
    return summary, {r["name"]: r for r in rows}


def test_export_refuses_what_is_not_a_dataset_and_a_non_empty_output(dataset, tmp_path):
    """Catches: a traceback instead of a message for a user's mistake."""
    with pytest.raises(EnvsynthError):
        export("verifiers", tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(EnvsynthError, match="not empty"):
        export("verifiers", dataset, tmp_path / "full")


@pytest.mark.harness
def test_export_writes_an_installable_taskset_package(dataset, installed):
    pkg = installed / "envsynth_retail"
    assert (pkg / "data" / "tasks.jsonl").read_bytes() == (dataset / "tasks.jsonl").read_bytes()
    assert (pkg / "data" / "spec.yaml").read_bytes() == (dataset / "spec.yaml").read_bytes()
    project = (installed / "pyproject.toml").read_text()
    assert 'name = "envsynth-retail"' in project and '"verifiers==0.4.0"' in project
    assert "vf-validate envsynth-retail" in (installed / "README.md").read_text()


@pytest.mark.harness
def test_vf_validate_finds_every_gold_valid_and_every_noop_unsolved(py, dataset, installed, tmp_path):
    """Catches: a package vf-validate cannot load, a gold replay the reward rejects, a refusal or
    read-only task a no-op passes."""
    tasks = list(Source(dataset).tasks())
    assert any(t.expected.refusals for t in tasks) and any(not t.expected.refusals for t in tasks)
    summary, rows = vf_validate(py, tmp_path)
    assert summary["total"] == len(tasks)
    assert summary["valid_rate"] == 1.0, summary
    assert summary["checks"]["gold"]["valid"] == summary["checks"]["noop"]["valid"] == len(tasks)
    assert {r["noop"]["reward"] for r in rows.values()} == {0.0}


@pytest.mark.harness
def test_vf_validate_reports_a_broken_gold_and_a_reward_that_ignores_answers(py, dataset, installed, tmp_path):
    """The same check on a copy with two planted bugs, found before the installed package on the
    path: one task's expected final state is corrupted (its gold can no longer score 1.0), and the
    reward keeps only the database match (a no-op then passes refusal and question tasks)."""
    tasks = list(Source(dataset).tasks())
    broken = next(t for t in tasks if t.expected.changes)
    refusal = next(t for t in tasks if t.expected.refusals and t is not broken)
    planted = tmp_path / "planted"
    shutil.copytree(installed / "envsynth_retail", planted / "envsynth_retail")
    data = planted / "envsynth_retail" / "data" / "tasks.jsonl"
    records = [json.loads(line) for line in data.read_text().splitlines()]
    for r in records:
        if r["id"] == broken.id:
            r["expected"]["final_state_hash"] = "0" * 64
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    play = planted / "envsynth_retail" / "play.py"
    right = '"reward": float(score.reward == 1.0 and consistent)'
    assert right in play.read_text()
    play.write_text(play.read_text().replace(right, '"reward": float(score.db_match and consistent)'))

    summary, rows = vf_validate(py, tmp_path / "runs", "--select.include.ids", broken.id, refusal.id,
                                PYTHONPATH=str(planted))
    assert summary["total"] == 2 and summary["valid_rate"] == 0.0, summary
    assert rows[broken.id]["gold"]["reason"] == "invalid"
    assert rows[refusal.id]["gold"]["reason"] == "valid"
    assert rows[refusal.id]["noop"]["reason"] == "invalid" and rows[refusal.id]["noop"]["reward"] == 1.0


@pytest.mark.harness
def test_vf_eval_plays_a_scripted_model_through_the_real_tool_server(py, dataset, installed, tmp_path):
    """Catches: tools not served (or not with the task's schemas verbatim) by the per-rollout MCP
    server, calls that do not reach the rollout's state (the gold's writes lost: db_match 0), a bad
    call that changes something, and a reward read from anything but the assistant's messages -
    a gold run scores 1.0, a polite no-op on a refusal task 0.0."""
    tasks = list(Source(dataset).tasks())
    gold = next(t for t in tasks if t.expected.changes and t.expected.refusals) if any(
        t.expected.changes and t.expected.refusals for t in tasks) else next(t for t in tasks if t.expected.changes)
    noop = next(t for t in tasks if t.expected.refusals and t is not gold)
    first_tool = next(iter(requests(gold)))[0]
    scripts = {
        gold.instruction.strip(): {"mode": "gold", "reply": final_reply(gold),
                                   "calls": [[first_tool, {"no_such_argument": 1}]]
                                   + [[n, dict(a)] for n, a, _ in requests(gold)]},
        noop.instruction.strip(): {"mode": "noop", "reply": "Sorry, I cannot help with that.", "calls": []},
    }
    (tmp_path / "scripts.json").write_text(json.dumps(scripts))
    (tmp_path / "model.py").write_text(FAKE_MODEL)
    port_file = tmp_path / "port"
    model = subprocess.Popen([sys.executable, str(tmp_path / "model.py"), str(tmp_path / "scripts.json"),
                              str(port_file)])
    try:
        for _ in range(100):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        run(py, [py.parent / "vf-eval", TASKSET, "-m", "scripted",
                 "--client.base-url", f"http://127.0.0.1:{port_file.read_text().strip()}/v1",
                 "--client.api-key-var", "SCRIPTED_KEY", "--env.agent.harness.id", "null",
                 "--env.agent.runtime.type", "subprocess", "--select.include.ids", gold.id, noop.id,
                 "-o", tmp_path / "eval", "--run.name", "scripted"], timeout=900, SCRIPTED_KEY="unused")
    finally:
        model.terminate()
        model.wait(timeout=10)
    episodes = [json.loads(line) for line in (tmp_path / "eval" / "scripted" / "traces.jsonl").read_text().splitlines()]
    traces = {e["task"]["data"]["id"]: e["traces"][0] for e in episodes}
    assert set(traces) == {gold.id, noop.id}

    g = traces[gold.id]
    assert g["rewards"]["reward"]["score"] == 1.0, (g["metrics"], g.get("errors"))
    assert g["metrics"]["db_match"] == 1.0 and g["metrics"]["state_consistent"] == 1.0
    assert g["metrics"]["tool_calls"] == len(list(requests(gold))) + 1
    assert g["metrics"]["failed_calls"] == len(gold.expected.refusals) + 1  # the bad call, and each refused request
    served = {t["name"]: t["parameters"] for t in g["tools"]}
    assert served == {t["function"]["name"]: t["function"]["parameters"] for t in gold.tools}

    n = traces[noop.id]
    assert n["rewards"]["reward"]["score"] == 0.0
    assert n["metrics"]["db_match"] == 1.0 and n["metrics"]["answers_communicated"] == 0.0
