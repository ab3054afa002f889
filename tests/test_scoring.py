"""Scoring a careful agent fairly: answers in any common format, refusals in its own words.

The corpus in tests/data/replies/<domain>.yaml was written from the scoring rules by someone who
had not seen the scorer: human-judged right and wrong replies to real questions and refusals of
the six shipped domains. Every reply must be scored as judged - this is what catches a scorer
that is too strict (a correct paraphrase scoring 0) or too lenient (a wrong reason, a hedge, an
id inside a date scoring 1). Entries under `beyond_lexical:` are replies a lexical reader cannot
judge (they need to know which role a number plays); they are listed, not asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import envsynth
from envsynth.play import scoring as S
from envsynth.play.environment import tool_rules

CORPUS = sorted((Path(__file__).parent / "data" / "replies").glob("*.yaml"))


def _cases():
    for path in CORPUS:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for a in data.get("answers", []):
            for verdict in ("right", "wrong"):
                for reply in a.get(verdict, []):
                    yield pytest.param(data["domain"], "answer", a, reply, verdict == "right",
                                       id=f"{data['domain']}-answer-{verdict}-{a['tool']}")
        for r in data.get("refusals", []):
            for verdict in ("right", "wrong"):
                for reply in r.get(verdict, []):
                    yield pytest.param(data["domain"], "refusal", r, reply, verdict == "right",
                                       id=f"{data['domain']}-refusal-{verdict}-{r['tool']}")


CASES = list(_cases())
_domains: dict = {}


def _domain(name: str):
    if name not in _domains:
        _domains[name] = envsynth.load_domain(name)
    return _domains[name]


def judge(domain_name: str, kind: str, entry: dict, reply: str) -> bool:
    domain = _domain(domain_name)
    if kind == "answer":
        k, values = S.answer_kind(domain.tools[entry["tool"]].answer_type)
        return not S.answers_told([S.AnswerSpec(str(entry["value"]), k, values)], [reply])
    tool = domain.tools[entry["tool"]]
    srcs = [r.src for r in tool.requires]
    assert entry["requirement"] in srcs, f"{entry['tool']} has no requirement {entry['requirement']!r}"
    failing = srcs.index(entry["requirement"])
    facts = [str(v) for v in (entry.get("facts") or {}).values()]
    held = [i for i in range(len(srcs)) if i != failing]  # the corpus assumes the other rules held
    return S.reason_given(tool_rules(domain, entry["tool"]), failing, facts, held, [reply])


def test_corpus_is_large_enough():
    right = sum(1 for c in CASES if c.values[4])
    wrong = len(CASES) - right
    assert right >= 200 and wrong >= 200, (right, wrong)
    assert {c.values[0] for c in CASES} == {"airline", "retail", "hr", "itsm", "calendar", "banking"}


@pytest.mark.parametrize("domain,kind,entry,reply,right", CASES)
def test_reply_is_scored_as_judged(domain, kind, entry, reply, right):
    assert judge(domain, kind, entry, reply) == right, f"{'right' if right else 'wrong'} reply misjudged: {reply}"


# ---------------------------------------------------------------------------- the readers


@pytest.mark.parametrize("text,value", [
    ("It is on 2026-11-25.", "2026-11-25"), ("on November 25, 2026", "2026-11-25"), ("Nov 25", "2026-11-25"),
    ("25 November 2026", "2026-11-25"), ("Wednesday, November 25th", "2026-11-25"),
])
def test_dates_in_the_forms_people_write(text, value):
    assert S.stated(S.AnswerSpec(value, "date"), text)


@pytest.mark.parametrize("text", ["2026-11-14", "14:00", "E10014", "$14.50", "1,400"])
def test_a_number_is_never_read_out_of_a_date_a_time_an_id_or_a_larger_number(text):
    assert not S.stated(S.AnswerSpec("14", "int"), text)


@pytest.mark.parametrize("text", ["$1,234.50", "1234.5", "USD 1,234.50", "1,234.50 dollars", "$1234.50"])
def test_money_with_or_without_symbol_commas_and_trailing_zeros(text):
    assert S.stated(S.AnswerSpec("1234.50", "money"), text)


@pytest.mark.parametrize("text", ["at 2 PM on Dec 3", "2026-12-03T14:00", "December 3, 2026 at 14:00",
                                  "14:00 on 2026-12-03", "Dec 3 at 2:00 pm"])
def test_datetimes_as_a_date_next_to_a_time(text):
    assert S.stated(S.AnswerSpec("2026-12-03 14:00", "datetime"), text)


def test_ids_match_as_whole_tokens_only():
    assert S.stated(S.AnswerSpec("A0355", "ref"), "your appointment A0355 is booked")
    assert not S.stated(S.AnswerSpec("A0355", "ref"), "your appointment XA03551 is booked")
