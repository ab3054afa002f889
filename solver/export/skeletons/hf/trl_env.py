"""A TRL `environment_factory` for one envsynth domain, exported by `envsynth export hf`.

This file is copied verbatim as `envsynth_<domain>_trl/__init__.py` beside a `data/` folder
holding the dataset's `spec.yaml` and `tasks.jsonl`; everything domain-specific is read from
there when the module is imported. It gives:

- `Environment` (also under its own name, e.g. `EnvsynthRetailEnv`): one episode per instance,
  for `GRPOTrainer(environment_factory=Environment, ...)`. `reset(task_id=..., **row)` loads the
  task's database; each domain tool is a public method whose signature, type hints (enums as
  `Literal[...]`) and Google docstring make `transformers.utils.get_json_schema` rebuild the
  task's tool schema; a call returns the tool's JSON result, or envsynth's "Error: ..." text
  for a bad or refused call, which changes nothing. `get_reward()` is envsynth's reward: the
  final database is the expected one x every answer told and every refusal explained.
- `reward_func`: pass it as `reward_funcs=[reward_func]`. TRL calls reward functions before an
  environment's `get_reward`; with `environments` it hands each rollout's replies (the
  assistant's text) to its environment and returns None, so `get_reward` is the one reward
  column. Without environments (completions scored offline) it replays the tool calls found in
  each completion on a fresh episode of the row's `task_id` and returns the rewards.

Needs `envsynth` installed in the training venv (`pip install /path/to/envsynth`).
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any, Literal, Optional, Union

from envsynth.export.episode import Catalog, Episode

DATA = Path(os.environ.get("ENVSYNTH_TRL_DATA", Path(__file__).resolve().parent / "data"))

JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool,
                              "array": list, "object": dict}
RESERVED = {"reset", "get_reward"}  # TRL's own method names: never tools


class SchemaError(ValueError):
    """A tool schema that a Python method cannot carry (get_json_schema could not rebuild it)."""


def annotation(schema: dict) -> Any:
    """The type hint get_json_schema turns back into this JSON schema's type (and enum)."""
    if schema.get("enum"):
        return Literal[tuple(schema["enum"])]
    kind = schema.get("type")
    if isinstance(kind, list):
        hints = tuple(JSON_TYPES[k] for k in kind if k != "null")
        hint: Any = Union[hints] if len(hints) > 1 else hints[0]
        return Optional[hint] if "null" in kind else hint
    if kind == "array" and isinstance(schema.get("items"), dict):
        return list[annotation(schema["items"])]
    if kind not in JSON_TYPES:
        raise SchemaError(f"type {kind!r} has no Python type hint")
    return JSON_TYPES[kind]


def bounds(schema: dict) -> str:
    """minimum/maximum, which a type hint cannot carry, said in words in the description."""
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        return f"from {lo} to {hi}"
    if lo is not None:
        return f"at least {lo}"
    if hi is not None:
        return f"at most {hi}"
    return ""


def describe(name: str, schema: dict) -> str:
    """An argument's description for the docstring: the schema's own (or its name in words, since
    get_json_schema needs one for every argument), its bounds in words, on one line."""
    text = " ".join(str(schema.get("description") or name.replace("_", " ")).split())
    extra = bounds(schema)
    return f"{text} ({extra})" if extra else text


def docstring(function: dict) -> str:
    params = function.get("parameters") or {}
    lines = [(function.get("description") or "").strip() or function["name"]]
    props = params.get("properties") or {}
    if props:
        lines += ["", "Args:"]
        lines += [f"    {name}: {describe(name, s)}" for name, s in props.items()]
    return "\n".join(lines)


def tool_method(tool: dict):
    """A method that plays tool `tool` (an OpenAI function schema) on the instance's episode,
    with the schema reproduced in its signature, annotations and docstring."""
    function = tool["function"]
    name = function["name"]
    if not name.isidentifier() or name.startswith("_") or name in RESERVED:
        raise SchemaError(f"tool name {name!r} cannot be a TRL environment method")
    params = function.get("parameters") or {}
    props = params.get("properties") or {}
    required = set(params.get("required") or [])

    def method(self, **arguments):
        return self._call(name, arguments)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    hints: dict[str, Any] = {}
    # parameters in the order of `required` (get_json_schema lists them in signature order), then
    # the optional ones
    order = [a for a in params.get("required") or [] if a in props] + [a for a in props if a not in required]
    for arg in order:
        schema = props[arg]
        hint = annotation(schema)
        try:
            if arg in required:
                parameters.append(inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY, annotation=hint))
            else:
                hint = Optional[hint]
                parameters.append(inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY, annotation=hint,
                                                    default=None))
        except ValueError as e:  # not an identifier, or a Python keyword
            raise SchemaError(f"tool {name}: argument {arg!r} cannot be a Python parameter ({e})") from None
        hints[arg] = hint
    method.__name__ = name
    method.__qualname__ = name
    method.__doc__ = docstring(function)
    method.__annotations__ = hints
    method.__signature__ = inspect.Signature(parameters)
    return method


