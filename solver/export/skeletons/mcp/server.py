"""An MCP server for one envsynth domain, on the official `mcp` SDK (2.x, low-level `Server`).

    pip install /path/to/envsynth 'mcp>=2.3,<3'
    python server.py --stdio --task TASK_ID             # one process = one episode
    python server.py --http --port 8000                 # http://127.0.0.1:8000/mcp, many episodes
    python server.py --list-tasks                       # the task ids and their instructions

The domain's tools are listed with their schemas verbatim (name, description, and the task's
`parameters` as `input_schema`) and run on envsynth's runtime (`envsynth.export.episode`): a call
the rules refuse, or one with bad arguments, returns an `is_error` result whose text is
"Error: ..." and changes nothing.

Control tools, all named `envsynth_*` so they cannot clash with a domain tool:
  envsynth_list_tasks()               the task ids (and each one's instruction)
  envsynth_start_task(task_id)        a fresh episode of that task: its instruction and policy
  envsynth_state()                    the episode's task, database hash and call count (no score)
  envsynth_score(messages)            the reward: the final database is the expected one x every
                                      answer told and every refusal explained in `messages` (what
                                      the agent said to the user; added to what it said before).
                                      Scoring ends the episode: later calls are refused and a
                                      second score returns the first (no probing for the reward)
`--hide-control` leaves them out of tools/list (an agent never sees them) but they still answer.

Episodes: each call belongs to the episode named by `_meta["envsynth/episode"]` on the request
(any string the client picks), else by the transport's Mcp-Session-Id (legacy HTTP sessions),
else to the one default episode - on stdio that is the process's episode. With `--task`, an
episode that was never started starts that task on its first call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
EPISODE_KEY = "envsynth/episode"
PREFIX = "envsynth_"

try:
    from envsynth.export.episode import Catalog, Episode
except ImportError:  # pragma: no cover - a user's setup mistake, said plainly
    sys.exit("this server runs on envsynth: pip install /path/to/envsynth-checkout 'mcp>=2.3,<3'")

try:
    from mcp import types
    from mcp.server import Server
except ImportError:  # pragma: no cover
    sys.exit("this server needs the MCP SDK 2.x: pip install 'mcp>=2.3,<3'")


CONTROL_TOOLS = [
    types.Tool(
        name=f"{PREFIX}list_tasks",
        description="List the tasks this server can run: their ids and the user's instruction for each.",
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
    ),
    types.Tool(
        name=f"{PREFIX}start_task",
        description=("Start a fresh episode of a task (its own copy of the database) and return the user's "
                     "instruction and the policy. Starting again resets the episode."),
        input_schema={"type": "object", "properties": {"task_id": {"type": "string"}},
                      "required": ["task_id"], "additionalProperties": False},
    ),
    types.Tool(
        name=f"{PREFIX}state",
        description=("The episode's task, the sha256 of its database now, how many calls it has made and "
                     "whether it was scored - without scoring it."),
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
    ),
    types.Tool(
        name=f"{PREFIX}score",
        description=("Score the episode: reward 1.0 when the database is the expected one and every answer was "
                     "told and every refused request explained in `messages` (what the agent said to the user; "
                     "added to what it said before). Returns the reward and its parts. Scoring ends the episode: "
                     "its score is final."),
        input_schema={"type": "object",
                      "properties": {"messages": {"type": "array", "items": {"type": "string"}}},
                      "additionalProperties": False},
    ),
]


class EnvsynthMCP:
    """The domain (its catalog of tasks) and the live episodes, by key."""

    def __init__(self, data_dir: Path, task: Optional[str] = None, hide_control: bool = False,
                 max_episodes: int = 1000):
        self.catalog = Catalog(data_dir)
        if task is not None and task not in self.catalog:
            raise KeyError(self.unknown(task))
        self.default_task = task
        self.hide_control = hide_control
        self.max_episodes = max_episodes
        self.episodes: OrderedDict[str, Episode] = OrderedDict()
        # an episode's score is final: scoring ends it, so a score can never be probed with one
        # candidate answer after another, nor the expected answers it names be acted on
        self.scored: dict[str, dict] = {}
        self.tools = [types.Tool(name=f["function"]["name"], description=f["function"].get("description", ""),
                                 input_schema=f["function"]["parameters"]) for f in self.catalog.tools]
        self.schemas = {t.name: t.input_schema for t in self.tools + CONTROL_TOOLS}
        clash = [t.name for t in self.tools if t.name.startswith(PREFIX)]
        if clash:
            raise ValueError(f"domain tools {clash} use the control prefix {PREFIX!r}")

    def unknown(self, task_id: Any) -> str:
        ids = self.catalog.ids()
        return (f"no task {task_id!r} in this server ({len(ids)} tasks, e.g. {', '.join(ids[:3])}; "
                f"{PREFIX}list_tasks lists them)")

    # -- episodes ---------------------------------------------------------------------------------
    def start(self, key: str, task_id: str) -> Episode:
        ep = self.catalog.episode(task_id)
        self.episodes[key] = ep
        self.scored.pop(key, None)
        self.episodes.move_to_end(key)
        while len(self.episodes) > self.max_episodes:
            gone, _ = self.episodes.popitem(last=False)  # the least recently used episode goes
            self.scored.pop(gone, None)
        return ep

    def episode(self, key: str) -> Optional[Episode]:
        ep = self.episodes.get(key)
        if ep is not None:
            self.episodes.move_to_end(key)
        elif self.default_task is not None:
            ep = self.start(key, self.default_task)
        return ep

    # -- the MCP handlers -------------------------------------------------------------------------
    def server(self) -> Server:
        return Server(f"envsynth-{self.catalog.name}", version="1", instructions=self.catalog.policy,
                      on_list_tools=self.list_tools, on_call_tool=self.call_tool,
                      get_tool_input_schema=self.schemas.get)

    async def list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools if self.hide_control else self.tools + CONTROL_TOOLS)

    async def call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        key = episode_key(ctx)
        name, args = params.name, params.arguments or {}
        try:
            if isinstance(name, str) and name.startswith(PREFIX):
                return self.control(key, name, args)
            ep = self.episode(key)
            if ep is None:
                return error(f"no task is running in this episode: call {PREFIX}start_task with a task id first "
                             f"(or start the server with --task)")
            if key in self.scored:
                return error(f"this episode was scored and is over; nothing was changed ({PREFIX}start_task "
                             "starts a fresh one)")
            reply = ep.call(name, args)
            if reply.is_error:
                return error(reply.text)
            return types.CallToolResult(content=[types.TextContent(type="text", text=reply.text)],
                                        structured_content={"result": reply.data})
        except Exception as e:  # noqa: BLE001 - never a JSON-RPC error the model cannot see
            return error(f"the server failed to run this call ({type(e).__name__}: {e}); nothing was changed")

    def control(self, key: str, name: str, args: dict) -> types.CallToolResult:
        if name == f"{PREFIX}list_tasks":
            return ok({"tasks": [{"task_id": t.id, "instruction": t.instruction} for t in self.catalog.tasks()]})
        if name == f"{PREFIX}start_task":
            task_id = args.get("task_id")
            if set(args) - {"task_id"}:
                return error(f"unexpected arguments {sorted(set(args) - {'task_id'})}; {name} takes task_id")
            if not isinstance(task_id, str) or task_id not in self.catalog:
                return error(self.unknown(task_id))
            ep = self.start(key, task_id)
            return ok({"task_id": task_id, "instruction": ep.task.instruction, "policy": ep.task.policy})
        if name == f"{PREFIX}state":
            ep = self.episode(key)
            if ep is None:
                return error(f"no task is running in this episode: call {PREFIX}start_task first")
            return ok({"task_id": ep.task_id, "db_hash": ep.hash(), "calls": len(ep.env.calls),
                       "scored": key in self.scored})
        if name == f"{PREFIX}score":
            ep = self.episode(key)
            if ep is None:
                return error(f"no task is running in this episode: call {PREFIX}start_task first")
            messages = args.get("messages", [])
            if isinstance(messages, str):
                messages = [messages]
            if set(args) - {"messages"} or not isinstance(messages, list) or \
                    not all(isinstance(m, str) for m in messages):
                return error(f"{name} takes messages: a list of strings (what the agent said to the user)")
            if key in self.scored:  # the episode is over: its score stands, whatever is sent now
                return ok(self.scored[key])
            s = ep.score(messages)
            self.scored[key] = {"task_id": ep.task_id, "reward": s.reward, "db_match": s.db_match,
                                "answers_communicated": s.answers_communicated,
                                "missing_answers": s.missing_answers, "failed_calls": s.failed_calls,
                                "db_hash": ep.hash()}
            return ok(self.scored[key])
        return error(f"unknown control tool {name!r}; there are {', '.join(t.name for t in CONTROL_TOOLS)}")


def episode_key(ctx: Any) -> str:
    """The episode a request belongs to: `_meta["envsynth/episode"]`, else the HTTP session, else ''."""
    meta = getattr(ctx, "meta", None) or {}
    key = meta.get(EPISODE_KEY) if isinstance(meta, dict) else None
    if key is not None:
        return f"meta:{key}"
    request = getattr(ctx, "request", None)
    session = request.headers.get("mcp-session-id") if request is not None and hasattr(request, "headers") else None
    return f"session:{session}" if session else ""


def ok(obj: dict) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(obj, ensure_ascii=False))],
                                structured_content=obj)


def error(text: str) -> types.CallToolResult:
    text = text if text.startswith("Error: ") else f"Error: {text}"
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def build_server(data_dir: Path = HERE / "data", task: Optional[str] = None, hide_control: bool = False,
                 max_episodes: int = 1000) -> Server:
    """The MCP `Server` (e.g. for `mcp.Client(build_server())` in memory)."""
    return EnvsynthMCP(data_dir, task, hide_control, max_episodes).server()


async def serve_stdio(server: Server) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def serve_http(server: Server, host: str, port: int, path: str) -> None:
    import uvicorn

    app = server.streamable_http_app(streamable_http_path=path, host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true", help="serve over stdin/stdout (the default)")
    mode.add_argument("--http", action="store_true", help="serve streamable HTTP at http://HOST:PORT/PATH")
    mode.add_argument("--list-tasks", action="store_true", help="print the task ids and instructions, then exit")
    p.add_argument("--task", help="the task an episode runs until envsynth_start_task picks another")
    p.add_argument("--hide-control", action="store_true",
                   help="leave the envsynth_* control tools out of tools/list (they still answer)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--path", default="/mcp", help="the HTTP endpoint's path (default /mcp)")
    p.add_argument("--max-episodes", type=int, default=1000,
                   help="live episodes kept on HTTP; the least recently used goes first (default 1000)")
    p.add_argument("--data", type=Path, default=HERE / "data", help="the folder with spec.yaml and tasks.jsonl")
    a = p.parse_args(argv)
    try:
        state = EnvsynthMCP(a.data, a.task, a.hide_control, a.max_episodes)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"error: cannot load the domain from {a.data}: {e}", file=sys.stderr)
        return 2
    if a.list_tasks:
        try:
            for t in state.catalog.tasks():
                print(f"{t.id}\t{t.instruction}")
        except BrokenPipeError:  # `| head` closed the pipe: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    server = state.server()
    try:
        if a.http:
            print(f"envsynth MCP server ({state.catalog.name}, {len(state.catalog)} tasks) on "
                  f"http://{a.host}:{a.port}{a.path}", file=sys.stderr, flush=True)
            serve_http(server, a.host, a.port, a.path)
        else:
            asyncio.run(serve_stdio(server))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
