"""What counts as telling the user: answers in the formats people use, refusals in own words.

A task's reward is final-state match x everything the user must be told was told. Matching the
expected text as a substring (what tau2-bench does) is unfair both ways: "November 25, 2026"
fails where "2026-11-25" passes, "can't" fails where "cannot" passes, and a short id passes
inside a date or a price. Here the agent's messages are read for typed values and key terms.
Both readers cut a text into clauses at . ; : ! ? , brackets, dashes and line breaks, and read
"hasn't" as "has not", "can't" as "can not".

- An **answer** is told when a message asserts its value, in any common form: dates ISO or
  written out ("Nov 25", "25 November 2026"), money with or without "$", commas and trailing
  zeros, times as 14:00 or 2 PM, enum values with spaces or hyphens, ids and numbers as whole
  tokens; a datetime is a date and a time within 80 characters. A mention asserts nothing when
  1. one of the three words before it in its clause negates, conditions or hedges it (not, no,
     never, non, nor...; if, unless, whether; may, might, could, maybe, perhaps, either...) -
     for an enum also a modal (can, will, would, should, must: "can be cancelled");
  2. it is an alternative: joined to a different value of its kind by "or" or "/" (also as
     "X, Y or Z"), and for enums and numbers by a range ("3 to 8", "3-8", "between 3 and 8",
     "low-to-medium");
  3. it is an enum value used as a verb: followed by "to" and a verb ("scheduled to depart",
     not "delivered to 12 Oak Street");
  4. it is an enum value whose sentence also asserts another value of that enum that the task
     does not expect ("network issues, but his group is database").
  Nor may the messages hedge by listing candidates (every value of an enum, or more than
  twice as many as expected, named without a negation; more than `HEDGE_SMALL` whole numbers;
  more than `HEDGE_LARGE` amounts or dates).
- A **refusal** is explained when a message gives the failing rule's reason. A rule's terms are
  the content words of its error message, stemmed and widened to their synonyms (`SYNONYMS`;
  phrases such as "sold out" match word by word and their words do not count alone); a list in
  the message ("accounts, cards and disputes", "returned or exchanged") is one term. A term
  weighs 1/(number of the tool's rules sharing it), half that when it names the tool's action
  (for a tool that reads, "see" too); action terms count only if nothing else is left. The
  numbers, times and dates of the message ("at most 5 bags") are one more term of weight 1, and
  the failing values (facts) one more when the reply names one (a fact that is a word of some
  rule is no evidence; tiny numbers count only when all of them are named). A reply must state
  `REASON_SHARE` of the weight, where a term is not stated when
  1. a hedge (may, might, could, maybe, perhaps, either...) comes before it in its clause;
  2. the rule asserts it outright (after the rule's verb, with no "only", modal or negation
     before it) and the reply negates it within two words ("the card is not frozen");
  3. the rule has it in the past and the reply in the present ("departs on Dec 22");
  4. it is "already" without another of the rule's terms after it (or just before it) in its
     clause ("already delivered ... ships" is no "already ships");
  5. a fact is one item of its list and the reply names another item ("badge" for "laptop").
  Conversely "already ... this/that <thing>" is also stated by "same", and a rule's "time" or
  "date" by any clock time or date. A rule saying who or what alone may ("only managers can",
  "only pending orders") is not given unless the reply names them or a failing value.
  Naming every rule to be safe is not an explanation: a reply fails when it also claims a rule
  of the tool that held - it states `CLAIM_SHARE` of that rule's own terms (those the failing
  rule lacks, the action aside); or that rule has one own term (or none) and the reply states
  all of it but nothing that tells the failing rule apart (its own terms, a failing value:
  "the receiving account is frozen" for the sending one); or it joins a term of each by "or".

This is a lexical reader with a synonym table, not a language model: it is deterministic,
explainable and checked against a corpus of human-judged replies (tests/data/replies/); the few
replies only a reader of roles could judge are listed there under `beyond_lexical`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Iterable, Optional

from ..spec import types as T

HEDGE_SMALL = 5  # distinct whole numbers a reply may state before it is a list of guesses
HEDGE_LARGE = 10  # distinct amounts, dates or times likewise

# ----------------------------------------------------------------------------- value readers

MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_ISO_DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?!\d)")
_MONTH_DAY = re.compile(r"\b" + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4})\b)?", re.I)
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\b(?:,?\s+(\d{4})\b)?", re.I)
_CLOCK = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?::00)?(?:\s*([ap])\.?\s*m\b\.?)?", re.I)
_HOUR_AMPM = re.compile(r"(?<![\d:.])(1[0-2]|0?[1-9])\s*([ap])\.?\s*m\b\.?", re.I)
_NOON = re.compile(r"\b(noon|midday|midnight)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.,/#:$-])(?:(?:USD|US\$)\s*)?(\$\s*)?(-(?=\d))?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w]|[.,]\d)")
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.I)


@dataclass
class Mentions:
    """The typed values one text states, with where they are (dates and times are masked out
    before numbers are read, so "14" is never read out of "2026-11-14" or "14:00")."""

    dates: list[tuple[int, Optional[int], int, int]] = field(default_factory=list)  # (month, day, year|None, pos)
    times: list[tuple[int, int]] = field(default_factory=list)  # (minutes of the day, pos)
    numbers: list[Decimal] = field(default_factory=list)
    # the same mentions with their spans: (value, start, end), value as compared
    date_at: list[tuple[tuple, int, int]] = field(default_factory=list)
    time_at: list[tuple[int, int, int]] = field(default_factory=list)
    number_at: list[tuple[Decimal, int, int]] = field(default_factory=list)


def read_values(text: str) -> Mentions:
    m = Mentions()
    masked = list(text)

    def mask(a: int, b: int) -> None:
        masked[a:b] = " " * (b - a)

    for x in _ISO_DATE.finditer(text):
        m.dates.append((int(x.group(2)), int(x.group(3)), int(x.group(1)), x.start()))
        m.date_at.append(((int(x.group(2)), int(x.group(3)), int(x.group(1))), x.start(), x.end()))
        mask(x.start(), x.end())
    for rx, mi, di in ((_MONTH_DAY, 1, 2), (_DAY_MONTH, 2, 1)):
        for x in rx.finditer("".join(masked)):
            month = MONTHS[x.group(mi).lower().rstrip(".")]
            year = int(x.group(3)) if x.group(3) else None
            m.dates.append((month, int(x.group(di)), year, x.start()))
            m.date_at.append(((month, int(x.group(di)), year), x.start(), x.end()))
            mask(x.start(), x.end())
    for x in _CLOCK.finditer("".join(masked)):
        hour, minute = int(x.group(1)), int(x.group(2))
        if x.group(3):
            if hour > 12:
                continue
            hour = hour % 12 + (12 if x.group(3).lower() == "p" else 0)
        m.times.append((hour * 60 + minute, x.start()))
        m.time_at.append((hour * 60 + minute, x.start(), x.end()))
        mask(x.start(), x.end())
    for x in _HOUR_AMPM.finditer("".join(masked)):
        hour = int(x.group(1)) % 12 + (12 if x.group(2).lower() == "p" else 0)
        m.times.append((hour * 60, x.start()))
        m.time_at.append((hour * 60, x.start(), x.end()))
        mask(x.start(), x.end())
    for x in _NOON.finditer("".join(masked)):
        minutes = 0 if x.group(1).lower() == "midnight" else 12 * 60
        m.times.append((minutes, x.start()))
        m.time_at.append((minutes, x.start(), x.end()))
    rest = "".join(masked)
    for x in _NUMBER.finditer(rest):
        digits = x.group(3).replace(",", "") + (x.group(4) or "")
        try:
            value = Decimal(digits)
        except InvalidOperation:  # pragma: no cover - the pattern only admits digits
            continue
        value = -value if x.group(2) else value
        m.numbers.append(value)
        m.number_at.append((value, x.start(), x.end()))
    for x in _NUMBER_WORD.finditer(rest):
        m.numbers.append(Decimal(NUMBER_WORDS[x.group(1).lower()]))
        m.number_at.append((Decimal(NUMBER_WORDS[x.group(1).lower()]), x.start(), x.end()))
    m.date_at.sort(key=lambda v: v[1])
    m.time_at.sort(key=lambda v: v[1])
    m.number_at.sort(key=lambda v: v[1])
    return m


def _phrase(text: str) -> str:
    """Lower case, '_' and '-' as spaces, single spaces, 'nonrefundable' as 'non refundable',
    'canceled' as 'cancelled': the form enum values and texts are compared in."""
    t = text.lower().replace("_", " ").replace("-", " ")
    t = re.sub(r"\bnon(?=[a-z]{4})", "non ", t)
    t = re.sub(r"\bcancel(?=ed\b|ing\b|ation)", "cancell", t)
    return re.sub(r"\s+", " ", t)


def _has_phrase(text: str, phrase: str) -> bool:
    p = _phrase(phrase).strip()
    return bool(p) and re.search(r"(?<![a-z0-9])" + re.escape(p) + r"(?![a-z0-9])", _phrase(text)) is not None


@lru_cache(maxsize=512)
def _phrase_rx(phrase: str) -> "re.Pattern[str]":
    """A value as a pattern on the original text (so mentions keep their place): words apart by
    spaces, '_' or '-', 'non' glued or not, 'canceled' or 'cancelled'."""
    words = _phrase(phrase).split()
    parts = []
    for i, w in enumerate(words):
        rx = re.escape(w).replace("cancell", "cancell?")
        if i:
            rx = (r"[\s_-]*" if words[i - 1] == "non" else r"[\s_-]+") + rx
        parts.append(rx)
    return re.compile(r"(?<![A-Za-z0-9])" + "".join(parts) + r"(?![A-Za-z0-9])", re.I)


def _has_token(text: str, token: str) -> bool:
    """An id as a whole token, case as written; a leading '#' may be left out."""
    core = token.lstrip("#")
    if not core:
        return False
    return re.search(r"(?<![A-Za-z0-9_])#?" + re.escape(core) + r"(?![A-Za-z0-9_])", text) is not None


# ----------------------------------------------------------------------------- clauses and polarity

NEGATORS = frozenset({"not", "no", "never", "non", "neither", "nor", "nobody", "none"})
CONDITIONALS = frozenset({"if", "unless", "whether"})
HEDGES = frozenset({"may", "might", "could", "maybe", "perhaps", "possibly", "probably", "either"})
MODALS = frozenset({"can", "will", "would", "should", "shall", "must"}) | HEDGES
PREPOSITION_OBJECTS = frozenset("""the a an your my his her their our its this that these those you him them us
me it one each every all some any""".split())
WINDOW = 3  # words before a mention that can negate, condition or hedge it

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_BOUNDARY = re.compile(r"[.!?;:](?=\s|$|[\"')\]])|[()\[\]\n]|,(?=\s)|(?:^|\s)[-\u2013\u2014]+(?=\s)|[\u2013\u2014]")
_SUFFIX_WORD = {"s": "is", "re": "are", "ve": "have", "ll": "will", "d": "would", "m": "am"}


def _expand(tok: str) -> tuple[str, ...]:
    """Contractions as words: can't -> can not, hasn't -> has not, it's -> it is, nonrefundable
    -> non refundable."""
    if tok in ("can't", "cannot"):
        return ("can", "not")
    if tok == "won't":
        return ("will", "not")
    if tok.endswith("n't"):
        return (tok[:-3], "not")
    if "'" in tok:
        base, _, suf = tok.partition("'")
        return (base, _SUFFIX_WORD[suf]) if suf in _SUFFIX_WORD else (base,)
    if tok.startswith("non") and len(tok) >= 7 and tok != "nonsense":
        return ("non", tok[3:])
    return (tok,)


@dataclass
class Reading:
    """A text as words: each with its place, its clause and its stem."""

    text: str
    words: list[str]
    starts: list[int]
    ends: list[int]
    clauses: list[int]
    stems: list[str]
    _bounds: list[int] = field(default_factory=list)

    def clause_of(self, pos: int) -> int:
        return bisect_right(self._bounds, pos)

    def index_at(self, pos: int) -> int:
        """Index of the first word starting at or after `pos`."""
        return bisect_right(self.starts, pos - 1)

    def before(self, pos: int, n: int = WINDOW) -> list[str]:
        """Up to n words before position `pos`, in its clause (nearest first)."""
        i, c, out = self.index_at(pos) - 1, self.clause_of(pos), []
        while i >= 0 and len(out) < n and self.clauses[i] == c:
            out.append(self.words[i])
            i -= 1
        return out

    def after(self, pos: int, n: int = 2) -> list[int]:
        """Indices of up to n words from position `pos` on, in its clause."""
        i, c, out = self.index_at(pos), self.clause_of(pos), []
        while i < len(self.words) and len(out) < n and self.clauses[i] == c:
            out.append(i)
            i += 1
        return out


@lru_cache(maxsize=1024)
def reading(text: str) -> Reading:
    low = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    bounds = [x.start() for x in _BOUNDARY.finditer(low)]
    words, starts, ends, clauses = [], [], [], []
    for x in _TOKEN.finditer(low):
        c = bisect_right(bounds, x.start())
        for w in _expand(x.group()):
            words.append(w)
            starts.append(x.start())
            ends.append(x.end())
            clauses.append(c)
    return Reading(text, words, starts, ends, clauses, [stem(w) for w in words], bounds)


def _asserted(r: Reading, start: int, end: int, enum: bool) -> bool:
    """Is the mention at [start, end) stated as a fact - not negated, conditioned or hedged by
    the words just before it (for an enum also not under a modal, and not a verb + 'to')?"""
    for w in r.before(start):
        if w in NEGATORS or w in CONDITIONALS or w in HEDGES or (enum and w in MODALS):
            return False
    if enum:
        nxt = r.after(end)
        if len(nxt) == 2 and r.words[nxt[0]] == "to":
            w = r.words[nxt[1]]
            raw = r.text[r.starts[nxt[1]]:r.ends[nxt[1]]]
            if w not in PREPOSITION_OBJECTS and not w[0].isdigit() and not raw[:1].isupper():
                return False
    return True


_DAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s*)?"
_OR = re.compile(r"\s*,?\s*(?:either\s+)?(?:or|and/or|/)\s*(?:even\s+|maybe\s+|possibly\s+|perhaps\s+)?" + _DAY, re.I)
_RANGE = re.compile(r"\s*(?:-\s*)?(?:to|through|thru|until|-|\u2013)(?:\s*-)?\s*", re.I)
_COMMA = re.compile(r"\s*,\s*")
_DASH_NUMBER = re.compile(r"\s*[-\u2013]\s*(?:\$\s*)?\d")


def _alternatives(text: str, at: list, ranges: bool) -> set[int]:
    """Indices of the mentions (value, start, end) - sorted, of one kind of value - offered as
    alternatives: joined to a different value by 'or' or '/', or in a list ending so ("X, Y or
    Z"); with `ranges`, also 'X to Y', 'X-Y' and 'between X and Y'."""
    out: set[int] = set()
    chain: list[int] = []
    alt = False

    def close() -> None:
        if alt and len({at[k][0] for k in chain}) > 1:
            out.update(chain)

    for k in range(len(at)):
        if k:
            gap = text[at[k - 1][2]:at[k][1]]
            is_or = _OR.fullmatch(gap) is not None
            is_range = ranges and (_RANGE.fullmatch(gap) is not None or (
                re.fullmatch(r"\s*and\s*", gap) is not None
                and re.search(r"\bbetween\s+(?:\S+\s+)?$", text[max(0, at[k - 1][1] - 20):at[k - 1][1]], re.I)))
            if is_or or is_range:
                chain.append(k)
                alt = True
                continue
            if _COMMA.fullmatch(gap):
                chain.append(k)
                continue
            close()
        chain, alt = [k], False
    close()
    return out


# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class AnswerSpec:
    """What one expected answer is: its text form (types.to_text) and its type."""

    value: str
    kind: str  # int | money | date | datetime | bool | enum | str | ref
    values: tuple[str, ...] = ()  # the enum's values (hedging: naming all of them is no answer)


def _date_parts(iso: str) -> tuple[int, int, int]:
    y, mo, d = iso[:10].split("-")
    return int(y), int(mo), int(d)


def _date_said(m: Mentions, iso: str) -> list[int]:
    y, mo, d = _date_parts(iso)
    return [pos for (month, day, year, pos) in m.dates if (month, day) == (mo, d) and year in (None, y)]


def _asserted_spans(text: str, at: list, match, ranges: bool) -> list[int]:
    """Start positions of the mentions in `at` ((value, start, end), sorted) for which `match`
    holds and that are asserted: not negated or hedged, not one of several alternatives."""
    r = reading(text)
    alts = _alternatives(text, at, ranges)
    if ranges:  # "12-14 days": the second number is no mention of its own, the pair is a range
        alts |= {k for k, (_v, s, e) in enumerate(at) if _DASH_NUMBER.match(text, e)}
    return [s for k, (v, s, e) in enumerate(at) if match(v) and k not in alts and _asserted(r, s, e, False)]


def _enum_mentions(text: str, values: Iterable[str]) -> list[tuple[str, int, int]]:
    out = []
    for v in values:
        out += [(v, x.start(), x.end()) for x in _phrase_rx(v).finditer(text)]
    out.sort(key=lambda x: (x[1], x[1] - x[2]))
    # a value inside a longer one ("desk" in "service desk") is not a mention of its own
    kept, reach = [], -1
    for x in out:
        if x[2] > reach:
            kept.append(x)
            reach = x[2]
    return kept


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def _enum_told(spec: AnswerSpec, text: str, allowed: frozenset) -> bool:
    """Is the enum value asserted in a sentence that asserts no other value of the enum, but
    those the task expects too? (A '.' in "$89.99" ends no sentence.)"""
    values = spec.values or (spec.value,)
    if spec.value not in values:
        values = tuple(values) + (spec.value,)
    ments = _enum_mentions(text, values)
    if not ments:
        return False
    r = reading(text)
    alts = _alternatives(text, [(_phrase(v), s, e) for (v, s, e) in ments], True)
    ends = [x.start() for x in _SENTENCE_END.finditer(text)]
    said: dict[int, set[str]] = {}  # sentence -> values asserted in it
    for k, (v, s, e) in enumerate(ments):
        if k not in alts and _asserted(r, s, e, True):
            said.setdefault(bisect_right(ends, s), set()).add(_phrase(v))
    want = _phrase(spec.value)
    ok = {want} | {_phrase(v) for v in allowed}
    return any(want in vs and vs <= ok for vs in said.values())


def stated(spec: AnswerSpec, text: str, m: Optional[Mentions] = None, allowed: Iterable[str] = ()) -> bool:
    """Does `text` assert the value (hedging aside)? `allowed`: other values of an enum that
    may be asserted alongside (the task expects them too)."""
    m = m or read_values(text)
    k, v = spec.kind, spec.value
    if k in ("int", "money"):
        try:
            want = Decimal(v)
        except InvalidOperation:
            return False
        return bool(_asserted_spans(text, m.number_at, lambda x: x == want, True))
    if k == "date":
        y, mo, d = _date_parts(v)
        return bool(_asserted_spans(text, m.date_at, lambda x: x[:2] == (mo, d) and x[2] in (None, y), False))
    if k == "datetime":
        day, _, hm = v.partition(" ")
        hh, mm = (int(x) for x in hm.split(":"))
        y, mo, d = _date_parts(day)
        dates = _asserted_spans(text, m.date_at, lambda x: x[:2] == (mo, d) and x[2] in (None, y), False)
        times = _asserted_spans(text, m.time_at, lambda x: x == hh * 60 + mm, False)
        times.sort()
        return any(bisect_right(times, a + 80) > bisect_right(times, a - 81) for a in dates)
    if k == "time":
        hh, mm = (int(x) for x in v.split(":"))
        return bool(_asserted_spans(text, m.time_at, lambda x: x == hh * 60 + mm, False))
    if k == "enum":
        return _enum_told(spec, text, frozenset(allowed))
    if k == "bool":
        return _has_phrase(text, v)
    if k == "ref":
        return _has_token(text, v)
    return _has_phrase(text, v)


def hedged(spec: AnswerSpec, text: str, m: Optional[Mentions] = None, expected_of_kind: int = 1) -> bool:
    """Does `text` list candidates instead of answering (so that stating the value proves nothing)?"""
    m = m or read_values(text)
    k = spec.kind
    if k == "enum" and spec.values:
        r = reading(text)
        said = {v for (v, s, e) in _enum_mentions(text, spec.values) if not any(w in NEGATORS for w in r.before(s))}
        return len(said) == len(spec.values) or len(said) > 2 * expected_of_kind
    if k == "bool":
        return _has_phrase(text, "yes") and _has_phrase(text, "no")
    if k == "int":
        return len(set(m.numbers)) > HEDGE_SMALL * expected_of_kind
    if k == "money":
        return len(set(m.numbers)) > HEDGE_LARGE * expected_of_kind
    if k in ("date", "datetime"):
        return len({(mo, d, y) for (mo, d, y, _p) in m.dates}) > HEDGE_LARGE * expected_of_kind
    return False


def answers_told(specs: list[AnswerSpec], messages: Iterable[str]) -> list[str]:
    """The expected answers the messages do not tell (empty: all told)."""
    text = "\n".join(messages)
    m = read_values(text)
    kinds: dict[str, int] = {}
    expected: dict[tuple, set] = {}
    for s in specs:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
        expected.setdefault(s.values, set()).add(s.value)
    return [s.value for s in specs
            if not stated(s, text, m, expected.get(s.values, ())) or hedged(s, text, m, kinds[s.kind])]


# ----------------------------------------------------------------------------- refusal reasons

STOPWORDS = set("""
a an the this that these those it its is are was were be been being am do does did to of in on at by
for from with as or and but if then than so too very can could will would shall should may might must not no
only just yet also any some all each every such your you yours my me i we our us they them their he she his
her him there here what which who whom whose when where why how have has had get got make made because since
while into onto over under up down out off again please sorry unfortunately afraid unable able request
requested one ones thing anything nothing something new many much without instead rather need needs
needed require requires required
""".split())

# words people use for what a rule's error message says: each group reads as one term.
# Multi-word entries are matched as phrases (word by word, stemmed); the rest are stemmed.
SYNONYMS = [
    {"cancel", "void", "annul"},
    {"depart", "flown", "took off", "in the past", "already left", "has left", "flight left"},
    {"flight", "fly"},
    {"refund", "reimburse", "money back"},
    {"cover", "enough", "afford", "insufficient", "sufficient", "short", "less than", "not enough",
     "too low", "too expensive"},
    {"balance", "credit", "fund", "money", "gift card"},
    {"fare", "price", "cost", "ticket", "fee", "charge"},
    {"seat", "capacity", "full", "sold out", "fit", "room for"},
    {"too small", "small", "too many", "capacity", "bigger", "larger", "fit", "only holds", "not big enough",
     "room for"},
    {"left", "remain", "remaining"},
    {"limit", "cap", "maximum", "max", "allowance", "at most", "up to", "most"},
    {"at least", "minimum"},
    {"exceed", "over", "above", "beyond", "more than", "too many"},
    {"frozen", "freeze", "locked", "blocked", "suspended"},
    {"own", "owner", "belong", "yours", "someone else", "another customer", "different customer",
     "other customer", "not you", "not yours", "yourself", "your own", "co own", "holder", "hold",
     "you requested", "you raised", "you created", "you submitted"},
    {"see", "show", "view", "visible", "access", "share", "look up", "available to you", "list"},
    {"member", "membership", "tier"},
    {"pending", "not yet shipped", "not shipped"},
    {"deliver", "arrived", "received"},
    {"open", "active", "ongoing"},
    {"older", "ago", "too old", "expired", "window", "more than"},
    {"overlap", "clash", "conflict", "double booked", "already booked", "busy", "occupied",
     "existing booking"},
    {"manager", "supervisor", "boss", "report to", "reports to", "doesn't report", "not report"},
    {"report", "raise"},
    {"approve", "sign off", "authorize"},
    {"stock", "out of stock", "sold out", "inventory", "none left", "no stock", "no longer available",
     "unavailable"},
    {"organizer", "organiser", "host", "organized", "organised"},
    {"start", "begin", "under way", "underway", "began"},
    {"taken place", "take place", "took place", "in the past", "already happened", "already over",
     "already passed", "has passed", "past"},
    {"note", "resolution", "describe", "fix"},
    {"higher", "lower", "smaller number", "larger number", "downgrade"},
    {"route", "destination", "origin", "same route", "different route", "goes to", "flies to"},
    {"cabin", "class"},
    {"daily", "per day", "today", "each day"},
    {"local", "local time", "your time", "time zone"},
    {"advance", "ahead", "beforehand"},
    {"group", "team"},
    {"agent", "technician", "service agent"},
    {"complete", "done", "tick off", "mark done", "finish", "marked"},
    {"same", "identical", "nothing to change", "no change"},
    {"nobody", "no one", "yourself", "your own", "own"},
    {"vacation", "leave", "time off", "holiday"},
    {"number", "priority"},
]

# word forms the suffix rules do not reach: mapped to a base that is then stemmed like any word
IRREGULAR = {
    "cancellation": "cancel", "cancellations": "cancel", "cancellable": "cancel", "canceled": "cancel",
    "cancelled": "cancel", "canceling": "cancel", "cancelling": "cancel",
    "frozen": "freeze", "froze": "freeze", "unfrozen": "unfreeze", "flew": "fly", "flies": "fly",
    "flying": "fly", "sent": "send", "took": "take", "taken": "take", "organiser": "organizer",
    "children": "child", "people": "person", "bought": "buy", "visible": "see", "seen": "see",
    "shown": "show", "began": "begin", "begun": "begin", "paid": "pay", "held": "hold", "met": "meet",
    "ran": "run", "gone": "go", "went": "go", "left": "left", "described": "describe",
}
# words kept as they are: their suffix is not an inflection ("yours", "done") or it changes the
# meaning ("higher" is not "high", "older" is not "old")
PROTECTED = {
    "yours", "yourself", "ours", "theirs", "done", "refundable", "higher", "lower", "older", "bigger",
    "larger", "smaller", "later", "earlier", "flown", "news", "this", "less", "always", "process",
    "access", "address", "business", "class", "status", "during", "nothing", "something", "anything",
    "thing", "morning", "evening", "ceiling", "series",
}
_SUFFIXES = ("ations", "ation", "ating", "ated", "ates", "ments", "ment", "ures", "ure", "ings", "ing",
             "ied", "ies", "edly", "ed", "ers", "er", "ery", "es", "als", "al", "ly", "s")


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A light stemmer: the same function on both sides, so 'departed'/'departure'/'departs' meet.
    Suffixes come off until nothing changes ('delivered' -> 'deliver' -> 'deliv', like
    'delivery'), but never down to a function word ('notes' stays 'note', not 'not')."""
    if word in PROTECTED:
        return word
    w = IRREGULAR.get(word, word)
    if w in PROTECTED:
        return w
    for _ in range(5):
        s = _stem_once(w)
        if s == w or (len(s) <= 3 and s in STOPWORDS):
            break
        w = s
    return w


def _stem_once(w: str) -> str:
    """One step: a suffix off, else a doubled last consonant, else a final 'e'."""
    for suf in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            base = w[: -len(suf)]
            if suf in ("ied", "ies"):
                return base + "y"
            if suf == "es" and not re.search(r"(ss|x|ch|sh|z)$", base):
                return w[:-1]
            if suf == "s" and base.endswith("s"):  # "class", "process": no plural
                break
            return base
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        return w[:-1]
    if len(w) > 3 and w.endswith("e"):
        return w[:-1]
    return w


def stems(text: str) -> list[str]:
    return list(reading(text).stems)


def _canon(x: str) -> str:
    """A synonym as compared: a word's stem, a phrase's stems joined by spaces."""
    return " ".join(reading(x).stems)


_GROUPS = [frozenset(_canon(x) for x in g) for g in SYNONYMS]
_PHRASES = sorted({c for g in _GROUPS for c in g if " " in c}, key=lambda p: (-len(p.split()), -len(p)))
_GROUP_OF: dict[str, frozenset] = {}
for _g in _GROUPS:
    for _x in _g:
        _GROUP_OF[_x] = _GROUP_OF.get(_x, frozenset()) | _g
# words before a rule's term that make it a condition rather than a plain statement
_RULE_MODALS = frozenset("""only must can could may might should shall would will need needs require requires
required""".split()) | NEGATORS


def _widen(form: str) -> frozenset:
    return _GROUP_OF.get(form, frozenset({form}))


@dataclass
class Said:
    """Where a reply states each stem and synonym phrase: word indices, with flags."""

    r: Reading
    at: dict[str, list[int]]  # form -> indices of the words where it starts
    hedged: list[bool]  # a hedge (may, might, could, either...) earlier in the clause
    negated: list[bool]  # a negation among the two words before ("is not frozen", "hasn't departed")
    present: list[bool]  # a present-tense '-s' form ("departs", "starts")

    def occurrences(self, term: frozenset, strict: bool = False, past: frozenset = frozenset()) -> list[int]:
        out = []
        for f in term:
            for i in self.at.get(f, ()):
                if self.hedged[i] or (strict and self.negated[i]) or (f in past and self.present[i]):
                    continue
                out.append(i)
        return out


def _find_phrases(r: Reading) -> list[tuple[str, int, int]]:
    """The synonym phrases in a reading, longest first, not overlapping, each inside one clause:
    (phrase, first word, word after the last)."""
    out: list[tuple[str, int, int]] = []
    if len(r.words) < 2:
        return out
    joined = " " + " ".join(r.stems) + " "
    offsets, pos = [], 0  # where each word's leading space is in `joined`
    for st in r.stems:
        offsets.append(pos)
        pos += len(st) + 1
    taken = [False] * len(r.words)
    for p in _PHRASES:
        k = joined.find(f" {p} ")
        while k >= 0:
            i = bisect_right(offsets, k) - 1
            j = i + p.count(" ") + 1
            if not any(taken[i:j]) and r.clauses[i] == r.clauses[j - 1]:
                out.append((p, i, j))
                for x in range(i, j):
                    taken[x] = True
            k = joined.find(f" {p} ", k + 1)
    return out


@lru_cache(maxsize=1024)
def _said(text: str) -> Said:
    r = reading(text)
    n = len(r.words)
    at: dict[str, list[int]] = {}
    inside = [False] * n
    for p, i, j in _find_phrases(r):
        at.setdefault(p, []).append(i)
        for x in range(i, j):
            inside[x] = True
    for i, st in enumerate(r.stems):
        if not inside[i]:  # a word of a phrase ("same" in "same route") is not said on its own
            at.setdefault(st, []).append(i)
    hedged, negated, present = [False] * n, [False] * n, [False] * n
    for i in range(n):
        c = r.clauses[i]
        hedged[i] = i > 0 and r.clauses[i - 1] == c and (hedged[i - 1] or r.words[i - 1] in HEDGES)
        negated[i] = any(r.words[j] in NEGATORS for j in range(max(0, i - 2), i) if r.clauses[j] == c)
        w = r.words[i]
        present[i] = (len(w) > 4 and w.endswith("s") and not w.endswith("ss") and w not in PROTECTED
                      and not w.endswith(("ures", "ions", "ments")))
    return Said(r, at, hedged, negated, present)


def _terms(text: str, skip: set[str]) -> list[frozenset]:
    """The key terms of a text: the synonym phrases it contains ("taken place", "out of stock"),
    then its other content stems, each widened to the synonyms people use."""
    return [t.forms for t in _rule_terms(text, frozenset(skip))]


AUXILIARIES = frozenset("is are was were be been has have had does do did can could may might must shall should "
                        "will would".split())


@dataclass
class Term:
    """One key term of a rule: its forms (stems and stemmed phrases, synonyms included), where it
    occurs in the message, and - for a list - its items."""

    forms: frozenset
    at: list[int]
    items: list[frozenset] = field(default_factory=list)
    strict: bool = False  # asserted outright (a predicate, no 'only', modal or negation before it)
    past: frozenset = frozenset()  # its forms the rule gives in the past tense ("departed")
    allowed: bool = False  # named by "only": who or what alone may (a reply must name it or a fact)


PAST_FORMS = frozenset("""flown flew frozen froze sent took taken began begun left paid held gone went met ran
bought seen shown done""".split())


def _past(word: str) -> bool:
    return word.endswith("ed") or word in PAST_FORMS


@lru_cache(maxsize=512)
def _rule_terms(text: str, skip: frozenset, action: frozenset = frozenset(),
                generic: frozenset = frozenset()) -> list[Term]:
    """A rule message's terms in order: phrases first, then content words; words listed with
    commas and a final 'and'/'or' ("accounts, cards, transfers and disputes") make one term."""
    r = reading(text)
    n = len(r.words)
    slot: list[Optional[str]] = [None] * n  # the form that word i starts; "" inside a phrase
    for p, i, j in _find_phrases(r):
        slot[i] = p
        for x in range(i + 1, j):
            slot[x] = ""
    for i, st in enumerate(r.stems):
        if slot[i] is None:
            w = r.words[i]
            slot[i] = None if (w in skip or st in skip or len(st) < 2 or w[0].isdigit()) else st
    content = [i for i in range(n) if slot[i]]
    low = text.lower()
    runs: list[list[int]] = []
    k = 0
    while k < len(content):
        run, conj = [content[k]], False
        while k + 1 < len(content):
            a, b = run[-1], content[k + 1]
            between = r.words[a + 1:b]
            gap = low[r.ends[a]:r.starts[b]].strip()
            if between in (["and"], ["or"]) and gap.strip(" ,") in ("and", "or"):
                run.append(b)
                conj = True
                k += 1
            elif not between and gap == "," and not conj:
                run.append(b)
                k += 1
            else:
                break
        if conj:
            runs.append(run)
        k += 1
    listed = {i: run for run in runs for i in run}

    def widen(form: str) -> frozenset:
        return frozenset(x for x in _widen(form) if x not in skip) or frozenset({form})

    out: list[Term] = []
    by_forms: dict[frozenset, Term] = {}
    for i in content:
        if i in listed:
            if listed[i][0] != i:
                continue
            items = [widen(slot[j]) for j in listed[i]]
            term = Term(frozenset().union(*items), list(listed[i]), items)
        else:
            term = Term(widen(slot[i]), [i])
        if term.forms in by_forms:
            by_forms[term.forms].at += term.at
        else:
            by_forms[term.forms] = term
            out.append(term)
    # a word after the rule's first verb, with no 'only', modal or negation before it in its
    # clause, is asserted outright: "the card is not frozen" denies "cards stay frozen"
    for t in out:
        for i in t.at:
            c = r.clauses[i]
            before = [r.words[j] for j in range(i) if r.clauses[j] == c]
            if any(w in AUXILIARIES for w in before) and not any(w in _RULE_MODALS for w in before):
                t.strict = True
    # "only" before a noun ("only pending orders", "only the organizer") names who or what alone may
    for k in range(n - 1):
        if r.words[k] != "only" or (k and r.words[k - 1] in AUXILIARIES):
            continue
        j = k + 1
        if r.words[j] in ("the", "a", "an"):
            j += 1
        while j < n and slot[j] is None and r.words[j] in generic:
            j += 1
        t = next((t for t in out if j in t.at), None)
        while t is not None and t.forms & action and j + 1 < n:  # "only change managers"
            j += 1
            t = next((t for t in out if j in t.at), None)
        if t is not None and r.clauses[j] == r.clauses[k]:
            t.allowed = True
    # a verb the rule gives in the past ("has departed") is not stated by its present ("departs")
    for t in out:
        t.past = frozenset(slot[i] for i in t.at if any(_past(w) for w in r.words[i:i + 1 + slot[i].count(" ")]))
    # "already ... this/that <thing>" means the request changes nothing: "same" says it too
    for t in out:
        if t.forms == frozenset({"already"}):
            i = t.at[0]
            if any(r.words[j] in ("this", "that") and r.clauses[j] == r.clauses[i] for j in range(i + 1, n)):
                t.forms = t.forms | _widen(stem("same"))
    return out


def _said_terms(text: str) -> set[str]:
    """The stems a text states, plus the multi-word synonyms it contains ("took off")."""
    return set(_said(text).at)


def useful_fact(text: str) -> bool:
    """A value worth looking for in a reply: not a flag or a tiny number that any text contains."""
    return len(text) >= 3 and text.lower() not in {"none", "yes", "true", "false", "n/a", "other"}


def _is_id(fact: str) -> bool:
    """A record id (CUS482019, mtg_33017, E40912): letters and digits, no spaces."""
    return re.fullmatch(r"[A-Za-z][A-Za-z_-]*\d[\w-]*", fact) is not None


@lru_cache(maxsize=1024)
def _values(text: str) -> Mentions:
    """`read_values`, once per text (the refusal reader asks for the same reply's values often)."""
    return read_values(text)


def _tiny_facts_said(facts: list[str], text: str) -> bool:
    """Tiny numbers prove nothing one by one, but a reply stating every one of them (two or more:
    "it needs 6 days and she has just 2") has found the failing values."""
    tiny = {Decimal(f) for f in facts if re.fullmatch(r"\d{1,2}", f)}
    return len(tiny) >= 2 and tiny <= set(_values(text).numbers)


def fact_said(fact: str, text: str) -> bool:
    """Does `text` state the value `fact` (and not deny it: "not frozen")? Numbers, dates and
    times are read as values ("2026-12-21 10:00" is said by "December 21"), ids as tokens."""
    if re.fullmatch(r"-?\d+(\.\d+)?", fact):
        try:
            want = Decimal(fact)
        except InvalidOperation:  # pragma: no cover
            return False
        return any(v == want for v in _values(text).numbers)
    fv = _values(fact)
    if fv.dates:
        said = _values(text)
        return any(_date_said(said, f"{y or 2000:04d}-{mo:02d}-{d:02d}") if y else
                   any((m2, d2) == (mo, d) for (m2, d2, _y, _p) in said.dates)
                   for (mo, d, y, _p) in fv.dates)
    if _is_id(fact):
        return _has_token(text, fact)
    r = reading(text)
    for x in _phrase_rx(fact).finditer(text):
        if not any(w in NEGATORS for w in r.before(x.start())):
            return True
    return False


_VALUE_WORDS = frozenset({"tim", "dat"})
READ_VERBS = frozenset({"get", "list", "find", "show", "view", "search", "look", "read", "fetch"})


@dataclass
class ToolRules:
    """The requirements of one tool as reasons a person can give. Each rule's key terms are the
    content words of its error message (with synonyms); a term that several rules of the tool
    share, or that names the tool's own action ("cancel", "reservation"), weighs less, so a
    reply is credited for what tells this rule apart from the others."""

    errors: list[str]
    terms: list[list[frozenset]]
    weight: dict[frozenset, float]
    background: set[frozenset]  # terms naming the tool's action: no evidence for any one rule
    action: set[str] = field(default_factory=set)  # the action's stems
    parsed: list[list[Term]] = field(default_factory=list)
    figures: list[Mentions] = field(default_factory=list)  # the numbers, times and dates of each rule

    @staticmethod
    def of(errors: list[str], action: str = "", generic: Iterable[str] = ()) -> "ToolRules":
        skip = frozenset({stem(w) for w in STOPWORDS} | set(STOPWORDS) | set(NEGATORS)
                         | {stem(w) for w in generic} | set(generic))
        action_stems = set(stems(action))
        words = action.split()
        if words and words[0] in READ_VERBS:  # a tool that reads: seeing is its action
            action_stems |= _widen(stem("see"))
        parsed = [_rule_terms(e, skip, frozenset(action_stems), frozenset(generic)) for e in errors]
        terms = [[t.forms for t in rule] for rule in parsed]
        weight: dict[frozenset, float] = {}
        background = set()
        for rule in parsed:
            for t in rule:
                df = sum(1 for other in terms if any(t.forms & u for u in other))
                acts = bool(t.forms & action_stems)
                weight[t.forms] = (0.5 if acts else 1.0) / df
                if acts:
                    background.add(t.forms)
        figures = []
        for e in errors:
            # "one" after an article or adjective is a pronoun ("the current one"), no figure
            f = read_values(re.sub(r"\b(the|this|that|which|each|every|any|current|new|same)(\s+)one\b", r"\1\2   ",
                                   e, flags=re.I))
            figures.append(f)
        return ToolRules(list(errors), terms, weight, background, action_stems, parsed, figures)

    # -- what a reply states

    def _states(self, i: int, t: Term, s: Said, item: Optional[frozenset] = None) -> bool:
        """Does the reply state term t of rule i (for a list, its item `item` if given)?"""
        occ = s.occurrences(item or t.forms, strict=t.strict, past=t.past)
        if not occ:
            # a rule's "time" is stated by a clock time, its "date" by a date ("booked from 3 PM")
            m = _values(s.r.text) if t.forms & _VALUE_WORDS else None
            return bool(m and ((t.forms & {"tim"} and m.times) or (t.forms & {"dat"} and m.dates)))
        if "already" in t.forms:
            # "already" says something only next to what it modifies: another term of the rule later
            # in its clause ("already departed", "already been cancelled") or just before it
            plain = [k for k in occ if s.r.stems[k] == "already"]
            if len(plain) == len(occ):
                others = [u for u in self.parsed[i] if u is not t]
                return any((j > k or j == k - 1) and s.r.clauses[j] == s.r.clauses[k] for k in plain
                           for u in others for j in s.occurrences(u.forms))
        return True

    def _figures_said(self, i: int, text: str) -> Optional[bool]:
        f = self.figures[i]
        if not (f.numbers or f.times or f.dates):
            return None
        m = _values(text)
        return (bool(set(f.numbers) & set(m.numbers)) or bool({t for t, _p in f.times} & {t for t, _p in m.times})
                or bool({(mo, d) for (mo, d, _y, _p) in f.dates} & {(mo, d) for (mo, d, _y, _p) in m.dates}))

    def _stated_terms(self, i: int, text: str, facts: list[str]) -> list[tuple[Term, float, bool]]:
        """Rule i's terms that count (not the action's, unless nothing else is left), with their
        weights and whether the reply states them. A list naming a failing value ("laptop and
        badge" when the laptop step is open) is stated only by naming that value."""
        s = _said(text)
        fact_stems = [set(stems(f)) for f in facts]
        out = []
        for t in self.parsed[i]:
            item = next((it for it in t.items for fs in fact_stems if fs & it), None)
            w = self.weight[t.forms]
            if item is not None:  # weighed as the item: what the other rules say of it
                w = 1.0 / sum(1 for other in self.terms if any(item & u for u in other))
            if t.forms in self.background and (item is None or item & self.action):
                continue
            out.append((t, w, self._states(i, t, s, item)))
        if not out:
            out = [(t, self.weight[t.forms], self._states(i, t, s)) for t in self.parsed[i]]
        return out

    def _facts(self, i: int, facts: Iterable[str]) -> tuple[list[str], list[str]]:
        """The useful facts, and those of them that are evidence of their own: not words of the
        rule's message ("cancelled" for "this flight is cancelled") or of another rule's."""
        facts = [f for f in facts if useful_fact(f)]
        rules = [{f for t in terms for f in t} for terms in self.terms]
        rules[i] |= self.action
        return facts, [f for f in facts if not any(set(stems(f)) <= words for words in rules)]

    def score(self, i: int, text: str, facts: Iterable[str] = ()) -> float:
        """How fully `text` gives rule i as the reason: the weighted share of its key terms it
        states - leaving out words naming the tool's action, which any refusal says - with the
        figures of the rule as one more term, and the values that made it fail as one more when
        the reply names one. 0 for an "only X" rule when the reply names neither X nor a value."""
        facts_all = list(facts)
        facts, own_facts = self._facts(i, facts_all)
        stated = self._stated_terms(i, text, facts)
        total = sum(w for _t, w, _ok in stated)
        got = sum(w for _t, w, ok in stated if ok)
        fig = self._figures_said(i, text)
        if fig is not None:
            total += 1.0
            got += 1.0 if fig else 0.0
        said = any(fact_said(f, text) for f in own_facts) or _tiny_facts_said(facts_all, text)
        allowed = [t for t in self.parsed[i] if t.allowed]
        if allowed and not said and not any(self._states(i, t, _said(text)) for t in allowed):
            return 0.0  # "only managers can ...": not given without the managers or a failing value
        if said:
            total += FACT_WEIGHT
            got += FACT_WEIGHT
        return got / total if total else 0.0

    def explain(self, i: int, text: str, facts: Iterable[str] = ()) -> str:
        """The score with each term, its weight and whether it is stated (for debugging)."""
        facts, own_facts = self._facts(i, facts)
        parts = [f"{sorted(t.forms)[0]}:{w:.2f}{'+' if ok else '-'}{'!' if t.strict else ''}"
                 for t, w, ok in self._stated_terms(i, text, facts)]
        fig = self._figures_said(i, text)
        if fig is not None:
            parts.append(f"#figures{'+' if fig else '-'}")
        parts.append("facts:" + ",".join(f"{f}{'+' if fact_said(f, text) else '-'}" for f in own_facts))
        return f"{self.score(i, text, facts):.2f} " + " ".join(parts)

    def _own(self, j: int, i: int) -> list[Term]:
        """Rule j's terms that rule i does not share (nor the action)."""
        return [t for t in self.parsed[j] if t.forms not in self.background
                and not any(t.forms & u for u in self.terms[i])]

    def claims(self, j: int, failing: int, text: str, facts: Iterable[str] = ()) -> bool:
        """Does `text` give rule j as a reason, judged only on what tells j apart from the rule
        that failed and from the tool's action (so "the flight has already departed" does not
        claim "the reservation is already cancelled" by saying 'reservation' and 'already')?
        With two or more such terms, stating `CLAIM_SHARE` of them claims j. With one (or none:
        j says less than the failing rule), stating it (all of j) claims j only when the reply
        states nothing that tells the failing rule apart from j - neither its own terms nor a
        failing value. Reasons of both joined by 'or' are a guess between them: a claim too."""
        s = _said(text)
        own = self._own(j, failing)
        mine = self._own(failing, j)
        if self._either(s, own, mine):
            return True
        if len(own) >= 2:
            said = [t for t in own if self._states(j, t, s)]
            return sum(self.weight[t.forms] for t in said) / sum(self.weight[t.forms] for t in own) >= CLAIM_SHARE
        core = own or [t for t in self.parsed[j] if t.forms not in self.background]
        if not core or not mine or not all(self._states(j, t, s) for t in core):
            return False
        _facts, own_facts = self._facts(failing, facts)
        return not any(self._states(failing, t, s) for t in mine) and not any(fact_said(f, text) for f in own_facts)

    @staticmethod
    def _either(s: Said, own: list[Term], mine: list[Term]) -> bool:
        """Are an own term of the other rule and one of the failing rule joined by 'or' (six
        words either side: "it's too small or already booked")?"""
        ors = [k for k, w in enumerate(s.r.words) if w == "or"]
        if not ors or not own or not mine:
            return False
        theirs = sorted({o for t in own for o in s.occurrences(t.forms)})
        ours = sorted({o for t in mine for o in s.occurrences(t.forms)})

        def near(occ: list[int], a: int, b: int) -> bool:  # an occurrence in [a, b)
            x = bisect_right(occ, a - 1)
            return x < len(occ) and occ[x] < b

        return any((near(theirs, k - 6, k) and near(ours, k + 1, k + 7))
                   or (near(ours, k - 6, k) and near(theirs, k + 1, k + 7)) for k in ors)


REASON_SHARE = 0.45  # weighted share of a rule's key terms a reply must state to give it as the reason
CLAIM_SHARE = 0.6  # share of another rule's own terms that makes a reply claim that rule too
FACT_WEIGHT = 1.0  # weight of the failing values, as one term


def reason_given(rules: ToolRules, failing: int, facts: Iterable[str], held: Iterable[int],
                 messages: Iterable[str]) -> bool:
    """Does some message give rule `failing` as the reason, without also claiming a rule of the
    same tool that in fact held (`held`: their indices)?"""
    text = "\n".join(messages)
    facts = list(facts)
    if not text.strip() or rules.score(failing, text, facts) < REASON_SHARE:
        return False
    return not any(j != failing and rules.claims(j, failing, text, facts) for j in held)


def answer_kind(t: Optional[T.VType]) -> tuple[str, tuple[str, ...]]:
    if t is None:
        return "str", ()
    if t.kind == "enum":
        return "enum", tuple(t.values)
    return t.kind, ()
