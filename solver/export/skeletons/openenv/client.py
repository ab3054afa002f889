"""Client for an envsynth OpenEnv environment: OpenEnv's MCPToolClient, plus `finish`.

    async with EnvsynthEnv(base_url="http://localhost:8000") as env:
        first = await env.reset(task_id="...")       # .observation.instruction / .policy
        tools = await env.list_tools()               # the domain's tools, schemas verbatim
        data = await env.call_tool("get_user_details", user_id="...")  # RuntimeError if refused
        data = await env.call("find_product", {"name": "..."})  # the same, arguments as a dict
        end = await env.finish("The answer is ...")  # StepResult: end.reward, end.done

`call_tool` goes over the HTTP MCP endpoint and returns the tool's result as data; a call the
domain refuses raises RuntimeError with its "Error: ..." text. `finish` is a step over the
WebSocket, so its StepResult carries the episode's reward. `state()` keeps this environment's
fields (task_id, db_hash, done, reward), which the base client drops.
"""

from typing import Any, Dict, Optional

from openenv.core.client_types import StepResult
from openenv.core.env_server.mcp_types import CallToolAction
from openenv.core.mcp_client import MCPToolClient

try:
    from .models import EnvsynthState
except ImportError:  # imported from the package folder
    from models import EnvsynthState

FINISH = "finish"


class EnvsynthEnv(MCPToolClient):
    """One session of the environment (its own episode, isolated from other clients')."""

    async def call(self, tool: str, arguments: Optional[Dict[str, Any]] = None) -> Any:
        """`call_tool` with the arguments as a dict: the same result or RuntimeError, for tools
        that take an argument called `name` (which `call_tool(name, **kwargs)` cannot pass).
        Runs as a step over the WebSocket."""
        result = await self.step(CallToolAction(tool_name=tool, arguments=dict(arguments or {})))
        obs = result.observation
        error = getattr(obs, "error", None)
        if error is not None:
            raise RuntimeError(f"Tool '{tool}' failed: {error.message} (type: {error.error_type.value})")
        data = getattr(obs, "result", None)
        return data.get("data") if isinstance(data, dict) else data

    async def finish(self, message: str) -> StepResult:
        """Reply to the user and end the episode; the result's `reward` is the episode's score."""
        return await self.step(CallToolAction(tool_name=FINISH, arguments={"message": message}))

    def _parse_state(self, payload: Dict[str, Any]) -> EnvsynthState:
        return EnvsynthState.model_validate(payload)
