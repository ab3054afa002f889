"""A task, as it is written to tasks.jsonl: self-contained - tools, initial database, the user's
request, the gold actions, what must hold at the end (final-state hash, changes, answers,
refusals), the certificate the task's validity rests on, and its difficulty."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field, model_serializer

from ..plan.walk import Walk
from ..state.scenario import DistractorRecord, GoldCall, ReplayRecord, SelectionProof, SolveRecord


class Change(BaseModel):
    entity: str
    id: str
    op: str  # created | updated | deleted
    fields: dict[str, Any] = Field(default_factory=dict, description="updated: field -> [before, after]")


class Answer(BaseModel):
    step: int
    question: str
    value: str = Field(description="what the agent must tell the user")
    accept: list[str] = Field(description="equivalent spellings accepted in the agent's messages")


class Refusal(BaseModel):
    """A request the agent must refuse: the call the user asks for, which the policy forbids."""

    step: int
    tool: str
    arguments: dict[str, Any]
    requirement: str = Field(description="the precondition that fails, as written in the spec")
    error: str = Field(description="the spec's reason, which the agent is expected to convey")


class Expected(BaseModel):
    final_state_hash: str
    changes: list[Change]
    answers: list[Answer]
    refusals: list[Refusal] = Field(default_factory=list)


class Certificate(BaseModel):
    actor: str = Field(description="id of the user's own record")
    walk: Walk
    objects: dict[str, str] = Field(default_factory=dict, description="walk object / near miss -> record id")
    solve: SolveRecord
    selections: list[SelectionProof]
    distractors: list[DistractorRecord] = Field(default_factory=list)
    replay: ReplayRecord


class Difficulty(BaseModel):
    length: int
    distinct_tools: int
    goals: int
    references: int
    candidates: int = Field(description="largest list the agent must pick a described record from")
    distractors: dict[str, int] = Field(default_factory=dict, description="near misses by kind")
    visible_distractors: int = Field(0, description="near misses listed before their target")


class Paraphrase(BaseModel):
    """An instruction reworded by a model (`envsynth paraphrase`): kept only if the fact check passed."""

    model: str = Field(description="the model that wrote the rewrite (openai:MODEL)")
    accepted: bool = Field(description="whether the rewrite passed the fact check and is the instruction now")
    original: str = Field(description="the template text the rewrite was checked against")
    reasons: list[str] = Field(default_factory=list, description="why the fact check rejected it")
    rejected: Optional[str] = Field(None, description="the rejected rewrite (the instruction kept the template text)")


class Meta(BaseModel):
    spec_hash: str
    seed: int
    index: int
    version: str
    walk: str = Field(description="the walk's tool sequence")
    paraphrase: Optional[Paraphrase] = Field(None, description="set when `envsynth paraphrase` rewrote (or tried "
                                             "to rewrite) the instruction")

    @model_serializer(mode="wrap")
    def _omit_unset_paraphrase(self, handler):
        """Tasks never paraphrased serialise as before (no "paraphrase": null)."""
        data = handler(self)
        if isinstance(data, dict) and data.get("paraphrase") is None:
            data.pop("paraphrase", None)
        return data


class Task(BaseModel):
    id: str
    domain: str
    instruction: str
    policy: str
    user: dict[str, Any]
    tools: list[dict[str, Any]]
    initial_db: dict[str, Any]
    gold_actions: list[GoldCall]
    expected: Expected
    certificate: Certificate
    difficulty: Difficulty
    meta: Meta


def requests(task: "Task") -> list[tuple[str, dict, Optional["Refusal"]]]:
    """Every call of the task's plan in order, as (tool, arguments, refusal): the gold actions
    with each refused request in its place (refusal set) - what a careful agent tries."""
    refused = {r.step: r for r in task.expected.refusals}
    gold = iter(task.gold_actions)
    out = []
    for k in range(1, len(task.certificate.walk.steps) + 1):
        if k in refused:
            out.append((refused[k].tool, refused[k].arguments, refused[k]))
        else:
            g = next(gold)
            out.append((g.name, g.arguments, None))
    return out
