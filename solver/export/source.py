"""What every export reads from a generated dataset, in one place: the dataset itself, and the
harness-neutral views of a task that several formats need - the gold conversation with the real
tool results, the final reply, the answers to communicate, which tools write.

A format module (`tau2`, `mcp`, ...) turns these into its harness's files; none of them
re-derives a meaning that is defined here or in the runtime.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import EnvsynthError
from ..spec.model import Domain
from ..tasks.model import Task, requests
from ..verify import dataset_spec, iter_tasks, tasks_file
from .episode import Episode


@dataclass
class ExportReport:
    """What an export wrote: where, how many tasks, and the commands a user runs next."""

    format: str
    out: Path
    tasks: int
    package: str = ""
    next_steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Source:
    """A generated dataset directory (tasks.jsonl, spec.yaml, manifest.json) opened for export."""

    def __init__(self, directory: Path):
        self.tasks_path = tasks_file(Path(directory))
        self.directory = self.tasks_path.parent
        spec_path = self.directory / "spec.yaml"
        if not spec_path.exists():
            raise EnvsynthError(f"{self.directory} has no spec.yaml: export needs the spec the tasks were "
                                "generated from (envsynth generate writes it beside tasks.jsonl)")
        self.spec_path = spec_path
        self.domain: Domain = dataset_spec(self.directory)
        manifest = self.directory / "manifest.json"
        self.manifest: dict = json.loads(manifest.read_text(encoding="utf-8")) if manifest.exists() else {}

    @property
    def name(self) -> str:
        return self.domain.name

    @property
    def slug(self) -> str:
        """The domain's name as a Python identifier: `envsynth_<slug>` names every package."""
        s = re.sub(r"\W+", "_", self.domain.name.lower()).strip("_")
        return s if s and not s[0].isdigit() else f"d_{s}"

    def tasks(self) -> Iterator[Task]:
        return iter_tasks(self.tasks_path)

    def count(self) -> int:
        return sum(1 for _ in self.tasks())

    def checked_tasks(self) -> Iterator[Task]:
        """The tasks, each checked as an export takes it: its gold conversation scores 1.0
        (`gold_conversation` raises otherwise) and it lists the same tools and policy as the first
        - an exported environment serves one tool set and one policy. Raises if there are none."""
        first = None
        for task in self.tasks():
            if first is None:
                first = task
            elif task.tools != first.tools or task.policy != first.policy:
                raise EnvsynthError(f"task {task.id} lists other tools or another policy than task {first.id}: "
                                    "an exported environment serves one tool set and one policy")
            gold_conversation(self.domain, task)
            yield task
        if first is None:
            raise EnvsynthError(f"{self.tasks_path} holds no tasks: there is nothing to export")

    def copy_data(self, data_dir: Path) -> None:
        """The files `episode.Catalog` reads: the spec and the task records, verbatim."""
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.spec_path, data_dir / "spec.yaml")
        shutil.copyfile(self.tasks_path, data_dir / "tasks.jsonl")

    def writes(self, tool: str) -> bool:
        """Does the tool change the database (tau2's WRITE / mutates_state)?"""
        t = self.domain.tools.get(tool)
        return bool(t is not None and (t.is_write or t.effects))


def no_commas(text: str) -> str:
    """tau2-bench removes commas from the agent's message before looking for an expected string,
    but not from the string: an expected value must hold none."""
    return re.sub(r"\s+", " ", text.replace(",", "")).strip()


def communicate_info(task: Task) -> list[str]:
    """What the agent must tell the user: each answer, and each refused request's reason."""
    return [no_commas(a.value) for a in task.expected.answers]


def final_reply(task: Task) -> str:
    """The gold agent's closing message: every answer and every refusal reason, in plain words.
    envsynth's scorer accepts it (checked for every exported task by `gold_conversation`)."""
    refused = {r.step: r for r in task.expected.refusals}
    parts = []
    for a in task.expected.answers:
        if a.step in refused:
            parts.append(f"I could not do that one: {a.value}.")
        else:
            parts.append(f"The answer is {a.value}.")
    return " ".join(parts) if parts else "All done."


def call_id(task: Task, k: int) -> str:
    """A tool call's id in an exported transcript: stable per task and step."""
    return f"call_{k}"


def gold_conversation(domain: Domain, task: Task, *, system: bool = True) -> list[dict[str, Any]]:
    """The gold trajectory as OpenAI chat messages: system policy, the user's request, each
    planned call (refused ones included, as a careful agent tries them) with the tool's real
    result, then the final reply. Raises if the conversation does not score 1.0 - an export
    never ships a gold transcript its own scorer rejects."""
    ep = Episode(domain, task)
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": task.policy})
    messages.append({"role": "user", "content": task.instruction})
    for k, (name, arguments, _refusal) in enumerate(requests(task)):
        cid = call_id(task, k)
        messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": dict(arguments)}}]})
        reply = ep.call(name, arguments)
        messages.append({"role": "tool", "tool_call_id": cid, "name": name, "content": reply.text})
    closing = final_reply(task)
    messages.append({"role": "assistant", "content": closing})
    score = ep.score([closing])
    if score.reward != 1.0:
        raise EnvsynthError(f"task {task.id}: the exported gold conversation scores {score.reward} "
                            f"(database {'matches' if score.db_match else 'differs'}; missing: "
                            f"{'; '.join(score.missing_answers) or 'nothing'}) - this is a bug in envsynth's export")
    return messages


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
