"""The user behind a task, as a simulated user plays it: who they are, what they want, what they
know but say only when asked, and what they do not know.

`user_scenario(task)` is a pure function of the task record (its rendered instruction and
`task.user` = persona, facts, requests - all rendered from the domain's phrases.yaml when the task
was generated), so every dataset has scenarios without regeneration:

- `opening`: the first message - the user's greeting and every request, exactly as the template
  rendered them, without the sentences that state an id or a detail the requests do not need in
  their own words (the user's own id, an order number, their zip code);
- `known`: those withheld facts, each with the sentence the user says when an agent asks for it
  and the words an agent asking for it would use;
- `stated`: facts the requests themselves already give ("my reservation from SEA to ATL on
  December 7");
- `unknown`: what the user cannot tell - the ids of records they describe instead of naming, and
  the answers they are asking for.

`--user none` plays `task.instruction` (everything in one message); `--user scripted` and
`--user llm:MODEL` open with `opening` and give `known` facts when asked. A paraphrased
instruction that no longer holds the rendered requests verbatim keeps everything in the opening
(`known` is then empty).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from .model import Task
from .phrases import human_date

ID_WORDS = ("id", "ids", "number", "code", "identifier", "confirmation", "reference")


class Fact(BaseModel):
    """Something the user knows: its name as an agent would ask for it, the values that make it
    up, and the sentence the user says to give it."""

    name: str = Field(description="'user id', 'reservation id', 'zip': what an agent asks for")
    entity: str = Field("", description="the kind of record it identifies or describes")
    values: list[str] = Field(description="the values the sentence states (what must reach the agent)")
    says: str = Field(description="the sentence the user says to give it")
    keywords: list[str] = Field(description="words an agent asking for it would use")


class UserScenario(BaseModel):
    task_id: str
    persona: dict[str, Any]
    name: str = Field("", description="the user's name as they say it")
    opening: str = Field(description="the user's first message: greeting and requests")
    goal: list[str] = Field(description="the requests, as rendered from the templates")
    known: list[Fact] = Field(default_factory=list, description="facts the user gives only when asked")
    stated: list[Fact] = Field(default_factory=list, description="facts the requests already give")
    unknown: list[str] = Field(default_factory=list, description="what the user does not know")
    instruction: str = Field(description="the whole request in one message (--user none)")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _forms(v: Any) -> list[str]:
    """Ways a stored value is written in a rendered sentence."""
    text = str(v)
    out = [text]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        human = human_date(text)
        out += [human, human.rsplit(",", 1)[0]]
    if re.fullmatch(r"\d+\.\d\d", text):
        out += [f"{float(text):,.2f}", text.split(".")[0] if text.endswith(".00") else text]
    return [x for x in out if x]


def _in(v: Any, text: str) -> bool:
    low = text.lower()
    return any(f.lower() in low for f in _forms(v))


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[\s_.]+", name.lower()) if w]


def _facts(task: Task) -> list[tuple[str, str, dict[str, Any]]]:
    """task.user['facts'] as (name, entity, {field: value})."""
    out = []
    actor_entity = next((k[:-3] for k in task.user.get("facts", {}) if k.endswith("_id")), "")
    for key, value in task.user.get("facts", {}).items():
        if key == "choices":
            for arg, v in value.items():
                out.append((arg.replace("_", " "), "", {arg: v}))
        elif key.endswith("_id") and not isinstance(value, dict):  # the user's own id
            ent = key[:-3]
            out.append((f"{ent.replace('_', ' ')} id", ent, {"id": value}))
        elif key.endswith(" id") and not isinstance(value, dict):
            ent = key[:-3]
            out.append((key.replace("_", " "), ent, {"id": value}))
        elif isinstance(value, dict):  # "reservation (my_trip)": the values of a description
            ent = key.split(" (")[0]
            fields = " and ".join(dict.fromkeys(p.split(".")[-1].replace("_", " ") for p in value))
            out.append((fields, ent, dict(value)))
        else:
            out.append((key.replace("_", " "), actor_entity, {key: value}))
    return out


def user_scenario(task: Task) -> UserScenario:
    """The scenario a simulated user plays for `task` (deterministic, from the task record)."""
    persona = dict(task.user.get("persona", {}))
    name = " ".join(str(persona[f]) for f in ("first_name", "last_name") if f in persona) or str(persona.get("name", ""))
    requests = list(task.user.get("requests", []))
    instruction = task.instruction
    cut = instruction.find(requests[0]) if requests else -1
    facts = _facts(task)
    name_parts = {p.lower() for p in name.split()}
    walk = task.certificate.walk
    described = {obj for s in walk.steps if s.select for obj in [s.select.object]} - set(walk.given) - {walk.actor}
    unknown = [f"the {walk.objects[o].replace('_', ' ')} id (they describe it instead)" for o in sorted(described)]
    refused = {r.step for r in task.expected.refusals}
    unknown += [f"the answer to: {a.question}" for a in task.expected.answers if a.step not in refused]
    unknown = list(dict.fromkeys(unknown))
    if cut < 0:  # a paraphrased instruction: everything is said up front
        stated = [Fact(name=n, entity=e, values=[str(v) for v in vals.values()], says="", keywords=_words(n))
                  for n, e, vals in facts]
        return UserScenario(task_id=task.id, persona=persona, name=name, opening=instruction, goal=requests,
                            stated=stated, unknown=unknown, instruction=instruction)
    head, tail = instruction[:cut], instruction[cut:]
    head_sentences = _sentences(head)
    known, stated, withheld_values = [], [], []
    for fact_name, ent, vals in facts:
        # what the requests must give in their own words stays there; a name is always said
        hidden = [v for v in vals.values() if not _in(v, tail) and str(v).lower() not in name_parts
                  and any(_in(v, s) for s in head_sentences)]
        keywords = list(dict.fromkeys(_words(fact_name) + _words(ent)))
        values = [str(v) for v in vals.values()]
        if not hidden:
            stated.append(Fact(name=fact_name, entity=ent, values=values, says="", keywords=keywords))
            continue
        withheld_values += hidden
        if "id" not in vals:  # a description: named by the fields the user holds back ("zip")
            fields = [k for k, v in vals.items() if v in hidden]
            fact_name = " and ".join(dict.fromkeys(k.split(".")[-1].replace("_", " ") for k in fields))
            keywords = list(dict.fromkeys([w for k in fields for w in _words(k.split(".")[-1])] + _words(ent)))
        own = [s for s in head_sentences if any(_in(v, s) for v in hidden)]
        if own and not any(name.lower() in s.lower() for s in own):
            says = " ".join(own)
        else:  # said inside the greeting ("Hi, I'm Ava Larsen, customer number C1."): said plainly
            says = " ".join(f"My {fact_name if 'id' in vals else k.split('.')[-1].replace('_', ' ')} is {v}."
                            for k, v in vals.items() if v in hidden)
        known.append(Fact(name=fact_name, entity=ent, values=[str(v) for v in hidden], says=says, keywords=keywords))
    greeting = [s for s in head_sentences if not any(_in(v, s) for v in withheld_values)]
    if name and name.lower() not in " ".join(greeting).lower():
        greeting.insert(0, f"I'm {name}.")
    opening = " ".join(greeting + [tail.strip()]).strip()
    return UserScenario(task_id=task.id, persona=persona, name=name, opening=opening, goal=requests,
                        known=known, stated=stated, unknown=unknown, instruction=instruction)
