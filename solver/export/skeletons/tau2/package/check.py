"""Score every task's gold trajectory with tau2's own evaluator (no LLM):

    python -m envsynth_<slug>_tau2.check [--limit N] [--task-ids ID ...]

For each task, a SimulationRun is built as tau2's orchestrator would record it - the task's
initialization action, the user's opening message, each planned call with the environment's real
reply (refused requests included), the closing message - and scored by
`tau2.evaluator.evaluator.evaluate_simulation` (EvaluationType.ALL, strict replay). It must score
1.0. Then the same run without its write calls (a task with writes) or without the closing
message (a task without) must score 0.0. Also checked per task: the schemas tau2 shows the agent
are the dataset's verbatim; the database after the gold calls is envsynth's (same hash); every
refused call reached the agent as a tau2 error message and changed nothing.

Prints one JSON line: counts and the first failures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import Any, Optional

from envsynth.export.source import final_reply
from envsynth.tasks.model import requests
from tau2.data_model.message import AssistantMessage, ToolCall, UserMessage
from tau2.data_model.simulation import SimulationRun, TerminationReason
from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation
from tau2.registry import registry

from . import register
from .play import DOMAIN_NAME, SCHEMAS, WRITES, catalog, envsynth_hash
from .replay import opening_message


def simulate(task: Any, *, skip_writes: bool = False, closing: Optional[str] = None) -> tuple[SimulationRun, dict]:
    """The gold run of `task` (a tau2 Task) as tau2 records it, and what was seen on the way."""
    gold = catalog().task(task.id)
    env = registry.get_env_constructor(DOMAIN_NAME)()
    env.set_state(initialization_data=None, initialization_actions=task.initial_state.initialization_actions,
                  message_history=[])
    seen = {"refused_errors": 0, "refused": 0, "refused_changed": 0}
    messages: list = [UserMessage(role="user", content=opening_message(str(task.user_scenario)))]
    for k, (name, arguments, refusal) in enumerate(requests(gold)):
        if skip_writes and WRITES.get(name, True) and refusal is None:
            continue
        before = env.get_db_hash()
        call = ToolCall(id=f"call_{k}", name=name, arguments=dict(arguments), requestor="assistant")
        messages.append(AssistantMessage(role="assistant", content=None, tool_calls=[call]))
        reply = env.get_response(call)
        messages.append(reply)
        if refusal is not None:
            seen["refused"] += 1
            seen["refused_errors"] += int(reply.error and reply.content.startswith("Error: "))
            seen["refused_changed"] += int(env.get_db_hash() != before)
    messages.append(AssistantMessage(role="assistant", content=final_reply(gold) if closing is None else closing,
                                     tool_calls=None))
    seen["envsynth_hash_equal"] = envsynth_hash(env.tools.db.model_dump()) == gold.expected.final_state_hash
    seen["schemas_verbatim"] = [t.openai_schema for t in env.get_tools()] == list(SCHEMAS.values())
    now = datetime.datetime.now().isoformat()
    run = SimulationRun(id=f"{task.id}-check", task_id=task.id, timestamp=now, start_time=now, end_time=now,
                        duration=0.0, termination_reason=TerminationReason.AGENT_STOP, messages=messages)
    return run, seen


def score(run: SimulationRun, task: Any) -> float:
    info = evaluate_simulation(run, task, EvaluationType.ALL, solo_mode=False, domain=DOMAIN_NAME)
    return float(info.reward)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {__package__}.check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="check the first N tasks only")
    ap.add_argument("--task-ids", nargs="*", default=None)
    args = ap.parse_args(argv)
    register()
    tasks = registry.get_tasks_loader(DOMAIN_NAME)(task_split_name="base")
    if args.task_ids:
        tasks = [t for t in tasks if t.id in set(args.task_ids)]
    tasks = tasks[: args.limit] if args.limit else tasks
    out = {"domain": DOMAIN_NAME, "tasks": len(tasks), "gold_scored_1": 0, "negatives": 0,
           "negatives_scored_0": 0, "unfalsifiable": 0, "write_tasks": 0, "schemas_verbatim": 0,
           "envsynth_hash_equal": 0, "refused_calls": 0, "refused_as_tau2_errors": 0,
           "refused_changed_db": 0, "failures": []}
    for task in tasks:
        try:
            run, seen = simulate(task)
            gold = score(run, task)
            out["gold_scored_1"] += gold == 1.0
            out["schemas_verbatim"] += seen["schemas_verbatim"]
            out["envsynth_hash_equal"] += seen["envsynth_hash_equal"]
            out["refused_calls"] += seen["refused"]
            out["refused_as_tau2_errors"] += seen["refused_errors"]
            out["refused_changed_db"] += seen["refused_changed"]
            writes = any(WRITES.get(a.name, True) for a in task.evaluation_criteria.actions or [])
            out["write_tasks"] += writes
            if writes:
                neg_run, _ = simulate(task, skip_writes=True)
            elif task.evaluation_criteria.communicate_info:
                neg_run, _ = simulate(task, closing="Thanks for waiting.")
            else:
                neg_run = None
                out["unfalsifiable"] += 1
            neg = score(neg_run, task) if neg_run is not None else None
            if neg is not None:
                out["negatives"] += 1
                out["negatives_scored_0"] += neg == 0.0
            if gold != 1.0 or (neg is not None and neg != 0.0):
                out["failures"].append({"task": task.id, "gold": gold, "negative": neg})
        except Exception as e:  # noqa: BLE001 - one broken task is reported, not the end of the check
            out["failures"].append({"task": task.id, "error": f"{type(e).__name__}: {e}"[:500]})
    out["failures"] = out["failures"][:20]
    print(f"{DOMAIN_NAME}: tau2's evaluator scored {out['gold_scored_1']}/{out['tasks']} gold runs 1.0; "
          f"{out['negatives_scored_0']}/{out['negatives']} runs without writes / without the answers 0.0",
          file=sys.stderr)
    print(json.dumps(out))
    return 0 if not out["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
