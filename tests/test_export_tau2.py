"""tau2-bench export: an installable domain package that tau2's own CLI runs and scores.

Without tau2 (every CI run):
- the folder is a package pip can install with the .pth hook and the data files in it
  (catches: a .pth or hook left out of the wheel - then `tau2 run --domain envsynth_<d>` says
  "invalid choice"; data files not shipped; READ/WRITE flags that are not the spec's);
- tasks.json has tau2's structure and envsynth's meaning (catches: a misspelt or missing field,
  a task whose DB is never loaded, a reward basis without the final-state hash, answers with
  commas - tau2 never matches them -, a refused request among the gold writes);
- the package's tools, played without tau2 the way its toolkit plays them, reach envsynth's
  final-state hash on the gold and miss it without the writes; refused and bad calls raise the
  runtime's own error text and change nothing; replays are identical (tau2's replay demands it);
- the .pth hook imports the package right after `tau2.registry` has run, for every installed
  envsynth domain, and loads nothing at interpreter start.

With tau2 (`-m harness`; needs Python 3.12 and tau2-bench, which is not on PyPI: it installs
from $ENVSYNTH_TAU2_SOURCE, e.g. a checkout or its git URL, or use a venv you have:
$ENVSYNTH_TAU2_PYTHON; skipped when neither is set, as in CI, which reaches only the registry): tau2's own `evaluate_simulation` scores
every gold run 1.0 and every run without its writes (or answers) 0.0, and the unmodified
`tau2 run --domain envsynth_<d> --agent envsynth_replay --user envsynth_scripted_user` CLI
scores its runs 1.0.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Literal, Optional

import pytest
from pydantic import BaseModel, ConfigDict

from envsynth.export import export
from envsynth.export.episode import Catalog
from envsynth.export.source import Source, communicate_info, final_reply
from envsynth.export.tau2 import OPENING_MARKER, REWARD_BASIS
from envsynth.generate import GenerateOptions, generate
from envsynth.runtime.execute import db_hash
from envsynth.tasks.model import requests

from harness import harness_python, last_json, run_in


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("retail_ds")
    generate("retail", out, GenerateOptions(n=14, seed=11, refusals=0.35))
    return out


@pytest.fixture(scope="module")
def exported(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("tau2_export") / "pkg"
    report = export("tau2", dataset, out)
    return out, report


@pytest.fixture(scope="module")
def play(exported):
    """The exported package's tau2-free module, imported from the export folder (tau2 absent)."""
    out, report = exported
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(f"{report.package}.play")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == report.package or m.startswith(report.package + ".")]:
            del sys.modules[name]


# ------------------------------------------------------------------ tau2's task structure
class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Instructions(_M):
    domain: str
    reason_for_call: str
    known_info: Optional[str]
    unknown_info: Optional[str]
    task_instructions: str


class _Scenario(_M):
    persona: Optional[str]
    instructions: _Instructions


class _Call(_M):
    env_type: Literal["assistant", "user"]
    func_name: str
    arguments: dict


class _Assertion(_Call):
    assert_value: bool
    message: Optional[str]


class _InitialState(_M):
    initialization_data: Optional[dict]
    initialization_actions: list[_Call]
    message_history: Optional[list]


class _Action(_M):
    action_id: str
    requestor: Literal["assistant", "user"]
    name: str
    arguments: dict
    info: Optional[str]
    compare_args: Optional[list[str]]


class _Criteria(_M):
    actions: list[_Action]
    env_assertions: list[_Assertion]
    communicate_info: list[str]
    nl_assertions: Optional[list[str]]
    reward_basis: list[Literal["DB", "ENV_ASSERTION", "COMMUNICATE", "NL_ASSERTION", "ACTION"]]


class _Description(_M):
    purpose: Optional[str]
    relevant_policies: Optional[str]
    notes: Optional[str]


class _Tau2Task(_M):
    """tasks.json as tau2-bench 1.0.1 reads it (data_model/tasks.py; the contracts doc, section 1)."""
    id: str
    description: _Description
    user_scenario: _Scenario
    ticket: Optional[str]
    initial_state: _InitialState
    evaluation_criteria: _Criteria
    issues: Optional[list]
    required_documents: Optional[list]
    user_tools: Optional[list]


