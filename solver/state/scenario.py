"""What the state stage produces: a solved walk (`Scenario`) and the records of how it was solved
and checked - and the ways it can fail (`Infeasible`: the walk cannot be made executable, with
the unsat core; `ReplayMismatch`: the runtime disagrees with the solver - a bug, never a task)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from pydantic import BaseModel, Field

from ..plan.walk import Walk
from .distractors import DistractorOptions


class GoldCall(BaseModel):
    name: str
    arguments: dict[str, Any]


class SelectionProof(BaseModel):
    """Why a description picks out exactly one record. The database at that step is finite and
    every one of its records of the entity was checked against the description (`candidates` of
    them): the scan is the whole argument - no solver is involved, and none is claimed."""

    step: int
    reference: str
    entity: str
    target: str
    stated: dict[str, Any] = Field(description="values the user states (path -> value)")
    where: Optional[str] = None
    scope: Optional[str] = None
    rank: Optional[str] = None
    candidates: int = Field(description="records of the entity in the database at that step, every one checked")
    fit_stated: int = Field(description="of them, the user's own with the stated values (where and rank ignored)")
    fits: int = Field(description="of them, those fitting the whole description (rank ignored); the target is one")
    rivals: int = Field(0, description="records other than the target that fit at least as well: 0")
    check: str = Field("exhaustive", description="how uniqueness was established: every record checked")
    query: str = Field(description="the condition no record other than the target meets")


class DistractorRecord(BaseModel):
    """A near miss in the initial database and what it gets wrong."""

    id: str
    entity: str
    kind: str = Field(description="off_by_one | outranked | state_trap | look_alike")
    reference: str
    step: int
    target: str
    breaks: str = Field(description="the part of the description it does not fit")
    visible: bool = Field(description="listed by the tool the agent uses at that step")
    before_target: bool = Field(description="listed before the target (a careless reader takes it)")
    linked: list[str] = Field(default_factory=list, description="records created alongside it (e.g. its other flight)")


class ReplayRecord(BaseModel):
    """What replaying the solved walk on the plain-Python runtime found (counted, not assumed)."""

    steps: int = Field(description="gold calls run on the runtime")
    succeeded: int = Field(description="of them, calls that succeeded (a walk with a failing call is no task)")
    refused: int = Field(0, description="refused requests that failed with exactly their rule's message")
    fields_compared: int = Field(description="field values the solver predicted for the end, each equal to the runtime's")
    background_records: int = Field(description="records added around the walk (after removing any that interfered)")


class SolveRecord(BaseModel):
    variables: int
    constraints: int
    checks: int
    hints_kept: int
    hints_dropped: int
    distractors_planned: int = 0
    distractors_dropped: int = 0


class Scenario(BaseModel):
    """A solved walk: initial database, concrete gold calls, and the checks they rest on."""

    walk: Walk
    seed: int
    initial_db: dict
    ids: dict[str, str] = Field(description="walk object -> record id (created ones after replay)")
    gold: list[GoldCall]
    outputs: list[Any]
    answers: list[Optional[str]]
    final_db: dict
    selections: list[SelectionProof]
    distractors: list[DistractorRecord] = Field(default_factory=list)
    solve: SolveRecord
    replay: ReplayRecord


@dataclass
class SynthOptions:
    background: float = 1.0  # multiplier on each entity's `count`
    hint_rounds: int = 2
    distractors: DistractorOptions = field(default_factory=DistractorOptions)


class Infeasible(Exception):
    """The walk cannot be made executable; `core` names the clashing conditions, `core_steps`
    and `core_kinds` say where they come from (what feasibility learning generalizes)."""

    def __init__(self, reason: str, core: Optional[list[str]] = None, core_steps: Optional[list[int]] = None,
                 core_kinds: Optional[list[str]] = None, core_objects: Optional[list[tuple]] = None):
        super().__init__(reason)
        self.reason = reason
        self.core = core or []
        self.core_steps = core_steps or []
        self.core_kinds = core_kinds or []
        self.core_objects = core_objects or []


class ReplayMismatch(Exception):
    """The runtime disagrees with the solver: a bug, never a task."""


class StepFailed(ReplayMismatch):
    """A gold step failed on replay; when background records caused it (a quantifier over all
    records: a meeting already in the room), those records are removed and the replay redone."""

    def __init__(self, step: int, arguments: dict, db: dict, message: str):
        super().__init__(f"step {step + 1} failed on replay: {message}")
        self.step, self.arguments, self.db = step, arguments, db  # (not .args: Exception owns it)
