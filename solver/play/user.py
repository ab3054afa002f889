"""Simulated users for `envsynth eval --user none|scripted|llm:MODEL`.

A user opens the conversation and answers each message the agent sends to them; `reply` returns
None when the user is done (the stop signal `###STOP###`). Scoring never looks at the user: the
user mode only changes what the agent is told and when.

- `none`: today's single message (`task.instruction`: every fact up front); the episode ends at
  the agent's first reply without tool calls.
- `scripted`: plays the task's `UserScenario` without a model: opens with the greeting and the
  requests, gives a withheld fact when the agent asks for it (the fact's name or its record's
  kind with "id"/"number"/..., or a field name such as "email" or "zip"), says it does not know
  ids it only described or the answers it asked for, confirms when asked to confirm, and stops
  when the agent's message asks nothing (it answered, or said it is done), when the agent asks
  whether there is anything else, or after `max_replies` replies.
- `llm:MODEL`: the same scenario played by a model through the agent's endpoint client, with a
  system prompt built from the scenario; the model ends the conversation by saying ###STOP###.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ..errors import EnvsynthError
from ..tasks.model import Task
from ..tasks.scenario import ID_WORDS, Fact, UserScenario, user_scenario

STOP = "###STOP###"

_ASKS = re.compile(r"\?|\b(please (provide|share|tell|give|send|confirm|let me know)|could you|can you|would you|"
                   r"let me know|i need your|i'll need|i will need|may i have|what is your|what's your)\b", re.I)
_CONFIRM = re.compile(r"\b(confirm|proceed|go ahead|shall i|should i|do you want|would you like|is that (right|correct|ok|okay)|"
                      r"are you sure|ok to)\b", re.I)
_DONE = re.compile(r"\b(anything else|something else|any other (questions|requests)|is there more)\b", re.I)


def _has(words: list[str], text: str) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", text, re.I) for w in words)


def _entity_words(fact: Fact) -> list[str]:
    return [w for w in re.split(r"[\s_]+", fact.entity.lower()) if w]


def asked_facts(facts: list[Fact], text: str) -> list[Fact]:
    """The facts an agent's message asks for: named by their record's kind together with an id
    word or a field ("your reservation number", "user id", "zip"); else, by a field name alone
    ("your email"); else, when it asks for "your id"/"number" with no kind, every id fact."""
    def fields(f: Fact) -> list[str]:
        return [w for w in f.keywords if w not in _entity_words(f) and w not in ("id",)]

    is_id = [f for f in facts if "id" in f.keywords and f.name.endswith(" id")]
    specific = [f for f in facts if _has(_entity_words(f), text) and
                (_has(list(ID_WORDS), text) if f in is_id else _has(fields(f), text))]
    if specific:
        return specific
    by_field = [f for f in facts if f not in is_id and _has(fields(f), text)]
    if by_field:
        return by_field
    if _has(list(ID_WORDS), text):
        return is_id
    return []


class NoUser:
    """The whole request in one message; the episode ends at the agent's first plain reply."""

    mode = "none"

    def __init__(self, task: Task):
        self.task = task
        self.prompt_tokens = self.completion_tokens = 0

    def opening(self) -> str:
        return self.task.instruction

    def reply(self, agent_text: str) -> Optional[str]:
        return None


