"""The taskset: one verifiers task per envsynth task, with the domain's tools and envsynth's reward.

- `TaskData`: `prompt` = the user's instruction, `system_prompt` = the domain policy, `id` = the
  envsynth task id (what the reward and the tools look the task up by; `--env.id user-sim` nulls
  the prompt and keeps the rest, so scoring never reads the prompt).
- `setup` binds the rollout's state to the task (its initial database); the per-rollout tool
  server (`servers/tools.py`) plays calls on it.
- `reward` = envsynth's score from the state and the assistant's messages in the trace: the final
  database is the expected one x every answer told and every refusal explained. A refusal task
  leaves the database as it was, so an agent that does nothing still fails it: the refusal reason
  must be told.
- `validate` (the gold check of `vf-validate`) replays the task's gold calls through the same
  tool code, closes with the gold reply and requires the same reward function to give 1.0.
"""

from __future__ import annotations

from collections.abc import Iterator

import verifiers.v1 as vf
from envsynth.export.source import final_reply
from envsynth.tasks.model import requests
from verifiers.v1.types import content_text

from .play import EnvsynthState, call, catalog, outcome, start
from .servers.tools import EnvsynthToolset


class EnvsynthData(vf.TaskData):
    """`id` is the envsynth task id; `prompt`/`system_prompt` are its instruction and policy."""


class EnvsynthTaskConfig(vf.TaskConfig):
    tools: vf.ToolsetConfig = vf.ToolsetConfig()
    """Where the per-rollout tool server runs (`--env.taskset.task.tools.*`)."""


class EnvsynthTask(vf.Task[EnvsynthData, EnvsynthState, EnvsynthTaskConfig]):
    @property
    def key(self) -> str:
        return self.data.id or self.hash

    @classmethod
    def toolsets(cls, config: EnvsynthTaskConfig) -> list[vf.Toolset]:
        return [EnvsynthToolset(config.tools)]

    async def setup(self, trace: vf.Trace, runtime: vf.Runtime) -> None:
        start(trace.state, self.data.id or "")

    def said(self, trace: vf.Trace) -> list[str]:
        """What the assistant told the user: the text of every message it sampled."""
        return [t for m in trace.assistant_messages if (t := content_text(m.content))]

    @vf.reward(weight=1.0)
    async def reward(self, trace: vf.Trace) -> float:
        return outcome(trace.state, self.said(trace))["reward"]

    @vf.metric
    async def envsynth(self, trace: vf.Trace) -> dict[str, float]:
        parts = outcome(trace.state, self.said(trace))
        parts.pop("reward")
        return parts

    async def validate(self, runtime: vf.Runtime) -> bool | None:
        task = catalog().task(self.data.id or "")
        state = EnvsynthState()
        start(state, task.id)
        for name, arguments, _refusal in requests(task):
            call(state, name, dict(arguments))
        # as the host would see it: the state after a round trip through the sync channel
        state = EnvsynthState.model_validate_json(state.model_dump_json())
        return outcome(state, [final_reply(task)])["reward"] == 1.0


class EnvsynthConfig(vf.TasksetConfig):
    task: EnvsynthTaskConfig = EnvsynthTaskConfig()


class EnvsynthTaskset(vf.Taskset[EnvsynthTask, EnvsynthConfig]):
    def load(self) -> Iterator[EnvsynthTask]:
        for task in catalog().tasks():
            data = EnvsynthData(id=task.id, name=task.id, prompt=task.instruction, system_prompt=task.policy)
            yield EnvsynthTask(data, self.config.task)

