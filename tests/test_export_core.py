"""The part every export shares: the dataset opened for export, the gold conversation, the
answers tau2 looks for, the runtime an exported package plays on, and the command's errors.

What these catch: a gold transcript whose tool results are not the runtime's (or that its own
scorer would reject), answers with commas (tau2 never matches them), an Episode that scores
differently from `envsynth eval`, a catalog that loses or mixes up tasks, and user mistakes that
end in a traceback or overwrite a folder.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from envsynth.cli import app
from envsynth.errors import EnvsynthError
from envsynth.export import FORMATS, export
from envsynth.export.episode import Catalog
from envsynth.export.source import Source, communicate_info, final_reply, gold_conversation
from envsynth.generate import GenerateOptions, generate
from envsynth.play.environment import replay
from envsynth.tasks.model import requests

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("retail_ds")
    generate("retail", out, GenerateOptions(n=12, seed=5, refusals=0.4))
    return out


def test_gold_conversation_replays_the_runtime_and_scores_one(dataset):
    src = Source(dataset)
    tasks = list(src.tasks())
    assert any(t.expected.refusals for t in tasks), "the fixture should hold refusal tasks"
    for task in tasks:
        msgs = gold_conversation(src.domain, task)
        assert msgs[0] == {"role": "system", "content": task.policy}
        assert msgs[1] == {"role": "user", "content": task.instruction}
        calls = [m for m in msgs if m["role"] == "assistant" and m.get("tool_calls")]
        results = [m for m in msgs if m["role"] == "tool"]
        planned = requests(task)
        assert [c["tool_calls"][0]["function"]["name"] for c in calls] == [p[0] for p in planned]
        assert [c["tool_calls"][0]["id"] for c in calls] == [r["tool_call_id"] for r in results]
        # a refused request's result is the runtime's error; every other one is JSON it returned
        for (name, _args, refusal), r in zip(planned, results):
            assert r["content"].startswith("Error: ") == (refusal is not None), (task.id, name, r["content"])
        assert msgs[-1] == {"role": "assistant", "content": final_reply(task)}
        # the same calls and reply score 1.0 through envsynth's own replay (not only through the export)
        assert replay(src.domain, task, [(p[0], p[1]) for p in planned], [final_reply(task)]).reward == 1.0


def test_gold_conversation_refuses_to_ship_a_transcript_its_scorer_rejects(dataset):
    src = Source(dataset)
    task = next(src.tasks())
    task.expected.final_state_hash = "0" * 64  # as if the runtime drifted from what generate recorded
    with pytest.raises(EnvsynthError, match="scores 0"):
        gold_conversation(src.domain, task)


def test_communicate_info_never_holds_a_comma(dataset):
    src = Source(dataset)
    for task in src.tasks():
        task.expected.answers and setattr(task.expected.answers[0], "value", "1,093.34, paid")
        for text in communicate_info(task):
            assert "," not in text
    assert communicate_info(task)[:1] in ([], ["1093.34 paid"])


def test_catalog_reads_every_task_by_id_and_episodes_score_like_eval(dataset):
    cat = Catalog(dataset)
    src = Source(dataset)
    tasks = list(src.tasks())
    assert cat.ids() == [t.id for t in tasks]
    assert cat.tools == tasks[0].tools
    for task in tasks:
        assert cat.task(task.id) == task
        ep = cat.episode(task.id)
        assert ep.score().reward == 0.0 or not task.expected.changes and not task.expected.answers
        ep = cat.episode(task.id)
        for name, args, _ in requests(task):
            ep.call(name, args)
        assert ep.hash() == task.expected.final_state_hash
        assert ep.score([final_reply(task)]).reward == 1.0
    with pytest.raises(KeyError, match="no task 'nope'"):
        cat.task("nope")


def test_a_bad_call_is_an_error_reply_and_changes_nothing(dataset):
    cat = Catalog(dataset)
    ep = cat.episode(cat.ids()[0])
    before = ep.hash()
    for name, args in [("no_such_tool", {}), (cat.tools[0]["function"]["name"], {"bogus": 1}), ("x", "{not json")]:
        reply = ep.call(name, args)
        assert reply.is_error and reply.text.startswith("Error: ") and reply.data is None
        assert ep.hash() == before


def test_export_command_errors_are_messages(dataset, tmp_path):
    r = runner.invoke(app, ["export", "csv", str(dataset), "-o", str(tmp_path / "a")])
    assert r.exit_code == 1 and "unknown export format 'csv'" in r.output and "Traceback" not in r.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    r = runner.invoke(app, ["export", "mcp", str(dataset), "-o", str(tmp_path / "full")])
    assert r.exit_code == 1 and "not empty" in r.output
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    r = runner.invoke(app, ["export", "mcp", str(tmp_path / "nowhere"), "-o", str(tmp_path / "b")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "tasks.jsonl").write_text((dataset / "tasks.jsonl").read_text())
    with pytest.raises(EnvsynthError, match="has no spec.yaml"):
        export("mcp", bare, tmp_path / "c")
    assert set(FORMATS) == {"tau2", "mcp", "verifiers", "openenv", "hf"}
    json.dumps(FORMATS)