def class_name(domain: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", domain)
    return "Envsynth" + "".join(w[:1].upper() + w[1:] for w in words) + "Env"


def assistant_texts(completion: Any) -> list[str]:
    """What the agent told the user in a completion: every assistant message's text (a plain
    string completion is itself the reply)."""
    if isinstance(completion, str):
        return [completion]
    out = []
    for message in completion or []:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str) and content:
            out.append(content)
        elif isinstance(content, list):
            out += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text" and p.get("text")]
    return out


def tool_calls(completion: Any) -> list[tuple[str, Any]]:
    """The (name, arguments) of every tool call in a conversational completion, in order."""
    calls = []
    for message in completion if isinstance(completion, list) else []:
        if isinstance(message, dict) and message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                function = call.get("function", call) if isinstance(call, dict) else {}
                calls.append((function.get("name"), function.get("arguments")))
    return calls


_catalog: Optional[Catalog] = None


def catalog() -> Catalog:
    """The shipped domain (spec and tasks), loaded once per process."""
    global _catalog
    if _catalog is None:
        if not (DATA / "spec.yaml").exists() or not (DATA / "tasks.jsonl").exists():
            raise FileNotFoundError(f"{DATA} should hold spec.yaml and tasks.jsonl (written by envsynth export hf); "
                                    "set ENVSYNTH_TRL_DATA to the folder that does")
        _catalog = Catalog(DATA)
    return _catalog


class EnvironmentBase:
    """One rollout of one task (TRL makes one instance per rollout and resets it between uses)."""

    def __init__(self):
        self._episode: Optional[Episode] = None
        self._replies: Optional[list[str]] = None

    def reset(self, task_id: Optional[str] = None, **row) -> None:
        """Load task `task_id`'s database (every dataset column arrives here; only task_id is read)."""
        if task_id is None:
            raise ValueError("reset needs the row's task_id (the RL rows written by envsynth export hf have one)")
        cat = catalog()
        if task_id not in cat:
            raise KeyError(f"unknown task_id {task_id!r}: not among the {len(cat)} tasks in {DATA / 'tasks.jsonl'}")
        self._episode = cat.episode(task_id)
        self._replies = None

    def _call(self, name: str, arguments: dict) -> str:
        if self._episode is None:
            return "Error: no task is loaded; reset(task_id=...) first"
        return self._episode.call(name, arguments).text

    def _tell(self, texts: list[str]) -> None:
        """What the agent told the user in this rollout (reward_func hands it over)."""
        self._replies = (self._replies or []) + [t for t in texts if isinstance(t, str)]

    def get_reward(self, reply: Optional[str] = None) -> float:
        """envsynth's reward for this rollout: 1.0 when the final database is the expected one and
        every answer was told and every refusal explained, else 0.0. Under TRL the replies come
        from `reward_func`; called directly, pass the agent's final reply."""
        if self._episode is None:
            raise RuntimeError("get_reward before reset: no task is loaded")
        if reply is not None:
            self._tell([reply])
        if self._replies is None:
            raise RuntimeError("get_reward has not seen the agent's reply: pass reward_funcs=[reward_func] from this "
                               "module to GRPOTrainer (it hands each rollout's text to its environment), or call "
                               "get_reward(reply)")
        # score() adds messages to the episode; give it each reply once
        replies, self._replies = self._replies, []
        return self._episode.score(replies).reward

    @property
    def episode(self) -> Optional[Episode]:
        """The current episode (its `db`, `hash()`, calls): for inspection, not a tool."""
        return self._episode


def environment_class() -> type:
    """The domain's environment class: EnvironmentBase plus one method per tool."""
    cat = catalog()
    methods = {}
    for tool in cat.tools:
        m = tool_method(tool)
        methods[m.__name__] = m
    name = class_name(cat.name)
    return type(name, (EnvironmentBase,), {"__module__": __name__, "__qualname__": name,
                                           "__doc__": f"envsynth domain {cat.name!r} as a TRL environment.", **methods})


def reward_func(completions: list, environments: Optional[list] = None, task_id: Optional[list] = None,
                **kwargs) -> list[Optional[float]]:
    """TRL reward function (GRPOTrainer `reward_funcs`). With `environments`: hands each rollout's
    assistant text to its environment and returns None per rollout - that environment's
    get_reward (which TRL calls next) is the reward. Without: scores each completion by replaying
    its tool calls on a fresh episode of its row's task_id."""
    if environments is not None:
        for completion, env in zip(completions, environments):
            tell = getattr(env, "_tell", None)  # any envsynth export's environment (several domains may mix)
            if tell is not None:
                tell(assistant_texts(completion))
        return [None] * len(completions)
    if task_id is None:
        raise ValueError("reward_func needs environments (environment_factory) or the rows' task_id column")
    out = []
    for completion, tid in zip(completions, task_id):
        episode = catalog().episode(tid)
        for name, arguments in tool_calls(completion):
            episode.call(name, arguments)
        out.append(episode.score(assistant_texts(completion)).reward)
    return out


Environment = environment_class()
globals()[Environment.__name__] = Environment

__all__ = ["Environment", "reward_func", "catalog"]
__all__.append(Environment.__name__)
