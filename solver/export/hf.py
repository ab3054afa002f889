"""Export for Hugging Face `datasets` and TRL: SFT rows, RL rows and a TRL environment class.

OUT gets
- `sft.jsonl` (and `sft.parquet` when `datasets` is installed): one row per task, the gold
  trajectory as `messages` (system policy, user instruction, each call with the tool's real
  result, the final reply) plus the task's `tools` (OpenAI function schemas), `task_id`, `domain`;
- `rl.jsonl` (and `rl.parquet`): `prompt` (system + user messages), `tools`, `task_id`, `domain`,
  `environment` (the row's environment name for TRL's multi-environment mode) and what the reward
  reads: `final_state_hash`, `answers` (what must be told), `refusals` (tool and reason);
- `envsynth_<domain>_trl/`: a package holding the dataset (`data/`) and a TRL `environment_factory`
  class built from it, with `reward_func` (see skeletons/hf/trl_env.py).

The trap this avoids: `datasets.Dataset.from_list(rows)` merges the argument dicts of every tool
call (and the `properties` of every schema) into one struct and fills the keys a row lacks with
None, so a call's arguments change. The Parquet files are built with
`on_mixed_types="use_json"`, which keeps each message and schema as JSON; `load_dataset("json")`
on the JSONL does the same by itself in datasets 5.2.
"""

from __future__ import annotations

import inspect
import json
import keyword
import shutil
from pathlib import Path
from typing import Any, Optional

from ..tasks.model import Task
from .source import ExportReport, Source, communicate_info, gold_conversation, write_json

SKELETON = Path(__file__).resolve().parent / "skeletons" / "hf" / "trl_env.py"
JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object"}
RESERVED = {"reset", "get_reward"}


def sft_row(source: Source, task: Task) -> dict[str, Any]:
    """A task's gold trajectory as a chat-SFT row (TRL's conversational format with tools)."""
    return {"task_id": task.id, "domain": source.name,
            "messages": gold_conversation(source.domain, task), "tools": task.tools}


def rl_row(source: Source, task: Task) -> dict[str, Any]:
    """A task as a GRPO row: the prompt, the tools, and what envsynth's reward compares with."""
    return {"task_id": task.id, "domain": source.name, "environment": source.slug,
            "prompt": [{"role": "system", "content": task.policy}, {"role": "user", "content": task.instruction}],
            "tools": task.tools,
            "final_state_hash": task.expected.final_state_hash,
            "answers": communicate_info(task),
            "refusals": [{"tool": r.tool, "reason": r.error} for r in task.expected.refusals]}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def datasets_module():
    """`datasets` when it is installed and can keep mixed dicts as JSON (5.2 and later), else None."""
    try:
        import datasets
    except ImportError:
        return None
    if "on_mixed_types" not in inspect.signature(datasets.Dataset.from_list).parameters:
        return None
    return datasets


def write_parquet(datasets: Any, path: Path, rows: list[dict]) -> None:
    """Parquet made by datasets itself, each message and schema kept whole (as JSON), never
    merged across rows into a None-filled struct."""
    quiet = datasets.is_progress_bar_enabled()
    if quiet:
        datasets.disable_progress_bars()
    try:
        datasets.Dataset.from_list(rows, on_mixed_types="use_json").to_parquet(str(path))
    finally:
        if quiet:
            datasets.enable_progress_bars()


def trl_problems(tools: list[dict]) -> list[str]:
    """Why a tool cannot be a method of a TRL environment class (TRL calls `method(**arguments)`
    and reads its schema with get_json_schema): empty when every tool can."""
    out = []
    for tool in tools:
        f = tool.get("function", {})
        name = f.get("name", "")
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or name in RESERVED:
            out.append(f"tool name {name!r} cannot be a Python method (or is one TRL reserves)")
        for arg, schema in (f.get("parameters") or {}).get("properties", {}).items():
            if not arg.isidentifier() or keyword.iskeyword(arg):
                out.append(f"{name}: argument {arg!r} is not a Python identifier")
            kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
            if not schema.get("enum") and any(k not in JSON_TYPES | {"null"} for k in kinds):
                out.append(f"{name}: argument {arg!r} has type {schema.get('type')!r}, which has no Python type hint")
    return out


def write(source: Source, out: Path) -> ExportReport:
    sft, rl = [], []
    tools: Optional[list[dict]] = None
    for task in source.tasks():
        sft.append(sft_row(source, task))
        rl.append(rl_row(source, task))
        tools = tools if tools is not None else task.tools
    write_jsonl(out / "sft.jsonl", sft)
    write_jsonl(out / "rl.jsonl", rl)
    notes: list[str] = []
    ds = datasets_module()
    if ds is not None:
        write_parquet(ds, out / "sft.parquet", sft)
        write_parquet(ds, out / "rl.parquet", rl)
    else:
        notes.append("no Parquet written: it needs datasets>=5.2 (pip install 'envsynth[hf]' or 'datasets>=5.2', "
                     "then export again); the JSONL loads as is with load_dataset('json', ...)")
    package = f"envsynth_{source.slug}_trl"
    problems = trl_problems(tools or [])
    if problems:
        notes.append("no TRL environment class written: " + "; ".join(problems))
        package = ""
    else:
        pkg = out / package
        pkg.mkdir()
        shutil.copyfile(SKELETON, pkg / "__init__.py")
        source.copy_data(pkg / "data")
    write_json(out / "export.json", {"format": "hf", "domain": source.name, "tasks": len(sft),
                                     "files": sorted(p.name for p in out.iterdir() if p.is_file()),
                                     "package": package})
    return ExportReport("hf", out, len(sft), package=package, next_steps=next_steps(out, package, ds is not None),
                        notes=notes)


def next_steps(out: Path, package: str, parquet: bool) -> list[str]:
    kind, ext = ("parquet", "parquet") if parquet else ("json", "jsonl")
    load = f"load_dataset('{kind}', data_files='{out}/{{}}.{ext}', split='train')"
    steps = [f"python -c \"from datasets import load_dataset; print({load.format('sft')})\"",
             f"SFT: SFTTrainer(model=..., train_dataset={load.format('sft')}, args=SFTConfig(max_length=8192)) "
             "- rows are messages + tools; SFTConfig's default max_length (1024) would cut the policy and tools"]
    if package:
        steps.append(f"GRPO: with {out} on PYTHONPATH, `from {package} import Environment, reward_func`; "
                     f"GRPOTrainer(model=..., train_dataset={load.format('rl')}, environment_factory=Environment, "
                     "reward_funcs=[reward_func], args=GRPOConfig(max_completion_length=4096)) - the reward is the "
                     "environment's get_reward column; envsynth must be installed (pip install /path/to/envsynth)")
    return steps
