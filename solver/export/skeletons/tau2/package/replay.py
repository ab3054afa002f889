"""A gold-replay agent and a scripted user, so tau2's own CLI can run and score every task with
no LLM: `tau2 run --domain envsynth_<slug> --agent envsynth_replay --user envsynth_scripted_user`.

- `envsynth_replay` plays the task's plan one tool call per turn - the gold calls, with each
  refused request tried in its place, as envsynth's gold conversation does - then tells the user
  every answer and refusal reason in one message.
- `envsynth_scripted_user` sends the task's opening message, then ends the conversation
  (###STOP###) at the agent's next message to it.

Both are registered once per process, whichever envsynth domains are installed: each domain adds
its dataset to the one replay factory.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from envsynth.export.episode import Catalog
from envsynth.export.source import final_reply
from envsynth.tasks.model import requests
from tau2.agent.base_agent import HalfDuplexAgent
from tau2.data_model.message import AssistantMessage, ToolCall, UserMessage
from tau2.user.user_simulator_base import STOP, HalfDuplexUser, UserState

AGENT_NAME = "envsynth_replay"
USER_NAME = "envsynth_scripted_user"
OPENING_MARKER = "Your opening message:"  # the last line of task_instructions before the opening


class ReplayAgent(HalfDuplexAgent):
    """Plays a fixed list of tool calls, one per turn, then a closing message to the user."""

    def __init__(self, tools: Any, domain_policy: str, plan: list[tuple[str, dict]], closing: str):
        super().__init__(tools=tools, domain_policy=domain_policy)
        self.plan = plan
        self.closing = closing

    def get_init_state(self, message_history: Optional[list] = None) -> dict:
        return {"next": 0, "closed": False}

    def generate_next_message(self, message: Any, state: dict) -> tuple[AssistantMessage, dict]:
        state = dict(state)
        k = state["next"]
        if k < len(self.plan):
            name, arguments = self.plan[k]
            state["next"] = k + 1
            call = ToolCall(id=f"call_{k}", name=name, arguments=dict(arguments), requestor="assistant")
            return AssistantMessage(role="assistant", content=None, tool_calls=[call]), state
        if not state["closed"]:
            state["closed"] = True
            return AssistantMessage(role="assistant", content=self.closing, tool_calls=None), state
        return AssistantMessage(role="assistant", content="Is there anything else I can help with?",
                                tool_calls=None), state

    def set_seed(self, seed: int) -> None:
        pass


class ReplayFactory:
    """The `envsynth_replay` agent factory (tau2 calls it with tools=, domain_policy=, task=, ...).
    Every installed envsynth domain adds its catalog; the task is looked up by id."""

    def __init__(self) -> None:
        self.catalogs: list[Callable[[], Catalog]] = []

    def add_catalog(self, get_catalog: Callable[[], Catalog]) -> None:
        if get_catalog not in self.catalogs:
            self.catalogs.append(get_catalog)

    def find(self, task_id: str):
        for get in self.catalogs:
            cat = get()
            if task_id in cat:
                return cat.task(task_id)
        return None

    def __call__(self, tools: Any = None, domain_policy: str = "", task: Any = None, **_: Any) -> ReplayAgent:
        if task is None:
            raise ValueError(f"{AGENT_NAME} replays a task's gold plan, so it needs the task")
        gold = self.find(task.id)
        if gold is None:
            raise ValueError(f"{AGENT_NAME}: task {task.id!r} is in no installed envsynth domain")
        plan = [(name, arguments) for name, arguments, _refusal in requests(gold)]
        return ReplayAgent(tools, domain_policy, plan, final_reply(gold))


def opening_message(instructions: Optional[str]) -> str:
    """The task's opening message, from the user scenario tau2 hands the user (the text after
    OPENING_MARKER, without tau2's indentation); the whole scenario if the marker is missing."""
    text = instructions or ""
    at = text.rfind(OPENING_MARKER)
    if at < 0:
        return text.strip() or "Hello."
    lines = [line.strip() for line in text[at + len(OPENING_MARKER):].splitlines()]
    return "\n".join(line for line in lines if line) or "Hello."


class ScriptedUser(HalfDuplexUser):
    """Says the task's opening message, then stops at the agent's next message to the user."""

    def __init__(self, instructions: Optional[str] = None, tools: Any = None, **_: Any):
        super().__init__(instructions=instructions, tools=tools)

    def get_init_state(self, message_history: Optional[list] = None) -> UserState:
        return UserState(system_messages=[], messages=list(message_history or []))

    def generate_next_message(self, message: Any, state: UserState) -> tuple[UserMessage, UserState]:
        said = any(isinstance(m, UserMessage) for m in state.messages)
        reply = UserMessage(role="user", content=STOP if said else opening_message(self.instructions))
        state.messages.append(reply)
        return reply, state

    @classmethod
    def is_stop(cls, message: UserMessage) -> bool:
        return bool(message.content) and STOP in message.content

    def set_seed(self, seed: int) -> None:
        pass