class ScriptedUser:
    """Replies from the task's scenario by rules (see the module's docstring)."""

    mode = "scripted"

    def __init__(self, task: Task, max_replies: int = 10):
        self.scenario: UserScenario = user_scenario(task)
        self.given: set[str] = set()
        self.replies = 0
        self.max_replies = max_replies
        self.prompt_tokens = self.completion_tokens = 0

    def opening(self) -> str:
        return self.scenario.opening

    def reply(self, agent_text: str) -> Optional[str]:
        text = agent_text or ""
        if self.replies >= self.max_replies or not _ASKS.search(text) or _DONE.search(text):
            return None
        self.replies += 1
        sc = self.scenario
        facts = asked_facts(sc.known, text)
        if facts:
            self.given.update(f.name for f in facts)
            return " ".join(f.says for f in facts)
        stated = asked_facts(sc.stated, text)
        if stated and not _CONFIRM.search(text):
            return "I've said what I know about that in my request: " + " ".join(sc.goal)
        for item in sc.unknown:
            words = [w for w in re.findall(r"[a-z]+", item.split("(")[0].lower())
                     if w not in ("the", "id", "answer", "to")]
            if item.startswith("the answer to"):
                continue
            if words and _has(words, text) and _has(list(ID_WORDS), text):
                return f"I don't know {item.split(' (')[0]} - could you look it up?"
        if _CONFIRM.search(text):
            return "Yes, please go ahead."
        return "I'm not sure - I've told you what I know. Please go ahead with what I asked."


def llm_user_prompt(sc: UserScenario) -> str:
    """The system prompt an LLM user plays the scenario from."""
    lines = [
        "You are playing a customer (a user) who contacts a support agent by chat. Stay in character: "
        "write only what this user would write, in the first person, briefly.",
        f"Your name: {sc.name or 'not given'}.",
        "What you want (you have already said this in your first message): " + " ".join(sc.goal),
    ]
    if sc.known:
        lines.append("Facts you know but give ONLY when the agent asks for them (say them exactly as written):")
        lines += [f"- {f.name}: \"{f.says}\"" for f in sc.known]
    if sc.stated:
        lines.append("Details you gave in your request: " + "; ".join(
            f"{f.name}: {', '.join(f.values)}" for f in sc.stated))
    if sc.unknown:
        lines.append("You do NOT know (say so if asked; never invent one): " + "; ".join(sc.unknown) + ".")
    lines.append("If the agent asks you to confirm an action that is what you asked for, confirm it. "
                 "Do not ask for anything beyond your requests.")
    lines.append(f"When the agent has handled every request (done it, answered it, or explained why it cannot), "
                 f"or if the agent asks whether there is anything else, reply with exactly {STOP} and nothing else.")
    return "\n".join(lines)


class LLMUser:
    """The scenario played by a model (`llm:MODEL`) through an `Endpoint`."""

    def __init__(self, task: Task, endpoint: Any, temperature: float = 0.0, seed: Optional[int] = None,
                 max_replies: int = 10):
        self.scenario = user_scenario(task)
        self.endpoint = endpoint
        self.mode = f"llm:{endpoint.model}"
        self.temperature, self.seed = temperature, seed
        self.max_replies = max_replies
        self.replies = 0
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": llm_user_prompt(self.scenario)},
                                               {"role": "assistant", "content": self.scenario.opening}]
        self.prompt_tokens = self.completion_tokens = 0

    def opening(self) -> str:
        return self.scenario.opening

    def reply(self, agent_text: str) -> Optional[str]:
        if self.replies >= self.max_replies:
            return None
        self.replies += 1
        # the user model sees the conversation from its side: the agent speaks as "user"
        self.messages.append({"role": "user", "content": agent_text or "(the agent said nothing)"})
        message, usage = self.endpoint.chat(self.messages, temperature=self.temperature, seed=self.seed)
        self.prompt_tokens += usage[0]
        self.completion_tokens += usage[1]
        text = (message.get("content") or "").strip()
        self.messages.append({"role": "assistant", "content": text})
        if not text or STOP in text:
            return None
        return text


def parse_user_mode(mode: str) -> tuple[str, Optional[str]]:
    """'none' | 'scripted' | 'llm:MODEL' -> (kind, model)."""
    if mode in ("none", "scripted"):
        return mode, None
    if mode.startswith("llm:") and mode[4:].strip():
        return "llm", mode[4:].strip()
    raise EnvsynthError(f"unknown user mode '{mode}': use none, scripted, or llm:MODEL")
