"""The command line: a thin layer that never shows a traceback for user mistakes."""

import json

from typer.testing import CliRunner

from envsynth.cli import app

runner = CliRunner()


def test_check_shipped_specs_are_clean():
    for name in ("airline", "retail"):
        r = runner.invoke(app, ["check", name])
        assert r.exit_code == 0, r.output
        assert "no problems found" in r.output


def test_generate_then_verify(tmp_path):
    r = runner.invoke(app, ["generate", "airline", "-n", "6", "--seed", "2", "-o", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "tasks.jsonl").read_text().splitlines()
    assert len(lines) == 6
    r = runner.invoke(app, ["verify", str(tmp_path), "-q"])
    assert r.exit_code == 0 and "6 tasks verified" in r.output
    # corrupt one task's expected state: verify names it and fails
    task = json.loads(lines[2])
    task["expected"]["final_state_hash"] = "0" * 64
    lines[2] = json.dumps(task)
    (tmp_path / "tasks.jsonl").write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["verify", str(tmp_path), "-q"])
    assert r.exit_code == 1
    assert task["id"] in r.output and "final state differs" in r.output


def test_walks_prints_json_lines():
    r = runner.invoke(app, ["walks", "airline", "--max-len", "2", "-n", "5"])
    assert r.exit_code == 0
    rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert len(rows) == 5 and all("steps" in x for x in rows)


def test_graph_writes_files(tmp_path):
    r = runner.invoke(app, ["graph", "retail", "-o", str(tmp_path / "retail")])
    assert r.exit_code == 0
    assert (tmp_path / "retail.dot").exists() and (tmp_path / "retail.json").exists()


def test_bad_flag_gets_usage():
    r = runner.invoke(app, ["generate", "airline", "--frobnicate"])
    assert r.exit_code == 2
    assert "Usage" in r.output


def test_bad_spec_is_located_without_traceback(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("domain: x\ntoday: 2026-01-01\nactor: u\nentities:\n  u:\n    feilds: {}\ntools: {}\n")
    r = runner.invoke(app, ["check", str(p)])
    assert r.exit_code == 1
    assert f"{p}:6:5: error: unknown key 'feilds'" in r.output
    assert "did you mean 'fields'" in r.output
    assert "Traceback" not in r.output


def test_unknown_spec_name():
    r = runner.invoke(app, ["generate", "airlin", "-n", "1"])
    assert r.exit_code == 1 and "did you mean 'airline'" in r.output


def test_schema():
    r = runner.invoke(app, ["schema"])
    schema = json.loads(r.stdout)
    assert "entities" in schema["properties"] and "tools" in schema["properties"]


def test_a_dataset_directory_named_like_a_spec_does_not_shadow_it(tmp_path, monkeypatch):
    """`envsynth generate airline -o airline` then `envsynth check airline` still means the spec."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "airline").mkdir()
    (tmp_path / "mine").mkdir()
    assert runner.invoke(app, ["check", "airline"]).exit_code == 0
    r = runner.invoke(app, ["check", "mine"])
    assert r.exit_code == 1 and "is a directory, not a spec file" in r.output and "Traceback" not in r.output


def test_show_puts_instructions_next_to_gold_actions(tmp_path):
    assert runner.invoke(app, ["generate", "retail", "-n", "5", "--seed", "4", "-o", str(tmp_path), "-q"]).exit_code == 0
    tasks = [json.loads(x) for x in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    r = runner.invoke(app, ["show", str(tmp_path), "-n", "2"])
    assert r.exit_code == 0, r.output
    assert tasks[0]["id"] in r.output and tasks[1]["id"] in r.output and tasks[2]["id"] not in r.output
    assert tasks[0]["gold_actions"][0]["name"] in r.output
    r = runner.invoke(app, ["show", str(tmp_path), "--id", tasks[3]["id"]])
    assert r.exit_code == 0 and tasks[3]["id"] in r.output and tasks[0]["id"] not in r.output
    r = runner.invoke(app, ["show", str(tmp_path), "--id", "nope"])
    assert r.exit_code == 1 and "no task matches" in r.output
