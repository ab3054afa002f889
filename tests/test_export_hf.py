"""`envsynth export hf`: SFT and RL rows for Hugging Face `datasets`, and a TRL environment class.

The harness tests run in a venv holding the real datasets 5.2, transformers 5.x, trl 1.16 and a
CPU torch (trl's trainers import it). What each catches:
- round trip: rows whose tool-call arguments (or tool schemas) change on the way through
  `datasets` - above all the from_list trap, which merges every row's argument dict into one
  struct and fills the keys a row lacks with None;
- schemas: an environment method whose `get_json_schema` schema (what TRL shows the model) is
  not the task's tool schema (a lost enum, type, description or required argument, a missing tool,
  a helper that TRL would expose as a tool);
- play: tool results that differ from the SFT transcript's, a gold run that does not score 1.0
  through reward_func + get_reward (or through the replay path), a no-op that scores, a bad call
  that changes state or raises, and state leaking between rollouts on a reused instance;
- trainers: SFT rows that SFTTrainer's data path does not render whole, and an environment or
  reward wiring the real GRPOTrainer cannot drive (tool calls parsed from a scripted tiny model
  and run through the methods; gold rollout 1.0, no-op 0.0 in the environment's reward column).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envsynth.export import export
from envsynth.export.source import Source
from envsynth.generate import GenerateOptions, generate
from envsynth.tasks.model import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import harness_python, last_json, run_in  # noqa: E402

REQUIREMENTS = ["torch==2.13.0", "datasets==5.2.0", "transformers>=5.2,<6", "trl==1.16.0"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Airline: enums, bounded numbers, arguments named differently from call to call, refusals."""
    out = tmp_path_factory.mktemp("airline_ds")
    generate("airline", out, GenerateOptions(n=12, seed=4, refusals=0.3))
    return out


def documented_schema(tool: dict) -> dict:
    """What get_json_schema must give for a task tool: the schema itself except for what a Python
    signature cannot say - `additionalProperties`/`strict` dropped, `nullable` on optional
    arguments, bounds said in the description, and a description for every argument."""
    f = tool["function"]
    params = f["parameters"]
    required = params.get("required", [])
    props = {}
    for name, s in params["properties"].items():
        p = {k: v for k, v in s.items() if k not in ("minimum", "maximum", "description")}
        text = s.get("description") or name.replace("_", " ")
        lo, hi = s.get("minimum"), s.get("maximum")
        if lo is not None and hi is not None:
            text += f" (from {lo} to {hi})"
        elif lo is not None:
            text += f" (at least {lo})"
        elif hi is not None:
            text += f" (at most {hi})"
        p["description"] = text
        if name not in required:
            p["nullable"] = True
        props[name] = p
    parameters = {"type": "object", "properties": props}
    if required:
        parameters["required"] = required
    return {"type": "function", "function": {"name": f["name"], "description": f["description"], "parameters": parameters}}


# ----------------------------------------------------------------------------- no harness


