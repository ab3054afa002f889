"""The command line: a thin layer that never shows a traceback for user mistakes."""

import json

import pytest
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


@pytest.mark.parametrize("args, code, message", [
    (["generate", "airline", "-n", "0"], 1, "-n must be at least 1"),
    (["generate", "airline", "-n", "3", "-j", "0"], 2, "--workers"),
    (["generate", "airline", "-n", "3", "--background", "-1"], 1, "--background is a multiplier of 0 or more"),
    (["generate", "airline", "-n", "3", "--multi-intent", "1.5"], 1, "--multi-intent is a share between 0 and 1"),
    (["generate", "airline", "-n", "3", "--max-intents", "1"], 1, "--max-intents must be at least 2"),
    (["generate", "airline", "-n", "3", "--distractor-kinds", "twins"], 1, "unknown distractor kind 'twins'"),
    (["generate", "airline", "-n", "3", "--length-mix", "0:1"], 1, "--length-mix takes length:weight pairs"),
    (["generate", "airline", "-n", "3", "--walks", "all"], 1, "--walks is 'exhaustive' or 'sampled'"),
    (["walks", "airline", "--max-len", "0"], 2, "--max-len"),
    (["eval", ".", "--agent", "random", "-k", "0"], 2, "--trials"),
    (["eval", "DATA", "--agent", "os:path"], 1, "'os:path' is not an agent"),
    (["eval", "DATA", "--agent", "json:dumps"], 1, "cannot make an agent from 'json:dumps'"),
])
def test_bad_option_values_get_a_plain_message(args, code, message, tmp_path):
    """A value no run could mean fails before any work, naming the flag - never a traceback."""
    if "DATA" in args:
        assert runner.invoke(app, ["generate", "airline", "-n", "2", "-o", str(tmp_path), "-q"]).exit_code == 0
        args = [str(tmp_path) if a == "DATA" else a for a in args]
    r = runner.invoke(app, args + (["-o", str(tmp_path / "out")] if args[0] == "generate" else []))
    assert r.exit_code == code, r.output
    assert message in r.output
    assert "Traceback" not in r.output and not isinstance(r.exception, (TypeError, ZeroDivisionError))
    assert not (tmp_path / "out" / "tasks.jsonl").exists()


def test_new_names_the_file_it_wrote(tmp_path):
    r = runner.invoke(app, ["new", "../Help Desk", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "help_desk.yaml").exists()
    assert f"envsynth check {tmp_path / 'help_desk.yaml'}" in r.output


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


# ---------------------------------------------------------------------------- output paths


def test_an_output_path_that_is_a_file_gets_a_plain_message(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    r = runner.invoke(app, ["generate", "airline", "-n", "2", "-o", str(blocker), "-q"])
    assert r.exit_code == 1
    assert str(blocker) in r.output and "a file is in the way" in r.output
    assert "internal error" not in r.output and "Traceback" not in r.output


def test_a_read_only_output_folder_gets_a_plain_message(tmp_path, monkeypatch):
    """(Tests run as root here, where chmod does not stop writes: the OS error is raised as a
    read-only file system would raise it.)"""
    import errno
    from pathlib import Path

    real_mkdir = Path.mkdir

    def read_only(self, *a, **k):
        if str(self).startswith(str(tmp_path)):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", read_only)
    r = runner.invoke(app, ["generate", "airline", "-n", "2", "-o", str(tmp_path / "x"), "-q"])
    assert r.exit_code == 1 and "read-only" in r.output and str(tmp_path / "x") in r.output
    assert "internal error" not in r.output


def test_a_full_disk_names_the_file_being_written(tmp_path):
    """A real write failure from the OS: the file size limit stands in for a full disk."""
    import subprocess
    import sys

    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
            "sys.argv = ['envsynth', 'generate', 'airline', '-n', '40', '-o', sys.argv[1], '-q']\n"
            "from envsynth.cli import main\nmain()\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    assert "tasks.jsonl.partial" in r.stderr and "File too large" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
