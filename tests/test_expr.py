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


def test_time_literals_and_clock_functions_parse():
    n = E.parse_expr('appointment.start - now >= hours(24) and time_of(x.at) < time("09:30")')
    left, right = n.values
    assert isinstance(left.left, E.Arith) and isinstance(left.right, E.Call) and left.right.func == "hours"
    assert right.right.func == "time" and right.right.args[0].value == "09:30"
    assert E.unparse(E.parse_expr("datetime(m.date, m.start_time) + minutes(m.duration)")) == \
        "datetime(m.date, m.start_time) + minutes(m.duration)"


@pytest.mark.parametrize("src, hint", [
    ("now + 24 hours", "hours(24)"),
    ("start + 30 minutes", "minutes(30)"),
    ("today + 3 days", "today + 3"),
    ("now + 2 weeks", "days(14)"),
])
def test_units_written_as_words_get_the_constructor(src, hint):
    with pytest.raises(E.ExprSyntaxError) as e:
        E.parse_expr(src)
    assert hint in e.value.hint


CLOCK_SPEC = (__import__("pathlib").Path(__file__).parent / "data" / "clock.yaml").read_text()


def _let_error(let_src: str):
    """The first error `check` gives for one more let in the clock spec's probe tool."""
    from envsynth.errors import SpecErrors
    from envsynth.spec.loader import parse_spec_text

    text = CLOCK_SPEC.replace("      wrap_ahead:", f"      extra: {let_src}\n      wrap_ahead:", 1)
    with pytest.raises(SpecErrors) as e:
        parse_spec_text(text, "clock.yaml")
    return e.value.errors[0]


@pytest.mark.parametrize("src, message, hint", [
    ("'slot.big * slot.rate'", "small known range", "min: 1, max: 10"),
    ("'slot.rate * slot.rate'", "cannot multiply money by money", "whole numbers"),
    ("'slot.at - now >= 60'", "cannot compare duration with int", "minutes(90)"),
    ("'slot.start + 30'", "cannot compute time + int", "minutes(30)"),
    ("'slot.day + hours(2)'", "cannot compute date + duration", "datetime(d, time"),
    ("'datetime(slot.at, slot.start)'", "takes a date and a time of day", "datetime(meeting.date"),
    ("'time(\"25:00\")'", "not a valid time", "between 00:00 and 23:59"),
    ("'time_of(slot.day)'", "needs a date-time", "time_of(dt)"),
    ("'hours(slot.rate)'", "needs a whole number", "hours(n)"),
    ("'slot.start == \"09:00\"'", "cannot be compared with a bare text", 'time("09:00")'),
])
def test_clock_and_product_mistakes_are_explained(src, message, hint):
    err = _let_error(src)
    assert message in err.message and hint in err.hint, (err.message, err.hint)
    assert err.line == 45  # the line of the let