def test_export_without_datasets_writes_jsonl_and_says_how(dataset, tmp_path):
    """The dev venv has no `datasets`: the export still writes every row as JSONL and says how to
    get Parquet; each SFT row's calls are the task's planned calls, each RL row carries what the
    reward reads."""
    pytest.importorskip("envsynth")
    try:
        import datasets  # noqa: F401
        pytest.skip("datasets is installed here")
    except ImportError:
        pass
    rep = export("hf", dataset, tmp_path / "out")
    out = tmp_path / "out"
    assert not (out / "sft.parquet").exists() and any("datasets>=5.2" in n for n in rep.notes)
    tasks = {t.id: t for t in Source(dataset).tasks()}
    sft = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    rl = [json.loads(line) for line in (out / "rl.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in sft] == [r["task_id"] for r in rl] == list(tasks)
    for s, r in zip(sft, rl):
        task = tasks[s["task_id"]]
        calls = [[c["function"]["name"], c["function"]["arguments"]] for m in s["messages"] for c in m.get("tool_calls") or []]
        assert calls == [[n, a] for n, a, _ in requests(task)]
        assert s["tools"] == r["tools"] == task.tools and s["domain"] == r["domain"] == "airline"
        assert r["prompt"] == s["messages"][:2] and r["final_state_hash"] == task.expected.final_state_hash
        assert len(r["refusals"]) == len(task.expected.refusals)
    assert (out / rep.package / "data" / "tasks.jsonl").read_bytes() == (dataset / "tasks.jsonl").read_bytes()


def test_user_errors_are_messages(tmp_path):
    done = subprocess.run([sys.executable, "-m", "envsynth.cli", "export", "hf", str(tmp_path / "nope"),
                           "-o", str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout


# ----------------------------------------------------------------------------- harness venv


@pytest.fixture(scope="module")
def hf_py():
    return harness_python("hf", REQUIREMENTS)


@pytest.fixture(scope="module")
def exported(hf_py, dataset, tmp_path_factory):
    """The export as a user with the `hf` extra makes it: inside the venv that has datasets."""
    out = tmp_path_factory.mktemp("hf") / "out"
    done = run_in(hf_py, "import sys, json; from envsynth.export import export; "
                  "r = export('hf', sys.argv[1], sys.argv[2]); print(json.dumps({'package': r.package, 'notes': r.notes}))",
                  str(dataset), str(out))
    rep = last_json(done)
    assert rep["package"] and not rep["notes"], rep
    assert (out / "sft.parquet").exists() and (out / "rl.parquet").exists()
    return out, rep["package"]


ROUND_TRIP = r"""
import json, sys, datasets
datasets.disable_progress_bars()
out, expected_path, work = sys.argv[1:4]
expected = json.load(open(expected_path))

def views(ds):
    calls, tools = {}, {}
    for row in ds:
        calls[row["task_id"]] = [[c["function"]["name"], c["function"]["arguments"]]
                                 for m in row["messages"] for c in (m.get("tool_calls") or [])]
        tools[row["task_id"]] = row["tools"]
    return calls, tools

def intact(ds):
    calls, tools = views(ds)
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    return {"calls": sum(same(calls.get(t), e["calls"]) for t, e in expected.items()),
            "tools": sum(same(tools.get(t), e["tools"]) for t, e in expected.items())}

report = {"expected": len(expected)}
for kind, ext in (("json", "jsonl"), ("parquet", "parquet")):
    ds = datasets.load_dataset(kind, data_files=f"{out}/sft.{ext}", split="train")
    ds.to_json(f"{work}/{kind}.jsonl")
    ds.to_parquet(f"{work}/{kind}.parquet")
    ds.save_to_disk(f"{work}/{kind}.disk")
    again = {"jsonl": datasets.load_dataset("json", data_files=f"{work}/{kind}.jsonl", split="train"),
             "parquet": datasets.load_dataset("parquet", data_files=f"{work}/{kind}.parquet", split="train"),
             "disk": datasets.load_from_disk(f"{work}/{kind}.disk")}
    report[kind] = {"rows": len(ds), "columns": sorted(ds.column_names), "loaded": intact(ds),
                    "again": {k: intact(v) for k, v in again.items()}}
for ext, kind in (("jsonl", "json"), ("parquet", "parquet")):
    rl = datasets.load_dataset(kind, data_files=f"{out}/rl.{ext}", split="train")
    report["rl_" + ext] = {"rows": len(rl), "columns": sorted(rl.column_names),
                           "roles": sorted({m["role"] for r in rl for m in r["prompt"]}),
                           "answers": sum(len(r["answers"]) for r in rl),
                           "refusals": sum(len(r["refusals"]) for r in rl),
                           "hashes": sum(len(r["final_state_hash"]) == 64 for r in rl)}
print(json.dumps(report))
"""


@pytest.mark.harness
def test_sft_round_trips_through_datasets_with_arguments_intact(hf_py, exported, dataset, tmp_path):
    """Load the JSONL and the Parquet with datasets, save (JSONL, Parquet, save_to_disk), load
    again: every row's tool calls are the source task's planned calls exactly (no None-filled
    merged keys) and every tool schema is the task's. Planted: Parquet built with plain
    `Dataset.from_list(rows)` -> the Parquet rows' arguments gain None keys and this fails."""
    out, _ = exported
    tasks = list(Source(dataset).tasks())
    expected = {t.id: {"calls": [[n, a] for n, a, _ in requests(t)], "tools": t.tools} for t in tasks}
    # the trap needs rows whose argument dicts differ: make sure the fixture has them
    assert len({tuple(sorted(a)) for t in tasks for _, a, _ in requests(t)}) > 3
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    work = tmp_path / "work"
    work.mkdir()
    rep = last_json(run_in(hf_py, ROUND_TRIP, str(out), str(tmp_path / "expected.json"), str(work)))
    n = len(tasks)
    full = {"calls": n, "tools": n}
    for kind in ("json", "parquet"):
        assert rep[kind]["rows"] == n
        assert {"task_id", "domain", "messages", "tools"} <= set(rep[kind]["columns"])
        assert rep[kind]["loaded"] == full, (kind, rep[kind])
        assert rep[kind]["again"] == {"jsonl": full, "parquet": full, "disk": full}, (kind, rep[kind])
    for ext in ("jsonl", "parquet"):
        rl = rep["rl_" + ext]
        assert rl["rows"] == n and rl["hashes"] == n and rl["roles"] == ["system", "user"]
        assert {"prompt", "tools", "task_id", "domain", "environment", "final_state_hash", "answers",
                "refusals"} <= set(rl["columns"])
        assert rl["answers"] == sum(len(t.expected.answers) for t in tasks)
        assert rl["refusals"] == sum(len(t.expected.refusals) for t in tasks) > 0


SCHEMAS = r"""
import importlib, inspect, json, os, sys
out, package = sys.argv[1:3]
sys.path.insert(0, out)
import trl
from transformers.utils import get_json_schema
from transformers.utils.chat_template_utils import render_jinja_template
m = importlib.import_module(package)
env = m.Environment()
# the tools TRL takes from an environment: public functions of its class but reset and get_reward
names = [n for n, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
         if n not in ("reset", "get_reward") and not n.startswith("_")]
methods = [getattr(env, n) for n in names]
schemas = {n: get_json_schema(f) for n, f in zip(names, methods)}
# what a chat template is given when TRL passes the bound methods as tools
rendered, _ = render_jinja_template([[{"role": "user", "content": "hi"}]], tools=methods,
                                    chat_template="{{ tools | tojson }}")
# an SFT row through one of trl's own tool-calling templates
template = open(os.path.join(os.path.dirname(trl.__file__), "chat_templates", "qwen3.jinja")).read()
row = json.loads(open(os.path.join(out, "sft.jsonl")).readline())
text, _ = render_jinja_template([row["messages"]], tools=row["tools"], chat_template=template)
print(json.dumps({"trl": trl.__version__, "class": type(env).__name__, "names": names, "schemas": schemas,
                  "rendered": json.loads(rendered[0]), "sft_text": text[0], "sft_row": row}))
"""


@pytest.mark.harness
def test_environment_methods_rebuild_the_task_tool_schemas(hf_py, exported, dataset):
    """get_json_schema of each method (and what TRL hands a chat template) is the task's tool
    schema, modulo the documented differences; TRL sees exactly the domain's tools; an SFT row
    renders in trl's qwen3 template with every call's arguments. Planted: enums dropped
    (annotation -> str) -> the cabin/fare schemas lose `enum` and this fails."""
    out, package = exported
    rep = last_json(run_in(hf_py, SCHEMAS, str(out), package))
    assert rep["trl"] == "1.16.0" and rep["class"] == "EnvsynthAirlineEnv"
    tools = next(Source(dataset).tasks()).tools
    expected = {t["function"]["name"]: documented_schema(t) for t in tools}
    assert sorted(rep["names"]) == sorted(expected)
    for name, want in expected.items():
        assert rep["schemas"][name] == want, name
    assert sorted(rep["rendered"], key=lambda s: s["function"]["name"]) == sorted(expected.values(), key=lambda s: s["function"]["name"])
    assert any("enum" in p for s in rep["schemas"].values() for p in s["function"]["parameters"]["properties"].values())
    text = rep["sft_text"]
    for msg in rep["sft_row"]["messages"]:
        for call in msg.get("tool_calls") or []:
            assert json.dumps(call["function"]["arguments"], ensure_ascii=False) in text
        if msg["role"] == "tool":
            assert msg["content"] in text


PLAY = r"""
import importlib, json, sys, datasets
datasets.disable_progress_bars()
out, package = sys.argv[1:3]
sys.path.insert(0, out)
m = importlib.import_module(package)
rl = datasets.load_dataset("parquet", data_files=f"{out}/rl.parquet", split="train")
sft = datasets.load_dataset("json", data_files=f"{out}/sft.jsonl", split="train")
env = m.Environment()  # one instance for every rollout, reset in between, as TRL pools them
extra = dict(trainer_state=None, log_extra=None, log_metric=None)
rep = {"rows": len(rl), "gold": [], "same_results": 0, "replay": [], "noop": [], "noop_replay": [],
       "bad_errors": 0, "bad_unchanged": 0, "bad_calls": 0, "unfed": ""}
try:
    env.reset(**rl[0])
    env.get_reward()
except RuntimeError as e:
    rep["unfed"] = str(e)
for row, s in zip(rl, sft):
    assert row["task_id"] == s["task_id"]
    columns = {k: [v] for k, v in row.items() if k != "prompt"}
    assert env.reset(**row) is None
    results = []
    for msg in s["messages"]:
        for c in msg.get("tool_calls") or []:
            f = c["function"]
            results.append(getattr(env, f["name"])(**f["arguments"]))
    rep["same_results"] += results == [msg["content"] for msg in s["messages"] if msg["role"] == "tool"]
    completion = list(s["messages"][2:])
    fed = m.reward_func(prompts=[row["prompt"]], completions=[completion], completion_ids=[[0]],
                        environments=[env], **columns, **extra)
    assert fed == [None], fed
    rep["gold"].append(env.get_reward())
    rep["replay"].append(m.reward_func(prompts=[row["prompt"]], completions=[completion], completion_ids=[[0]],
                                       **columns, **extra)[0])
    noop = [{"role": "assistant", "content": "I am sorry, I cannot help with that."}]
    env.reset(**row)
    m.reward_func(prompts=[row["prompt"]], completions=[noop], completion_ids=[[0]], environments=[env], **columns, **extra)
    rep["noop"].append(env.get_reward())
    rep["noop_replay"].append(m.reward_func(completions=[noop], task_id=[row["task_id"]])[0])
    # bad calls on a fresh episode: unknown argument, missing arguments, wrong type, unknown id
    env.reset(**row)
    before = env.episode.hash()
    f = next(msg["tool_calls"][0]["function"] for msg in s["messages"] if msg.get("tool_calls"))
    method = getattr(env, f["name"])
    args = dict(f["arguments"])
    key = next(iter(args), None)
    bad = [dict(args, not_an_argument=1), {}]
    if key is not None:
        bad += [dict(args, **{key: ["a", "list"]}), dict(args, **{key: "no_such_record_zz"})]
    for b in bad:
        if b == args:
            continue
        rep["bad_calls"] += 1
        try:
            text = method(**b)
        except Exception as e:  # a raise would reach the model as TRL's error dict, not envsynth's text
            text = f"raised {type(e).__name__}: {e}"
        rep["bad_errors"] += text.startswith("Error:")
        rep["bad_unchanged"] += env.episode.hash() == before
print(json.dumps(rep))
"""


@pytest.mark.harness
def test_environment_plays_gold_to_one_and_noop_to_zero(hf_py, exported):
    """Through the class as TRL drives it (reset(**row) with every column, methods called with
    keyword arguments, reward_func then get_reward), on one reused instance: every gold run gives
    the SFT transcript's tool results and reward 1.0, a no-op 0.0, bad calls 'Error: ...' with
    the database unchanged; reward_func's replay path agrees. Planted: get_reward scoring without
    the replies -> answer tasks score 0 (gold fails); reset keeping the old episode -> second
    task's gold fails; reward = database match only -> read-only no-ops score 1 (no-op fails)."""
    out, package = exported
    rep = last_json(run_in(hf_py, PLAY, str(out), package))
    n = rep["rows"]
    assert "reward_funcs=[reward_func]" in rep["unfed"]
    assert rep["same_results"] == n
    assert rep["gold"] == [1.0] * n and rep["replay"] == [1.0] * n
    assert rep["noop"] == [0.0] * n and rep["noop_replay"] == [0.0] * n
    assert rep["bad_calls"] > 2 * n
    assert rep["bad_errors"] == rep["bad_unchanged"] == rep["bad_calls"], rep


GRPO = r"""
import importlib, json, os, sys, tempfile
os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
out, package, ids = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, out)
import torch, datasets, trl
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM
from trl import GRPOConfig, GRPOTrainer
datasets.disable_progress_bars()
m = importlib.import_module(package)

# a byte-level tokenizer made here (nothing from the hub) with the Qwen3 chat template trl ships,
# which trl knows how to parse tool calls from
tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}, merges=[]))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
tok.decoder = decoders.ByteLevel()
tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
                        "<tool_response>", "</tool_response>", "<think>", "</think>"])
tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
tokenizer.chat_template = open(os.path.join(os.path.dirname(trl.__file__), "chat_templates", "qwen3.jinja")).read()

rl = datasets.load_dataset("parquet", data_files=f"{out}/rl.parquet", split="train")
rl = rl.select([rl["task_id"].index(t) for t in ids])
sft = {r["task_id"]: r for r in datasets.load_dataset("parquet", data_files=f"{out}/sft.parquet", split="train")}
script = {}
for t in ids:
    msgs = sft[t]["messages"]
    turns = [json.dumps({"name": c["function"]["name"], "arguments": c["function"]["arguments"]})
             for msg in msgs for c in (msg.get("tool_calls") or [])]
    script[msgs[1]["content"]] = (turns, msgs[-1]["content"])

class Scripted(Qwen3ForCausalLM):
    # a tiny random model whose generate() writes the gold turns (first of each pair) or a no-op reply
    def generate(self, input_ids=None, attention_mask=None, generation_config=None, **kw):
        outs = []
        for i, ids_ in enumerate(input_ids):
            text = tokenizer.decode(ids_, skip_special_tokens=False)
            turns, final = script[next(u for u in script if u in text)]
            k = text.count("<tool_response>")
            reply = ("Sorry, I cannot help with that." if k == 0 and i % 2 else
                     f"<tool_call>\n{turns[k]}\n</tool_call>" if k < len(turns) else final)
            new = tokenizer.encode(reply, add_special_tokens=False) + [tokenizer.eos_token_id]
            outs.append(torch.cat([ids_, torch.tensor(new, dtype=ids_.dtype)]))
        width = max(len(o) for o in outs)
        return torch.stack([torch.cat([o, torch.full((width - len(o),), tokenizer.pad_token_id, dtype=o.dtype)])
                            for o in outs])

config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                     num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=65536,
                     eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)

# SFTTrainer's own data path (tools column, tokenized with the template) on the JSONL as loaded
from trl import SFTConfig, SFTTrainer
sft_rows = datasets.load_dataset("json", data_files=f"{out}/sft.jsonl", split="train")
sft_rows = sft_rows.select([sft_rows["task_id"].index(t) for t in ids])
st = SFTTrainer(model=Qwen3ForCausalLM(config), processing_class=tokenizer, train_dataset=sft_rows,
                args=SFTConfig(output_dir=tempfile.mkdtemp(), max_length=None, report_to="none", use_cpu=True,
                               bf16=False, save_strategy="no"))
text = tokenizer.decode(st.train_dataset[0]["input_ids"])
src = sft_rows[0]
sft_check = {"calls": all(json.dumps(c["function"]["arguments"]) in text for m_ in src["messages"]
                          for c in (m_.get("tool_calls") or [])),
             "results": all(m_["content"] in text for m_ in src["messages"] if m_["role"] == "tool"),
             "reply": src["messages"][-1]["content"] in text,
             "tools": all(json.dumps(t["function"]["name"]) in text for t in src["tools"])}
seen = []

class Recorded(m.Environment):
    def get_reward(self):
        r = super().get_reward()
        seen.append({"task_id": self.episode.task_id, "reward": r,
                     "calls": [[c.name, c.arguments] for c in self.episode.env.calls]})
        return r

args = GRPOConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=2, num_generations=2, max_steps=len(ids),
                  max_completion_length=16384, learning_rate=1e-6, logging_steps=1, report_to="none",
                  save_strategy="no", shuffle_dataset=False, use_cpu=True, bf16=False, beta=0.0)
trainer = GRPOTrainer(model=Scripted(config), processing_class=tokenizer, args=args, train_dataset=rl,
                      environment_factory=Recorded, reward_funcs=[m.reward_func])
trainer.train()
print(json.dumps({"seen": seen, "logs": [h for h in trainer.state.log_history if "reward" in h], "sft": sft_check}))
"""


@pytest.mark.harness
def test_trl_trainers_take_the_export(hf_py, exported, dataset):
    """SFTTrainer tokenizes an SFT row (JSONL as load_dataset gives it) with every call's
    arguments, tool result, the reply and the tools in the text. The real GRPOTrainer (trl 1.16, CPU) with environment_factory=the exported class and
    reward_funcs=[reward_func], on a tiny random Qwen3 whose generate() writes, per prompt, the
    gold tool calls then the gold reply, or a no-op reply: TRL parses the calls, runs them through
    the methods (reset(**row) first), and the environment's reward column is 1.0 for the gold
    rollout and 0.0 for the no-op. Planted: get_reward ignoring the replies reward_func hands
    over -> the gold rollout of an answer task scores 0 and this fails."""
    out, package = exported
    # the longest task that has an answer to tell (a refusal too, if one is that long)
    task = max((t for t in Source(dataset).tasks() if t.expected.answers),
               key=lambda t: (bool(t.expected.refusals) and len(requests(t)) >= 2, len(requests(t))))
    assert task.expected.answers and task.expected.refusals and len(requests(task)) >= 2
    rep = last_json(run_in(hf_py, GRPO, str(out), package, json.dumps([task.id])))
    gold = [[n, a] for n, a, _ in requests(task)]
    assert rep["seen"] == [{"task_id": task.id, "reward": 1.0, "calls": gold},
                           {"task_id": task.id, "reward": 0.0, "calls": []}], rep["seen"]
    (log,) = rep["logs"]
    assert log["rewards/Recorded/mean"] == 0.5 and log["reward"] == 0.5
    assert log["tools/call_frequency"] > 0
    assert rep["sft"] == {"calls": True, "results": True, "reply": True, "tools": True}
