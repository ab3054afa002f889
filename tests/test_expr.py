"""The expression language: parsing, precedence, located syntax errors."""

import pytest
from hypothesis import given, settings, strategies as st

from envsynth.spec import grammar as E


def test_precedence_and_unparse():
    n = E.parse_expr('a.b + 2 * c > 10 and not d == "x" or e in [1, 2]')
    assert isinstance(n, E.BoolOp) and n.op == "or"
    left = n.values[0]
    assert isinstance(left, E.BoolOp) and left.op == "and"
    cmp = left.values[0]
    assert isinstance(cmp, E.Compare) and cmp.op == ">"
    assert isinstance(cmp.left, E.Arith) and cmp.left.op == "+"
    assert isinstance(cmp.left.right, E.Arith) and cmp.left.right.op == "*"
    # unparse gives text that parses to the same structure
    again = E.parse_expr(E.unparse(n))
    assert E.unparse(again) == E.unparse(n)


def test_if_then_else_and_calls():
    n = E.parse_expr('if cabin == "business" then f.bp else max(f.ep, 10)')
    assert isinstance(n, E.IfElse)
    assert isinstance(n.other, E.Call) and n.other.func == "max"


@pytest.mark.parametrize(
    "src, offset, hint",
    [
        ("a = 1", 2, "=="),
        ("a && b", 2, "and"),
        ("a || b", 2, "or"),
        ("!a", 0, "not"),
        ("(a + 1", 6, ""),
        ("a < b < c", 6, "and"),
        ("a.", 2, ""),
        ("x / 2", 2, "division"),
        ('"open', 0, "quote"),
        ("a b", 2, "and"),
    ],
)
def test_syntax_errors_are_located(src, offset, hint):
    with pytest.raises(E.ExprSyntaxError) as e:
        E.parse_expr(src)
    assert e.value.offset == offset
    assert hint in e.value.hint + e.value.message


def test_effects():
    eff = E.parse_effect('user.balance -= price when cabin == "economy"')
    assert eff.op == "-=" and E.path_of(eff.target) == ["user", "balance"]
    assert isinstance(eff.when, E.Compare)
    with pytest.raises(E.ExprSyntaxError) as e:
        E.parse_effect("user.balance == 3")
    assert "'='" in e.value.hint
    with pytest.raises(E.ExprSyntaxError):
        E.parse_effect("balance = 3")  # not record.field


names = st.sampled_from(["a", "b.c", "d.e.f", "x"])
atoms = st.one_of(names, st.integers(0, 999).map(str), st.sampled_from(['"open"', "true", "2.50"]))


def exprs(depth=3):
    if depth == 0:
        return atoms
    sub = exprs(depth - 1)
    return st.one_of(
        atoms,
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, st.sampled_from(["==", "!=", "<", ">="]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda s: f"(not ({s}))"),
    )


@settings(max_examples=200, deadline=None)
@given(exprs())
def test_unparse_round_trips(src):
    """For all expressions: unparse(parse(s)) parses back to the same text."""
    n = E.parse_expr(src)
    text = E.unparse(n)
    assert E.unparse(E.parse_expr(text)) == text