def _tau2_dict_hash(obj: Any) -> str:
    """tau2's `get_dict_hash` (utils/utils.py), which its DB check compares."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


# ------------------------------------------------------------------ tests without tau2
def test_the_folder_is_an_installable_package_with_its_hook_and_data(exported, dataset):
    out, report = exported
    src = Source(dataset)
    pkg = report.package
    assert pkg == f"envsynth_{src.slug}_tau2"
    py = tomllib.loads((out / "pyproject.toml").read_text())
    assert py["build-system"]["build-backend"] == "hatchling.build"
    wheel = py["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == [pkg]
    # the .pth and the hook module go to site-packages' top level, where site reads .pth files
    assert wheel["force-include"] == {f"{pkg}.pth": f"{pkg}.pth", f"{pkg}_hook.py": f"{pkg}_hook.py"}
    assert py["tool"]["hatch"]["build"]["ignore-vcs"] is True  # a .gitignore'd data/ still ships
    assert (out / f"{pkg}.pth").read_text() == f"import {pkg}_hook\n"
    assert (out / f"{pkg}_hook.py").exists()
    for f in ["__init__.py", "play.py", "domain.py", "replay.py", "check.py", "envsynth_tau2.json"]:
        assert (out / pkg / f).exists(), f
    data = out / pkg / "data"
    assert (data / "spec.yaml").read_bytes() == (dataset / "spec.yaml").read_bytes()
    assert (data / "tasks.jsonl").read_bytes() == (dataset / "tasks.jsonl").read_bytes()
    first = next(src.tasks())
    assert json.loads((data / "tools.json").read_text()) == first.tools  # verbatim schemas
    assert (data / "policy.md").read_text() == first.policy
    config = json.loads((out / pkg / "envsynth_tau2.json").read_text())
    assert config["domain_name"] == f"envsynth_{src.slug}"
    assert config["entities"] == list(src.domain.entities)
    names = [t["function"]["name"] for t in first.tools]
    assert config["writes"] == {n: src.writes(n) for n in names}
    assert any(config["writes"].values()) and not all(config["writes"].values())


def test_tasks_json_has_tau2s_structure_and_envsynths_meaning(exported, dataset):
    out, report = exported
    data = out / report.package / "data"
    tasks = json.loads((data / "tasks.json").read_text())
    records = list(Source(dataset).tasks())
    assert [t["id"] for t in tasks] == [r.id for r in records]
    assert json.loads((data / "split_tasks.json").read_text()) == {"base": [r.id for r in records]}
    # the scripted user (replay.py, which needs tau2) finds the opening after the same marker
    replay_src = ast.parse((out / report.package / "replay.py").read_text())
    markers = [n.value.value for n in replay_src.body if isinstance(n, ast.Assign)
               and any(getattr(x, "id", None) == "OPENING_MARKER" for x in n.targets)]
    assert markers == [OPENING_MARKER]
    refusing = 0
    for t, r in zip(tasks, records):
        _Tau2Task.model_validate(t)
        assert t["initial_state"]["initialization_actions"] == [
            {"env_type": "assistant", "func_name": "load_db", "arguments": {"task_id": r.id}}]
        crit = t["evaluation_criteria"]
        assert crit["reward_basis"] == REWARD_BASIS == ["DB", "ENV_ASSERTION", "COMMUNICATE"]
        assert [(a["name"], a["arguments"]) for a in crit["actions"]] == [(g.name, g.arguments) for g in r.gold_actions]
        assert len({a["action_id"] for a in crit["actions"]}) == len(crit["actions"])
        assert crit["env_assertions"] == [{"env_type": "assistant", "func_name": "assert_db_hash",
                                           "arguments": {"expected_hash": r.expected.final_state_hash},
                                           "assert_value": True, "message": crit["env_assertions"][0]["message"]}]
        assert crit["communicate_info"] == communicate_info(r)
        assert not any("," in c for c in crit["communicate_info"])
        assert len(crit["communicate_info"]) == len(r.expected.answers)
        opening = t["user_scenario"]["instructions"]["task_instructions"].split(OPENING_MARKER + "\n")[-1]
        assert opening == r.instruction
        if r.expected.refusals:
            refusing += 1
            # the refused request is not among the gold calls; its reason is to be told, and said
            gold = [(a["name"], a["arguments"]) for a in crit["actions"]]
            for ref in r.expected.refusals:
                assert (ref.tool, ref.arguments) not in gold
                assert any(ref.error.replace(",", "").lower() in c.lower() for c in crit["communicate_info"])
                assert any(ref.error in a for a in crit["nl_assertions"])
            assert "NL_ASSERTION" not in crit["reward_basis"]  # it would need an LLM judge
        else:
            assert crit["nl_assertions"] is None
    assert refusing, "the fixture should hold refusal tasks"


def test_tools_reach_envsynths_final_hash_on_the_gold_and_miss_it_without_writes(play, dataset):
    src = Source(dataset)
    writes_checked = 0
    for task in src.tasks():
        p = play.Play()
        p.load_db(task.id)
        assert play.envsynth_hash(p.tables) == db_hash(task.initial_db)
        outputs = []
        for name, arguments, refusal in requests(task):
            before = play.envsynth_hash(p.tables)
            if refusal is not None:
                with pytest.raises(play.ToolCallError) as e:
                    p.call(name, arguments)
                # tau2 shows "Error: " + the message: exactly envsynth's text
                assert f"Error: {e.value}" == f"Error: {refusal.error}"
                assert play.envsynth_hash(p.tables) == before
            else:
                outputs.append(p.call(name, arguments))
        assert play.envsynth_hash(p.tables) == task.expected.final_state_hash
        # the tables tau2 hashes are envsynth's database (one dict per entity, nothing added)
        assert p.tables == p.episode.db
        assert _tau2_dict_hash(p.tables) == _tau2_dict_hash(p.episode.db)
        # replaying gives the same outputs (created ids included): tau2's strict replay needs it
        q = play.Play()
        q.load_db(task.id)
        again = [q.call(n, a) for n, a, refusal in requests(task) if refusal is None]
        assert again == outputs
        # without the writes the final state is not the expected one
        if any(play.WRITES[g.name] for g in task.gold_actions):
            writes_checked += 1
            r = play.Play()
            r.load_db(task.id)
            for g in task.gold_actions:
                if not play.WRITES[g.name]:
                    r.call(g.name, g.arguments)
            assert play.envsynth_hash(r.tables) != task.expected.final_state_hash
            assert _tau2_dict_hash(r.tables) != _tau2_dict_hash(p.tables)
    assert writes_checked


def test_bad_calls_raise_the_runtimes_error_and_change_nothing(play, dataset):
    task = next(t for t in Source(dataset).tasks() if t.gold_actions)  # (a refused-only task calls nothing)
    p = play.Play()
    with pytest.raises(play.ToolCallError, match="no task is loaded"):
        p.call(task.gold_actions[0].name, task.gold_actions[0].arguments)
    with pytest.raises(ValueError, match="no task 'nope'"):
        p.load_db("nope")
    p.load_db(task.id)
    before = play.envsynth_hash(p.tables)
    writer = next(n for n, w in play.WRITES.items() if w)
    for name, args in [("no_such_tool", {}), (writer, {"bogus": 1}), (writer, {})]:
        with pytest.raises(play.ToolCallError) as e:
            p.call(name, args)
        assert not str(e.value).startswith("Error:")
        assert play.envsynth_hash(p.tables) == before
    with pytest.raises(play.ToolCallError, match="unknown tool"):
        p.call("no_such_tool", {})


def test_the_replay_agents_closing_message_carries_every_answer_as_tau2_looks_for_it(dataset):
    for task in Source(dataset).tasks():
        said = final_reply(task).lower().replace(",", "")  # what tau2's COMMUNICATE check reads
        infos = communicate_info(task)
        assert all(i.lower() in said for i in infos), (task.id, infos, said)
        if infos:
            assert not any(i.lower() in "thanks for waiting." for i in infos)


FAKE_REGISTRY = "import sys\nsys.stderr.write('REGISTRY RAN\\n')\n"


def test_the_hook_imports_every_envsynth_domain_right_after_tau2_registry(exported, dataset, tmp_path):
    out, report = exported
    other_ds = tmp_path / "bank_ds"
    generate("banking", other_ds, GenerateOptions(n=2, seed=1))
    other = tmp_path / "bank_pkg"
    other_report = export("tau2", other_ds, other)
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    for folder, pkg in [(out, report.package), (other, other_report.package)]:  # what pip install lays out
        shutil.copytree(folder / pkg, site_dir / pkg)
        shutil.copy(folder / f"{pkg}.pth", site_dir)
        shutil.copy(folder / f"{pkg}_hook.py", site_dir)
    fake = tmp_path / "fake"  # a stand-in tau2 whose registry only says when it ran
    (fake / "tau2").mkdir(parents=True)
    (fake / "tau2" / "__init__.py").write_text("")
    (fake / "tau2" / "registry.py").write_text(FAKE_REGISTRY)
    script = (
        "import site, sys\n"
        f"sys.path.insert(0, {str(fake)!r})\n"
        f"site.addsitedir({str(site_dir)!r})\n"  # reads the .pth files, as at interpreter start
        "loaded = sorted(m for m in sys.modules if m.startswith(('envsynth', 'tau2')))\n"
        "sys.stderr.write('AT START ' + ','.join(loaded) + '\\n')\n"
        "import tau2.registry\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    start = next(line for line in lines if line.startswith("AT START"))
    # only the hooks (standard library only) load at start: neither tau2 nor envsynth
    assert set(filter(None, start[len("AT START "):].split(","))) == {
        f"{report.package}_hook", f"{other_report.package}_hook"}
    at = lines.index("REGISTRY RAN")
    # then each package's import ran right after the registry (here it cannot register: the stand-in
    # tau2 has nothing else, so each says so - and tau2 itself is not broken)
    after = "\n".join(lines[at + 1:])
    for pkg in (report.package, other_report.package):
        assert f"warning: {pkg} could not register its tau2 domain" in after, done.stderr


# ------------------------------------------------------------------ with tau2 itself
def _python312() -> Optional[str]:
    for p in [os.environ.get("ENVSYNTH_PYTHON312"), shutil.which("python3.12"),
              "/root/.pyenv/versions/3.12.1/bin/python3.12"]:
        if p and Path(p).exists():
            return p
    return None


# tau2-bench is not on the package registry, and CI reaches nothing else: this test runs where
# a tau2 is named - a venv that has it, or a pip requirement for it (a checkout, a git URL)
TAU2_SOURCE = os.environ.get("ENVSYNTH_TAU2_SOURCE")
GUIDELINES = ["simulation_guidelines.md", "simulation_guidelines_tools.md",
              "simulation_guidelines_voice.md", "simulation_guidelines_voice_tools.md"]


@pytest.mark.harness
def test_tau2s_own_evaluator_and_cli_score_the_gold_one_and_no_writes_zero(exported, tmp_path):
    if os.environ.get("ENVSYNTH_TAU2_PYTHON"):  # a venv you already have with tau2-bench + envsynth
        py = Path(os.environ["ENVSYNTH_TAU2_PYTHON"])
    else:
        if not TAU2_SOURCE:
            pytest.skip("tau2-bench is not on PyPI: set ENVSYNTH_TAU2_PYTHON to a Python that has it, or "
                        "ENVSYNTH_TAU2_SOURCE to a pip requirement for it, e.g. 'tau2 @ git+https://github.com/"
                        "sierra-research/tau2-bench' or a local checkout (the tests above run without it)")
        base = _python312()
        if base is None:
            pytest.skip("tau2-bench needs Python >= 3.12 (set ENVSYNTH_PYTHON312)")
        py = harness_python("tau2", [TAU2_SOURCE], python=base)
    out, report = exported
    target = tmp_path / "site"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "--target", str(target), str(out)], check=True, capture_output=True)
    data = tmp_path / "tau2-data"
    (data / "tau2" / "user_simulator").mkdir(parents=True)
    for g in GUIDELINES:  # `tau2 run` reads these; the scripted user uses none of them
        (data / "tau2" / "user_simulator" / g).write_text("Follow the instructions.\n")
    env = {"TAU2_DATA_DIR": str(data), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    # addsitedir reads the installed .pth as site-packages would; then tau2's own code runs
    check = last_json(run_in(py, (
        f"import site, sys\nsite.addsitedir({str(target)!r})\n"
        f"sys.path.insert(0, {str(target)!r})\n"  # this export before any copy already in the venv
        f"from {report.package}.check import main\n"
        "main([])\n"), env=env, cwd=tmp_path))
    n = check["tasks"]
    assert n == report.tasks and check["failures"] == []
    assert check["gold_scored_1"] == n
    assert check["negatives_scored_0"] == check["negatives"] == n - check["unfalsifiable"]
    assert check["schemas_verbatim"] == n and check["envsynth_hash_equal"] == n
    assert check["refused_calls"] > 0
    assert check["refused_as_tau2_errors"] == check["refused_calls"] and check["refused_changed_db"] == 0
    domain = check["domain"]
    run_in(py, (
        f"import site, sys\nsite.addsitedir({str(target)!r})\n"
        f"sys.path.insert(0, {str(target)!r})\n"  # this export before any copy already in the venv
        "from tau2.cli import main\n"
        f"sys.argv = ['tau2', 'run', '--domain', {domain!r}, '--agent', 'envsynth_replay',\n"
        "            '--user', 'envsynth_scripted_user', '--num-tasks', '6', '--save-to', 'gold',\n"
        "            '--log-level', 'ERROR']\n"
        "main()\n"), env=env, cwd=tmp_path)
    results = json.loads((data / "simulations" / "gold" / "results.json").read_text())
    sims = results["simulations"]
    assert len(sims) == 6
    assert [s["reward_info"]["reward"] for s in sims] == [1.0] * 6
    assert {s["termination_reason"] for s in sims} == {"user_stop"}
    catalog = Catalog(out / report.package / "data")
    for s in sims:  # the user opened with the task's own message; refused calls came back as errors
        task = catalog.task(s["task_id"])
        users = [m["content"] for m in s["messages"] if m["role"] == "user"]
        assert users == [task.instruction, "###STOP###"]
        tools = [m for m in s["messages"] if m["role"] == "tool"]
        assert [m["error"] for m in tools] == [r is not None for _n, _a, r in requests(task)]
