"""Names and values may be anything a spec allows, end to end.

The planner once substituted the step variable `S` by text, also inside quoted constants: an
enum value "S" made it find no walks. Now every name and value enters the planner as a clingo
symbol. This spec uses the spellings most likely to break an encoding - enum values `S`, `t`,
`not`, `_`, values with quotes, commas, spaces and non-ASCII letters, and entity, field,
argument and tool names equal to the planner's own predicates (`call`, `val`, `exists`, `bind`,
`select`, `known`, `step`) - and must plan, generate, verify and play like any other.
"""

from __future__ import annotations

import json

import pytest

from envsynth.generate import GenerateOptions, generate
from envsynth.plan.planner import enumerate_walks, program_text
from envsynth.play.agents import Noop, Oracle, evaluate
from envsynth.verify import dataset_spec, iter_checks, iter_tasks

SPEC = r'''
domain: step
today: 2026-01-01
actor: known
pools:
  label: ["Café \"Zürich\"", "O'Brien, Ltd", "naïve - ünïcödé", "plain"]
entities:
  known:
    fields:
      label: {type: str, pool: label}
      bind: {type: money, min: 0, max: 500, typical: [50, 400]}
    refer: {by_id: {id: true}}
  val:
    fields:
      exists: {type: ref, entity: known}
      select: {type: enum, values: [S, t, "not", _]}
      label: {type: str, pool: label}
      price: {type: money, min: 1, max: 100}
    refer:
      by_id: {id: true}
      mine_by_state:
        scope: exists
        filter: [label]
        where: select != "not"
        rank: {by: price, order: asc}
tools:
  call:
    kind: read
    description: List the records of a person.
    args: {known_id: {ref: known}}
    returns:
      record: known
      include:
        vals: {list: val, where: val.exists == known}
  step:
    kind: write
    description: Move a record to another state.
    args:
      val_id: {ref: val}
      select: {like: val.select}
    requires:
      - check: val.exists == actor
        error: only the owner can change a record
      - check: val.select != select
        error: the record is already in that state
      - check: val.select != "t"
        error: records in state t are frozen
    effects:
      - val.select = select
      - val.exists.bind -= val.price when select == "S"
    returns: {record: val}
'''

PHRASES = r'''
intro: ["Hello, I am {{ me.label }}{% if me_known %}, id {{ me.id }}{% endif %}."]
ids:
  val: ["record {{ id }}"]
refs:
  val:
    mine_by_state: ["my cheapest {{ label }} record that is not in state not"]
intents:
  step: ["Please set {{ val }} to {{ args.select }}."]
'''


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("names")
    (d / "templates" / "step").mkdir(parents=True)
    (d / "step.yaml").write_text(SPEC, encoding="utf-8")
    (d / "templates" / "step" / "phrases.yaml").write_text(PHRASES, encoding="utf-8")
    return d / "step.yaml"


def test_the_planner_finds_walks_for_every_awkward_value(spec_path):
    from envsynth import load_domain as load

    domain = load(spec_path)
    walks = list(enumerate_walks(domain, max_len=2))
    chosen = {s.args.get("select") for w in walks for s in w.steps if s.tool == "step"}
    assert {"S", "t", "not", "_"} <= chosen, chosen  # each value can be the one asked for
    assert any(s.select is not None for w in walks for s in w.steps), "a description is resolved"
    text = program_text(domain)
    assert '"S"' in text and '"not"' in text and '"call"' in text  # strings, never bare words


def test_such_a_domain_generates_verifies_and_plays(spec_path, tmp_path):
    out = tmp_path / "out"
    generate(str(spec_path), out, GenerateOptions(n=12, seed=3, refusals=0.25), workers=1)
    checks = list(iter_checks(out))
    assert len(checks) == 12 and all(c.ok for c in checks), [c.problems for c in checks if not c.ok]
    domain = dataset_spec(out)
    tasks = list(iter_tasks(out / "tasks.jsonl"))
    assert evaluate(domain, tasks, Oracle()).to_json()["mean_reward"] == 1.0
    assert evaluate(domain, tasks, Noop()).to_json()["mean_reward"] == 0.0
    states = {a.arguments.get("select") for t in tasks for a in t.gold_actions if a.name == "step"}
    assert states & {"S", "t", "not", "_"}
    labels = {r["label"] for t in tasks for r in t.initial_db["val"].values()}
    assert labels & {"Café \"Zürich\"", "O'Brien, Ltd", "naïve - ünïcödé"}
    raw = (out / "tasks.jsonl").read_text(encoding="utf-8")
    assert "Zürich" in raw and json.loads(raw.splitlines()[0])["domain"] == "step"
