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
