"""A corpus of realistic broken specs: each must get its located, plain-language message.

Every file in tests/bad_specs/*.yaml is the valid base spec (tests/bad_specs/base/library.yaml)
with ONE author mistake, and starts with comment lines giving the expectation:

    # mistake: misspelled 'requires'
    # expect: 23:7 unknown key 'requries'
    # hint: requires

`23:7` is where the FIRST error must point (1-based line:column in that file), the rest of the
`expect:` line must occur in its message and the optional `hint:` text in its hint.

Two more corpora use the same header. tests/bad_specs/phrases/*.yaml are the base spec's
phrasings (base/templates/library/phrases.yaml) with one mistake, located in the phrases file;
tests/bad_specs/check/*.yaml are whole specs whose mistake only `check` can see (a rule no
record or call can meet, a policy sentence nothing enforces): `# expect: LINE message`.
Finally every file of every corpus goes through the real command line - `check` and
`generate` - which must answer within 10 s with a message, never a traceback or "internal error".
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from envsynth.spec.model import Domain
from envsynth.errors import SpecErrors
from envsynth.spec.loader import load_domain, parse_spec_text

CORPUS = Path(__file__).parent / "bad_specs"
FILES = sorted(CORPUS.glob("*.yaml"))
BASE = CORPUS / "base" / "library.yaml"

EXPECT_RE = re.compile(r"^# expect: (\d+):(\d+) (.+)$", re.M)
HINT_RE = re.compile(r"^# hint: (.+)$", re.M)


def expectation(text: str) -> tuple[int, int, str, str | None]:
    m = EXPECT_RE.search(text)
    assert m, "the file must start with a '# expect: LINE:COL message' comment"
    h = HINT_RE.search(text)
    return int(m.group(1)), int(m.group(2)), m.group(3).strip(), h.group(1).strip() if h else None


def test_corpus_is_large_enough():
    assert len(FILES) >= 45


def test_base_spec_is_valid():
    assert isinstance(parse_spec_text(BASE.read_text(encoding="utf-8"), str(BASE)), Domain)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_bad_spec_message(path: Path):
    text = path.read_bytes().decode("utf-8", "replace")  # a Latin-1 or binary file is part of the corpus
    line, col, message, hint = expectation(text)
    name = str(path)
    with pytest.raises(SpecErrors) as info:
        load_domain(path)
    errors = info.value.errors
    assert errors, "SpecErrors without any error"
    first = errors[0]
    formatted = str(info.value)
    assert (first.line, first.col) == (line, col), f"first error is at {first.line}:{first.col}:\n{formatted}"
    assert message in first.message, formatted
    if hint is not None:
        assert hint in first.hint, formatted
    assert formatted.startswith(f"{name}:{line}:{col}: error:"), formatted
    assert "Traceback" not in formatted, formatted
    for e in errors:
        assert e.line >= 1 and e.col >= 1, e


def _cli() -> list[str]:
    """`python -m envsynth.cli` when the module runs as a program, else the installed script."""
    probe = subprocess.run([sys.executable, "-m", "envsynth.cli", "--help"], capture_output=True, text=True)
    if probe.returncode == 0 and "check" in probe.stdout:
        return [sys.executable, "-m", "envsynth.cli"]
    script = Path(sys.executable).with_name("envsynth")
    assert script.exists(), f"neither 'python -m envsynth.cli' nor {script} works:\n{probe.stderr}"
    return [str(script)]


CLI_FILES = ["key_requires_misspelled", "expr_enum_literal_misspelled", "yaml_duplicate_key"]


def test_cli_check_reports_located_errors():
    cmd = _cli()
    for stem in CLI_FILES:
        path = CORPUS / f"{stem}.yaml"
        line, col, message, hint = expectation(path.read_text(encoding="utf-8"))
        r = subprocess.run([*cmd, "check", str(path)], capture_output=True, text=True, timeout=120)
        output = r.stdout + r.stderr
        assert r.returncode == 1, output
        assert f"{path}:{line}:{col}: error:" in r.stderr, output
        assert message in r.stderr, output
        if hint is not None:
            assert hint in r.stderr, output
        assert "Traceback" not in output, output


PHRASES = sorted((CORPUS / "phrases").glob("*.yaml"))
CHECKS = sorted((CORPUS / "check").glob("*.yaml"))
BASE_PHRASES = CORPUS / "base" / "templates" / "library" / "phrases.yaml"


def _workspace(tmp_path: Path, spec: Path = BASE, phrases: Path = BASE_PHRASES) -> Path:
    """A folder holding a spec as library.yaml and its phrasings where envsynth looks for them."""
    (tmp_path / "templates" / "library").mkdir(parents=True)
    (tmp_path / "library.yaml").write_bytes(spec.read_bytes())
    (tmp_path / "templates" / "library" / "phrases.yaml").write_bytes(phrases.read_bytes())
    return tmp_path / "library.yaml"


def test_the_base_phrasings_are_clean(tmp_path):
    from envsynth.check import check_domain

    report = check_domain(load_domain(_workspace(tmp_path)), max_len=2)
    assert not report.errors, [f.message for f in report.errors]


@pytest.mark.parametrize("path", PHRASES, ids=[p.stem for p in PHRASES])
def test_bad_phrasing_is_located_in_the_phrases_file(tmp_path, path: Path):
    from envsynth.check import check_domain

    line, col, message, hint = expectation(path.read_bytes().decode("utf-8", "replace"))
    spec = _workspace(tmp_path, phrases=path)
    report = check_domain(load_domain(spec), max_len=2)
    assert report.errors, "no error for a broken phrasing"
    first = report.errors[0].message
    where = f"{tmp_path / 'templates' / 'library' / 'phrases.yaml'}:{line}:{col}: "
    assert first.startswith(where) and message in first, first
    if hint is not None:
        assert hint in first, first


LINE_EXPECT_RE = re.compile(r"^# expect: (\d+) (.+)$", re.M)


@pytest.mark.parametrize("path", CHECKS, ids=[p.stem for p in CHECKS])
def test_mistakes_only_check_can_see_are_errors_at_their_line(tmp_path, path: Path):
    from envsynth.check import check_domain

    m = LINE_EXPECT_RE.search(path.read_text(encoding="utf-8"))
    assert m, "the file must start with '# expect: LINE message'"
    line, message = int(m.group(1)), m.group(2).strip()
    spec = _workspace(tmp_path, spec=path)
    report = check_domain(load_domain(spec), max_len=2)
    severity = "warning" if "# severity: warning" in path.read_text(encoding="utf-8") else "error"
    found = [f.message for f in report.findings if f.severity == severity]
    assert any(f.startswith(f"{spec}:{line}: ") and message in f for f in found), found


def test_a_huge_file_is_refused_quickly_without_reading_it_all(tmp_path):
    import time

    big = tmp_path / "huge.yaml"
    with open(big, "wb") as f:
        f.write(b"domain: x\n")
        f.write(b"# padding\n" * 700_000)  # 7 MB
    t0 = time.perf_counter()
    with pytest.raises(SpecErrors) as info:
        load_domain(big)
    assert time.perf_counter() - t0 < 2
    assert "MB" in str(info.value) and "at most" in str(info.value)


SWEEP = r"""
import json, signal, sys, time, io, contextlib
from typer.testing import CliRunner
from envsynth.cli import app
signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError()))
runner = CliRunner()
out = []
for spec, out_dir in json.loads(sys.argv[1]):
    for args in (["check", spec, "--max-len", "3"], ["generate", spec, "-n", "3", "-o", out_dir, "-q"]):
        t0 = time.perf_counter()
        signal.alarm(30)
        try:
            r = runner.invoke(app, args)
            text, code = r.output, r.exit_code
        except TimeoutError:
            text, code = "HUNG", -1
        signal.alarm(0)
        out.append({"args": args, "seconds": time.perf_counter() - t0, "code": code, "output": text[-600:]})
