"""A corpus of realistic broken specs: each must get its located, plain-language message.

Every file in tests/bad_specs/*.yaml is the valid base spec (tests/bad_specs/base/library.yaml)
with ONE author mistake, and starts with comment lines giving the expectation:

    # mistake: misspelled 'requires'
    # expect: 23:7 unknown key 'requries'
    # hint: requires

`23:7` is where the FIRST error must point (1-based line:column in that file), the rest of the
`expect:` line must occur in its message and the optional `hint:` text in its hint. Files under
tests/bad_specs/pending/ describe messages that are not right yet; they are not run here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from envsynth.domain import Domain
from envsynth.errors import SpecErrors
from envsynth.loader import parse_spec_text

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
    text = path.read_text(encoding="utf-8")
    line, col, message, hint = expectation(text)
    name = path.name
    with pytest.raises(SpecErrors) as info:
        parse_spec_text(text, name)
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
