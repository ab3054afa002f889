"""What an evaluation leaves on disk, so runs can be resumed, compared and reported.

An eval's results directory holds:
- `results.jsonl`: one `EpisodeResult` per (task, trial), appended as each episode ends - a
  killed run resumes by skipping the keys already there;
- `transcripts.jsonl`: one `Transcript` per (task, trial): every message of the episode (system,
  user, assistant with tool calls, tool results), in OpenAI chat format;
- `summary.json`: the summary `envsynth eval --json` prints, recomputed from results.jsonl.

`envsynth report` reads these files and nothing else of the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Optional, TypeVar

from pydantic import BaseModel, Field

from ..tasks.model import Task

RESULTS = "results.jsonl"
TRANSCRIPTS = "transcripts.jsonl"
SUMMARY = "summary.json"
M = TypeVar("M", bound=BaseModel)


class EpisodeResult(BaseModel):
    task_id: str
    trial: int = 0
    agent: str
    user: str = Field("none", description="user mode: none, scripted, or llm:MODEL")
    reward: float
    db_match: bool
    answers_communicated: bool
    missing: list[str] = Field(default_factory=list)
    failed_calls: int = 0
    # the task's difficulty, copied so a report needs no dataset
    length: int
    goals: int = 1
    distractor_kinds: list[str] = Field(default_factory=list)
    near_miss_before_target: bool = False
    refusal: bool = False
    # the run
    turns: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Optional[float] = None
    seconds: float = 0.0
    error: Optional[str] = Field(None, description="why the episode ended abnormally (the endpoint failed, turn limit), if it did")
    retry: bool = Field(False, description="it failed for a reason outside the agent (the endpoint stayed down, refused "
                                           "the key or the model): a resumed run plays it again, summaries leave it out")
    user_prompt_tokens: int = Field(0, description="tokens the simulated user's model read (--user llm:)")
    user_completion_tokens: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.trial)

    @classmethod
    def of(cls, task: Task, **kw: Any) -> "EpisodeResult":
        """A result with the task's difficulty filled in."""
        d = task.difficulty
        return cls(task_id=task.id, length=d.length, goals=d.goals,
                   distractor_kinds=sorted(d.distractors),
                   near_miss_before_target=any(x.before_target for x in task.certificate.distractors),
                   refusal=bool(task.expected.refusals), **kw)


class Transcript(BaseModel):
    task_id: str
    trial: int = 0
    messages: list[dict[str, Any]]


class ResultsDir:
    """Append-only results of one eval run; `done()` says which episodes a resumed run skips."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def results(self) -> Iterator[EpisodeResult]:
        return _read(self.path / RESULTS, EpisodeResult)

    def done(self) -> set[tuple[str, int]]:
        """The episodes a resumed run skips: every one recorded, except those to play again (`retry`)."""
        return {k for k, r in self.latest().items() if not r.retry}

    def latest(self) -> dict[tuple[str, int], EpisodeResult]:
        """The last result recorded per (task, trial): a replayed episode replaces its failed try."""
        return {r.key: r for r in self.results()}

    def transcripts(self) -> Iterator[Transcript]:
        return _read(self.path / TRANSCRIPTS, Transcript)

    def add(self, result: EpisodeResult, transcript: Optional[Transcript] = None) -> None:
        """Record one finished episode: the transcript first, so a result never points at a
        transcript a kill lost."""
        if transcript is not None:
            _append(self.path / TRANSCRIPTS, transcript.model_dump_json())
        _append(self.path / RESULTS, result.model_dump_json())

    def write_summary(self, summary: dict) -> None:
        (self.path / SUMMARY).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _read(path: Path, model: type[M]) -> Iterator[M]:
    """The records of a JSONL file in order, skipping a line cut short by a kill (that episode
    runs again on resume)."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    yield model.model_validate_json(line)
                except ValueError:
                    continue


def _append(path: Path, line: str) -> None:
    with open(path, "a+b") as f:
        if f.seek(0, 2) > 0:
            f.seek(-1, 2)
            if f.read(1) != b"\n":  # a line a kill cut short: end it, so this one stays readable
                f.write(b"\n")
        f.write((line + "\n").encode("utf-8"))
        f.flush()