print(json.dumps(out))
"""


def test_every_bad_file_gets_a_message_from_the_command_line_quickly(tmp_path):
    """check and generate on every broken spec and phrasing: a message within 10 s, exit 1 for a
    spec that cannot be used, and never a traceback, an 'internal error' or a hang."""
    jobs = [(str(p), str(tmp_path / f"out-{p.stem}"), True) for p in FILES]
    for p in PHRASES + CHECKS:
        d = tmp_path / f"ws-{p.parent.name}-{p.stem}"
        d.mkdir()
        spec = _workspace(d, spec=p if p in CHECKS else BASE, phrases=p if p in PHRASES else BASE_PHRASES)
        unusable = "# severity: warning" not in p.read_bytes().decode("utf-8", "replace")
        jobs.append((str(spec), str(d / "out"), unusable))
    r = subprocess.run([sys.executable, "-c", SWEEP, json.dumps([j[:2] for j in jobs])], capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(r.stdout)
    assert len(results) == 2 * len(jobs)
    for res, (_spec, _out, unusable) in zip(results, [j for j in jobs for _ in (0, 1)]):
        label = " ".join(res["args"])
        assert res["output"] != "HUNG" and res["seconds"] < 10, f"{label}: took {res['seconds']:.1f}s"
        assert "Traceback" not in res["output"] and "internal error" not in res["output"], f"{label}:\n{res['output']}"
        if res["args"][0] == "generate" and unusable:
            assert res["code"] == 1 and "error" in res["output"], f"{label}: exit {res['code']}\n{res['output']}"


def test_inequality_of_two_record_arguments_points_to_distinct():
    """`target != source` can never be refused (the planner never names one record twice unless a
    distinct() rule is what refuses it): check says so at its line, with what to write."""
    from envsynth.state.analysis import distinct_findings

    text = (CORPUS.parent.parent / "specs" / "banking.yaml").read_text(encoding="utf-8")
    assert "distinct(source, target)" in text
    lines = text.splitlines()
    line = next(i for i, l in enumerate(lines, 1) if "distinct(source, target)" in l)
    d = parse_spec_text(text.replace("distinct(source, target)", "target != source"), "banking.yaml")
    found = [f.message for f in distinct_findings(d)]
    assert found and found[0].startswith(f"banking.yaml:{line}: ") and "write distinct(target, source)" in found[0]
    assert not distinct_findings(parse_spec_text(text, "banking.yaml"))
