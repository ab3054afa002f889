"""`envsynth eval --agent openai:MODEL` and the user simulator, end to end.

No network: every test that talks to a model runs a REAL OpenAI-compatible chat-completions
server process on 127.0.0.1 (tests/chat_server.py) answering from the scripted brains in
tests/brains_agent.py, and the real `envsynth eval` (with the official `openai` client) against
it - hence the `..._against_local_scripted_server` names. One small airline dataset, concurrency 4.
Needs the `openai` client (the `llm` extra; the `test` extra lists it too, so CI never skips these).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envsynth.play.agents import evaluate, load_agent
from envsynth.play.results import ResultsDir
from envsynth.play.session import play_builtin, run_eval, summarize
from envsynth.play.user import ScriptedUser, asked_facts
from envsynth.tasks.scenario import user_scenario
from envsynth.verify import dataset_spec, iter_tasks

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from envsynth.cli import app; app()"]
N_TASKS = 16


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("llm") / "ds"
    subprocess.run(CLI + ["generate", "airline", "-n", str(N_TASKS), "--refusals", "0.2", "--seed", "3", "-o", str(d), "-q"],
                   check=True, capture_output=True, timeout=300)
    return d


@pytest.fixture(scope="module")
def tasks(dataset):
    return list(iter_tasks(dataset / "tasks.jsonl"))


class Server:
    def __init__(self, dataset: Path, tmp: Path, *args: str):
        self.log = tmp / f"server-{time.monotonic_ns()}.log"
        self.brain_log = tmp / f"brain-{time.monotonic_ns()}.log"
        env = dict(os.environ, ENVSYNTH_BRAIN_TASKS=str(dataset), ENVSYNTH_BRAIN_LOG=str(self.brain_log),
                   PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "chat_server.py"), "--brain",
                                      "tests.brains_agent:brain", "--port", "0", "--log", str(self.log), *args],
                                     stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = f"http://127.0.0.1:{line.split()[1]}/v1"

    def requests(self) -> list[dict]:
        return [json.loads(x) for x in self.log.read_text().splitlines()] if self.log.exists() else []

    def brain_requests(self) -> list[dict]:
        return [json.loads(x) for x in self.brain_log.read_text().splitlines()] if self.brain_log.exists() else []

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def server(dataset, tmp_path):
    made = []

    def start(*args: str) -> Server:
        s = Server(dataset, tmp_path, *args)
        made.append(s)
        return s

    yield start
    for s in made:
        s.close()


def run_eval_cli(dataset: Path, url: str, out: Path, model: str = "gold", user: str = "scripted", *extra: str,
                 timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["eval", str(dataset), "--agent", f"openai:{model}", "--base-url", url,
                                 "--user", user, "-j", "4", "--out", str(out), "--json", *extra],
                          capture_output=True, text=True, timeout=timeout)


def rewards(out: Path) -> dict:
    return {k: r.reward for k, r in ResultsDir(out).latest().items()}


@pytest.fixture(scope="module")
def plain(dataset, tmp_path_factory):
    """One server with no faults, shared by the tests that need nothing special of it."""
    s = Server(dataset, tmp_path_factory.mktemp("plain"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def gold_scripted(dataset, plain, tmp_path_factory):
    """The uninterrupted gold run with the scripted user: the reference the other runs compare to."""
    out = tmp_path_factory.mktemp("gold") / "gold"
    before = len(plain.requests())
    r = run_eval_cli(dataset, plain.url, out)
    assert r.returncode == 0, r.stderr
    return out, json.loads(r.stdout), plain.requests()[before:]


# ----------------------------------------------------------------------------- against the server


def test_gold_brain_with_scripted_user_scores_every_task_against_local_scripted_server(gold_scripted, tasks):
    """Catches: the agent loop not feeding tool results back, assistant text not reaching the
    environment, the scripted user not giving a fact the agent asks for (the gold brain then
    never plays), or a summary that disagrees with the results file."""
    out, summary, _ = gold_scripted
    assert summary["tasks"] == N_TASKS and summary["mean_reward"] == 1.0
    assert set(rewards(out).values()) == {1.0} and len(rewards(out)) == N_TASKS
    assert summary["tokens"]["prompt"] > 0 and summary["user"] == "scripted"
    asked = 0
    for t in ResultsDir(out).transcripts():
        msgs = t.messages
        assert msgs[0]["role"] == "system" and msgs[-1] == {"role": "user", "content": "###STOP###"}
        # the agent asked, and the user's reply gave the withheld fact
        for a, u in zip(msgs, msgs[1:]):
            if a["role"] == "assistant" and (a.get("content") or "").startswith("Could you please tell me") \
                    and u["role"] == "user" and u["content"] != "###STOP###":
                asked += 1
    assert asked >= 3, "the scripted user was never asked for a fact"
    assert json.loads((out / "summary.json").read_text()) == summary


def test_near_miss_brain_scores_zero_where_a_near_miss_is_listed_against_local_scripted_server(
        dataset, plain, tmp_path, tasks):
    """Catches: a reward not taken from the environment's final state and answers (a run that
    credits the conversation, not what it did); the near-miss brain takes the listed near miss."""
    s = plain
    out = tmp_path / "near"
    r = run_eval_cli(dataset, s.url, out, model="near-miss")
    assert r.returncode == 0, r.stderr
    got = ResultsDir(out).latest()
    near = [t for t in tasks if any(d.before_target for d in t.certificate.distractors)]
    assert len(near) >= 3
    assert all(got[(t.id, 0)].reward == 0.0 for t in near)
    assert json.loads(r.stdout)["with_distractors"] == {"tasks": len(near), "mean_reward": 0.0}


def test_injected_429s_and_500s_change_no_result_against_local_scripted_server(dataset, server, tmp_path,
                                                                               gold_scripted):
    """Catches: a rate limit or server error surfacing as a failed episode (no retry, or a retry
    that resends a changed conversation)."""
    s = server("--fail-every", "429:4", "--fail", "500@2,500@9")
    out = tmp_path / "faults"
    r = run_eval_cli(dataset, s.url, out)
    assert r.returncode == 0, r.stderr
    assert rewards(out) == rewards(gold_scripted[0])
    injected = [x["injected"] for x in s.requests() if x["injected"]]
    assert injected.count(429) >= 8 and injected.count(500) >= 1  # ...and each was retried:
    assert len(s.requests()) - len(injected) == len(gold_scripted[2])
    summary = json.loads(r.stdout)
    assert summary == gold_scripted[1]


def test_killed_eval_resumes_without_replaying_finished_tasks_against_local_scripted_server(
        dataset, server, tmp_path, gold_scripted):
    """Catches: a resume that replays finished episodes, loses one, double-counts one, or ends
    with a summary other than an uninterrupted run's."""
    s = server("--delay", "0.15")
    out = tmp_path / "killed"
    proc = subprocess.Popen(CLI + ["eval", str(dataset), "--agent", "openai:gold", "--base-url", s.url,
                                   "--user", "scripted", "-j", "4", "--out", str(out), "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        f = out / "results.jsonl"
        if f.exists() and len(f.read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = ResultsDir(out).done()
    assert 5 <= len(finished) < N_TASKS, "the kill came too late to test a resume"
    before = len(s.brain_requests())
    r = run_eval_cli(dataset, s.url, out)
    assert r.returncode == 0, r.stderr
    second = s.brain_requests()[before:]
    replayed = {x["task"] for x in second} & {k[0] for k in finished}
    assert not replayed, f"finished tasks were played again: {replayed}"
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
    assert sorted(x["task_id"] for x in lines) == sorted(k[0] for k in rewards(gold_scripted[0]))  # once each
    assert json.loads(r.stdout) == gold_scripted[1]


def test_llm_user_plays_the_scenario_against_local_scripted_server(dataset, plain, tmp_path, gold_scripted):
    """Catches: the LLM user's side of the conversation built wrongly (roles not flipped, its
    opening missing), its stop signal ignored, or its tokens not counted."""
    before = len(plain.requests())
    out = tmp_path / "llmuser"
    r = run_eval_cli(dataset, plain.url, out, "gold", "llm:user")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert rewards(out) == rewards(gold_scripted[0])
    assert summary["user"] == "llm:user" and summary["tokens"]["user_prompt"] > 0
    assert {x["model"] for x in plain.requests()[before:]} == {"gold", "user"}


def test_mistakes_a_user_can_make_are_messages_against_local_scripted_server(dataset, server, plain, tmp_path):
    """Catches: a missing key variable, a model the server lacks or an endpoint that is down
    ending in a traceback - or an infrastructure failure counted as a finished episode."""
    r = subprocess.run(CLI + ["eval", str(dataset), "--agent", "openai:gold", "--api-key-env", "NO_SUCH_VAR_12"],
                       capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items()
                                                                        if k != "NO_SUCH_VAR_12"})
    assert r.returncode == 1 and "NO_SUCH_VAR_12" in r.stderr and "Traceback" not in r.stderr
    out = tmp_path / "badmodel"
    r = run_eval_cli(dataset, plain.url, out, "no-such-model")
    assert r.returncode == 1 and "has no model 'no-such-model'" in r.stderr and "Traceback" not in r.stderr
    assert "run the same command again to resume" in r.stderr
    assert ResultsDir(out).done() == set() and all(x.retry for x in ResultsDir(out).results())
    s = server()
    s.close()  # the endpoint goes down
    r = run_eval_cli(dataset, s.url, tmp_path / "down", "gold", "scripted", "--retries", "0", timeout=60)
    assert r.returncode == 1 and "still failing after retries" in r.stderr and "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- without a server


def test_scenario_withholds_only_what_it_gives_when_asked(tasks):
    """Catches: an opening that loses a fact for good (neither said nor given when asked), or a
    scenario that is not a deterministic function of the task."""
    withheld = 0
    for t in tasks:
        sc = user_scenario(t)
        assert sc == user_scenario(t.model_copy(deep=True))
        told = sc.opening + " " + " ".join(f.says for f in sc.known)
        for v in [str(x) for x in t.certificate.objects.values() if x in t.instruction]:
            assert v in told
        for f in sc.known:
            withheld += 1
            assert not any(v in sc.opening for v in f.values) and all(v in f.says for v in f.values)
    assert withheld >= 3


def test_scripted_user_gives_asked_facts_confirms_and_stops(tasks):
    """Catches: keyword matching that gives the wrong fact, never stops, or answers a statement."""
    t = next(t for t in tasks if any(f.name == "user id" for f in user_scenario(t).known))
    u = ScriptedUser(t)
    fact = next(f for f in u.scenario.known if f.name == "user id")
    assert asked_facts(u.scenario.known, "What is your user ID?") == [fact]
    assert fact.values[0] in u.reply("Could you share your user id, please?")
    assert u.reply("Shall I go ahead with the change?") == "Yes, please go ahead."
    assert u.reply("Your booking is updated.") is None
    assert u.reply("Is there anything else I can help with?") is None


def test_builtin_agents_write_results_with_the_same_summary(dataset, tasks, tmp_path):
    """Catches: a summary from results.jsonl that differs from `evaluate`'s for the same rewards,
    or a resume that plays finished episodes again."""
    domain = dataset_spec(dataset)
    for name in ("oracle", "distractor-blind", "random"):
        agent = load_agent(name)
        trials = 3 if agent.stochastic else 1
        ref = evaluate(domain, tasks, load_agent(name), trials=trials).to_json()
        rd = ResultsDir(tmp_path / name)
        run_eval(tasks, lambda t, k: play_builtin(domain, t, k, agent, 0), rd, trials=trials)
        got = summarize(tasks, rd, trials, agent.name)
        assert {k: got[k] for k in ref} == ref
        again = run_eval(tasks, lambda t, k: 1 / 0, rd, trials=trials)  # nothing left to play
        assert again.played == 0 and again.skipped == len(tasks) * trials
