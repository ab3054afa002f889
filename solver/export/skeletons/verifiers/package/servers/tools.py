"""The domain's tools as a verifiers MCP tool server, one per rollout (see `Task.toolsets`).

The catalog is given as data: each task's tool schemas, verbatim from its record, are advertised
as MCP tools (no Python signatures involved), and a call runs on envsynth's runtime over the
rollout's state (`play.call`), which verifiers pulls from the host before the call and pushes back
after it. Calls of one rollout run one at a time, so parallel tool calls cannot lose a write.
A bad call returns an MCP error result ("Error: ...") and changes nothing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, cast

import verifiers.v1 as vf
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, Tool

from ..play import EnvsynthState, call, tool_schemas


def mcp_tool(schema: dict[str, Any]) -> Tool:
    fn = schema.get("function", schema)
    return Tool(name=fn["name"], description=fn.get("description") or None,
                input_schema=fn.get("parameters") or {"type": "object", "properties": {}})


class EnvsynthToolset(vf.Toolset[vf.ToolsetConfig, EnvsynthState]):
    TOOL_PREFIX = None  # the tools keep their names from the task record

    def register(self, mcp: MCPServer) -> None:
        # MCPServer's handlers call these public methods; replacing them serves a catalog given as
        # data (the pattern of verifiers' own NeMo Gym toolset).
        server = cast(Any, mcp)
        server.list_tools = self._with_state(self.list_tools)
        server.call_tool = self.one_at_a_time(self._with_state(self.call_tool))

    def one_at_a_time(self, fn: Callable) -> Callable:
        lock = asyncio.Lock()

        @functools.wraps(fn)
        async def serialized(*args: Any, **kwargs: Any) -> Any:
            async with lock:
                return await fn(*args, **kwargs)

        return serialized

    async def list_tools(self) -> list[Tool]:
        return [mcp_tool(s) for s in tool_schemas(self.state.task_id)]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> CallToolResult:
        reply = call(self.state, name, arguments)
        return CallToolResult(content=[TextContent(type="text", text=reply.text)], is_error=reply.is_error)


if __name__ == "__main__":
    EnvsynthToolset.run()
