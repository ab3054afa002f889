"""What this environment's actions and observations are (OpenEnv's MCP types, plus the reset
observation and the state that carry the task)."""

from typing import Optional

from openenv.core.env_server.mcp_types import (
    CallToolAction,
    CallToolObservation,
    ListToolsAction,
    ListToolsObservation,
)
from openenv.core.env_server.types import Observation, State
from pydantic import Field


class EnvsynthObservation(Observation):
    """What `reset` returns: the task the episode plays."""

    task_id: str = Field(description="The task's id (reset(task_id=...) replays it)")
    index: int = Field(description="The task's position in the split")
    split: str = Field(default="test", description="The task's split")
    instruction: str = Field(description="The user's request: the agent's first user message")
    policy: str = Field(description="The domain's policy: the agent's system prompt")


class EnvsynthState(State):
    """The episode: which task, its database's hash, and once `finish` was called, its reward."""

    task_id: Optional[str] = None
    index: Optional[int] = None
    done: bool = False
    reward: Optional[float] = None
    db_hash: Optional[str] = Field(default=None, description="sha256 of the episode's database now")


__all__ = [
    "CallToolAction",
    "CallToolObservation",
    "EnvsynthObservation",
    "EnvsynthState",
    "ListToolsAction",
    "ListToolsObservation",
]
