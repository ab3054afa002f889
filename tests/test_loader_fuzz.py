"""Fuzz the spec loader: a mangled spec is either loaded or rejected with located SpecErrors.

The shipped specs are mutated the way edits go wrong (a line deleted, duplicated, swapped or
re-indented, a token replaced by another token of the file, a stray character, a file cut
short); `parse_spec_text` must never raise anything but SpecErrors, and every error must point
at a real position (line and column >= 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envsynth.spec.model import Domain
from envsynth.errors import SpecErrors
from envsynth.spec.loader import parse_spec_text

SPECS = Path(__file__).resolve().parent.parent / "specs"
SOURCES = {name: (SPECS / f"{name}.yaml").read_text(encoding="utf-8") for name in ("airline", "retail")}
TOKEN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")
TOKENS = {name: sorted(set(TOKEN_RE.findall(text))) for name, text in SOURCES.items()}
# characters that mean something to YAML or to the expression language, plus whitespace
SPECIAL = list(":{}[],-#'\"\t\n|>&*!%@`=.()<+ ") + ["0", "a", "Z", "_", "é", "\u00a0"]
MUTATIONS = ("delete", "duplicate", "swap", "indent", "token", "char", "truncate")


def _mutate(draw, kind: str, name: str, text: str) -> str:
    lines = text.split("\n")
    pick_line = st.integers(0, len(lines) - 1)
    if kind == "delete":
        del lines[draw(pick_line)]
    elif kind == "duplicate":
        i = draw(pick_line)
        lines.insert(i, lines[i])
    elif kind == "swap":
        i, j = draw(pick_line), draw(pick_line)
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "indent":
        i = draw(pick_line)
        delta = draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
        if delta > 0:
            lines[i] = " " * delta + lines[i]
        else:
            stripped = lines[i].lstrip(" ")
            lead = len(lines[i]) - len(stripped)
            lines[i] = " " * max(0, lead + delta) + stripped
    elif kind == "token":
        spans = [m.span() for m in TOKEN_RE.finditer(text)]
        if not spans:
            return text
        a, b = draw(st.sampled_from(spans))
        return text[:a] + draw(st.sampled_from(TOKENS[name])) + text[b:]
    elif kind == "char":
        pos = draw(st.integers(0, len(text)))
        ch = draw(st.one_of(st.sampled_from(SPECIAL), st.characters(exclude_categories=("Cs",))))
        return text[:pos] + ch + text[pos:]
    elif kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    return "\n".join(lines)


@st.composite
def mutated_specs(draw):
    name = draw(st.sampled_from(sorted(SOURCES)))
    text = SOURCES[name]
    applied = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        applied.append(kind)
        text = _mutate(draw, kind, name, text)
    return name, applied, text


def _check(text: str, file: str) -> None:
    try:
        result = parse_spec_text(text, file)
    except SpecErrors as e:
        assert e.errors, "SpecErrors without any error"
        for err in e.errors:
            assert err.line >= 1 and err.col >= 1, f"bad position {err.line}:{err.col} in:\n{e}"
        str(e)  # formatting must not fail either
    else:
        assert isinstance(result, Domain)


def test_shipped_specs_load():
    for name, text in SOURCES.items():
        assert isinstance(parse_spec_text(text, f"{name}.yaml"), Domain)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_specs())
def test_mutated_spec_loads_or_reports_located_errors(case):
    name, applied, text = case
    _check(text, f"{name}.yaml")


# ----------------------------------------------------------------------------- former crashes
# Reproducers of inputs that once made parse_spec_text raise something other than SpecErrors
# (found by the token-replacement mutation and by reading the loader); each must now be a
# located SpecErrors.

AIRLINE = SOURCES["airline"]


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _assert_reported(text: str, file: str = "airline.yaml") -> SpecErrors:
    with pytest.raises(SpecErrors) as info:
        parse_spec_text(text, file)
    for err in info.value.errors:
        assert err.line >= 1 and err.col >= 1
    return info.value


def test_rank_by_id_is_reported_not_crash():
    # token mutation: 'economy_price' -> 'id' in the 'cheapest' reference of flight
    text = _replace_once(AIRLINE, "rank: {by: economy_price, order: asc}", "rank: {by: id, order: asc}")
    err = _assert_reported(text).errors[0]
    assert "rank" in err.message and "'id'" in err.message
    at = text.index("rank: {by: id") + len("rank: {by: ")
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    assert (err.line, err.col) == (line, col)


def test_rank_by_ref_id_is_reported_not_crash():
    text = _replace_once(SOURCES["retail"], "rank: {by: placed, order: desc}", "rank: {by: user.id, order: desc}")
    err = _assert_reported(text, "retail.yaml").errors[0]
    assert "rank" in err.message


def test_negative_money_places_is_reported_not_crash():
    text = _replace_once(AIRLINE, "balance: {type: money, min: 0, max: 5000, typical: [200, 2500]}",
                         "balance: {type: money, places: -1, min: 0, max: 5000}")
    err = _assert_reported(text).errors[0]
    assert "places" in err.message


def test_deeply_nested_expression_is_reported_not_crash():
    text = _replace_once(AIRLINE, "      - check: seats > 0\n        error: no seats are left in this cabin\n",
                         "      - check: " + "(" * 1000 + "seats > 0" + ")" * 1000
                         + "\n        error: no seats are left in this cabin\n")
    _assert_reported(text)


def test_deeply_nested_yaml_is_reported_not_crash():
    _assert_reported(AIRLINE + "\nx: " + "[" * 5000 + "\n")


def test_recursive_yaml_alias_is_reported_not_crash():
    _assert_reported(AIRLINE + "\nx: &a [*a]\n")
