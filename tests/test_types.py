"""Value codecs: exact money, dates, and what agents are expected to say."""

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from envsynth.spec import types as T


@given(st.integers(min_value=0, max_value=10**9))
def test_money_round_trips_exactly(cents):
    t = T.money(2)
    assert T.decode(t, T.encode(t, cents)) == cents
    assert Decimal(T.to_text(t, cents)) * 100 == cents


def test_money_rejects_fractions_of_a_cent():
    with pytest.raises(T.ValueError_):
        T.decode(T.money(2), 1.005)


@given(st.integers(min_value=T.parse_date("2000-01-01"), max_value=T.parse_date("2100-12-31")))
def test_dates_round_trip(days):
    assert T.decode(T.DATE, T.encode(T.DATE, days)) == days


def test_decode_errors_are_plain():
    with pytest.raises(T.ValueError_, match="YYYY-MM-DD"):
        T.decode(T.DATE, "3rd of May")
    with pytest.raises(T.ValueError_, match="one of"):
        T.decode(T.VType("enum", values=("a", "b")), "c")
    with pytest.raises(T.ValueError_, match="whole number"):
        T.decode(T.INT, "3")


@given(st.integers(min_value=0, max_value=T.MINUTES_PER_DAY - 1))
def test_times_of_day_round_trip(minutes):
    assert T.decode(T.TIME, T.encode(T.TIME, minutes)) == minutes
    assert T.to_text(T.TIME, minutes) == T.encode(T.TIME, minutes)


def test_time_codec_refuses_what_is_not_a_clock_time():
    assert T.decode(T.TIME, "14:30") == 870 and T.encode(T.TIME, 0) == "00:00"
    for bad in ("24:00", "9:30", "14:60", "14:30:00", "2 PM", 870, None):
        with pytest.raises(T.ValueError_, match="HH:MM"):
            T.decode(T.TIME, bad)
    assert T.check_range(T.VType("time", lo=420, hi=1140), 1200) == "above the maximum 19:00"
    assert T.json_schema(T.TIME)["description"].startswith("time of day as HH:MM, from 00:00 to 23:59")


def test_a_time_bound_written_as_a_number_is_refused():
    """A time bound that YAML read as a number (someone wrote 870) is not silently minutes."""
    with pytest.raises(T.ValueError_, match='in quotes as "HH:MM"'):
        T.parse_bound(T.TIME, 870)


def _clock():
    from pathlib import Path

    from envsynth.spec.loader import load_domain

    return load_domain(str(Path(__file__).parent / "data" / "clock.yaml"))


def test_durations_and_times_have_their_own_types():
    """datetime - datetime is a duration, time - time a duration, time + duration a time;
    minutes/hours/days build durations; each let of the clock spec gets the kind it means."""
    d = _clock()
    kinds = {name: t.kind for name, _n, t in d.tools["probe"].lets}
    assert kinds["wrap_ahead"] == "time" and kinds["local"] == "time" and kinds["earliest"] == "time"
    assert kinds["gap"] == kinds["since_noon"] == kinds["mixed"] == kinds["from_eleven"] == "duration"
    assert kinds["scaled_duration"] == "duration"
    assert kinds["joined"] == "datetime" and kinds["date_of_at"] == "date"
    assert kinds["money"] == "money" and kinds["small_big"] == "int"


def test_bounds_follow_the_arithmetic():
    """The bounds a product needs come from field bounds through +, -, * and calls."""
    d = _clock()
    lets = {name: n for name, n, _t in d.tools["probe"].lets}
    assert lets["nested"].left.bounds == (-19, 21)  # units in [-7, 9] plus offset in [-12, 12]
    assert lets["nested"].small == ("left", -19, 21)
    assert lets["span_1000"].small == ("right", -7, 9)  # the smaller span of the two
    assert lets["scaled_duration"].right.bounds == (-720, 720)
