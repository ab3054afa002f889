"""Scripted brains for tests/chat_server.py that play envsynth tasks (see tests/test_llm_eval.py).

One brain, `brain`, answers by the request's model name:
- `gold`: plays the task's gold - every planned call in order (refused requests included, see
  `envsynth.tasks.model.requests`), the next one chosen by how many tool results the conversation
  holds - then a final text with every answer and refusal reason (`export.source.final_reply`).
  When the opening message holds back facts (the scripted or LLM user's opening), it first asks
  the user for them ("Could you please tell me your user id?") and plays only once they are in
  the conversation.
- `near-miss`: the same, but with the first near miss listed before its target taken in the
  target's place (as `verify` plays near misses), and a final text saying what that play found.
- `user`: a user model for `--user llm:user` - finds the task by the opening it said (its first
  assistant message) and replies as `ScriptedUser` would to the agent's messages so far.

Tasks are read from the dataset directories (or tasks.jsonl files) in $ENVSYNTH_BRAIN_TASKS
(os.pathsep-separated). When $ENVSYNTH_BRAIN_LOG names a file, each agent request appends
{"model", "task", "tool_results"} there - how the tests tell which tasks a run played.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from envsynth.export.source import final_reply
from envsynth.play.environment import Environment
from envsynth.play.playback import play_walk
from envsynth.play.user import STOP, ScriptedUser
from envsynth.tasks.model import requests
from envsynth.tasks.scenario import user_scenario
from envsynth.verify import dataset_spec, iter_tasks, tasks_file

_lock = threading.Lock()
_index: dict | None = None
_plans: dict = {}


def _load() -> dict:
    global _index
    with _lock:
        if _index is None:
            index: dict[str, list] = {}
            for part in os.environ["ENVSYNTH_BRAIN_TASKS"].split(os.pathsep):
                path = tasks_file(Path(part))
                domain = dataset_spec(path.parent)
                for task in iter_tasks(path):
                    sc = user_scenario(task)
                    for text in {task.instruction, sc.opening}:
                        index.setdefault(text, []).append((task, domain, sc))
            _index = index
    return _index


def _text(m: dict) -> str:
    c = m.get("content")
    return c if isinstance(c, str) else ""


def _find(opening: str, said: str, replied: bool):
    """The task a conversation is about, or None while the user has not yet said enough to tell
    apart tasks with the same opening (the same person asking the same thing, known by other facts)."""
    cands = _load().get(opening)
    if not cands:
        raise KeyError(f"no task opens with {opening[:80]!r}")
    if len(cands) == 1:
        return cands[0]
    told = [c for c in cands if c[2].known and all(v in said for f in c[2].known for v in f.values)]
    if told:
        return told[0]
    if replied:  # the user was asked and gave none of the facts: a task that needs none
        return next((c for c in cands if not c[2].known), cands[0])
    return None


def _plan(task, domain, kind: str) -> tuple[list[tuple[str, dict]], str]:
    key = (task.id, kind)
    if key not in _plans:
        if kind == "gold":
            plan = ([(n, dict(a)) for n, a, _r in requests(task)], final_reply(task))
        else:
            env = Environment(domain, task)
            cert = task.certificate
            d = next((x for x in cert.distractors if x.before_target), None)
            by_step = {p.step: p for p in cert.selections}
            if d is None:
                play_walk(domain, task, env)
            elif d.step in by_step and by_step[d.step].target == d.target:
                play_walk(domain, task, env, picks={d.step: d.id})
            else:
                target = next(o for o, i in cert.objects.items() if i == d.target)
                play_walk(domain, task, env, override={target: d.id})
            plan = ([(c.name, dict(c.arguments)) for c in env.calls], " ".join(env.messages) or "All done.")
        _plans[key] = plan
    return _plans[key]


def agent(body: dict, kind: str) -> dict:
    messages = body["messages"]
    users = [_text(m) for m in messages if m.get("role") == "user"]
    opening, said = users[0], " ".join(users)
    found = _find(opening, said, replied=len(users) > 1)
    if found is None:  # ask for every fact any of the look-alike tasks holds back
        names = dict.fromkeys(f.name for _t, _d, sc in _load()[opening] for f in sc.known)
        return {"content": "Could you please tell me your " + " or ".join(names) + "?"}
    task, domain, sc = found
    tool_results = sum(1 for m in messages if m.get("role") == "tool")
    log = os.environ.get("ENVSYNTH_BRAIN_LOG")
    if log:
        with _lock, open(log, "a") as f:
            f.write(json.dumps({"model": body.get("model"), "task": task.id, "tool_results": tool_results}) + "\n")
    if opening != task.instruction:  # a user who holds facts back: ask for the missing ones first
        missing = [f for f in sc.known if not all(v in said for v in f.values)]
        if missing:
            return {"content": "Could you please tell me your " + " and ".join(f.name for f in missing) + "?"}
    calls, final = _plan(task, domain, kind)
    if tool_results < len(calls):
        name, args = calls[tool_results]
        return {"content": None, "tool_calls": [{"id": f"call_{tool_results}", "type": "function",
                                                 "function": {"name": name, "arguments": json.dumps(args)}}]}
    return {"content": final}


def user(body: dict) -> dict:
    messages = body["messages"]
    opening = next(_text(m) for m in messages if m.get("role") == "assistant")
    agent_says = [_text(m) for m in messages if m.get("role") == "user"]
    cands = _load().get(opening)
    if not cands:
        return {"error": 400, "message": f"no task opens with {opening[:80]!r}"}
    system = next((_text(m) for m in messages if m.get("role") == "system"), "")
    # look-alike openings: the scenario whose facts the system prompt lists
    task = next((t for t, _d, sc in cands if all(f.says in system for f in sc.known)), cands[0][0])
    simulated = ScriptedUser(task)
    reply = None
    for text in agent_says:  # replay the conversation: the scripted user's state is what it said
        reply = simulated.reply(text)
    return {"content": reply if reply is not None else STOP}


def brain(body: dict) -> dict:
    model = body.get("model", "")
    if model == "user":
        return user(body)
    if model in ("gold", "near-miss"):
        return agent(body, model)
    return {"error": 404, "message": f"The model '{model}' does not exist"}
