"""What counts as telling the user: answers in the formats people use, refusals in own words.

A task's reward is final-state match x everything the user must be told was told. Matching the
expected text as a substring (what tau2-bench does) is unfair both ways: "November 25, 2026"
fails where "2026-11-25" passes, "can't" fails where "cannot" passes, and a short id passes
inside a date or a price. Here the agent's messages are read for typed values instead:

- An **answer** is told when a message states its value in any common form - dates ISO or
  written out ("Nov 25", "25 November 2026"), money with or without "$", commas and trailing
  zeros, times as 14:00 or 2 PM, enum values with spaces or hyphens, ids and numbers as whole
  tokens - and the messages do not hedge by listing candidates (every value of an enum, more
  than `HEDGE_SMALL` whole numbers, more than `HEDGE_LARGE` amounts or dates).
- A **refusal** is explained when a message gives the failing rule's reason: enough of the key
  terms of its error message (inflections, contractions and common synonyms count) or of the
  values that made it fail, and it does not also claim the reason of another rule of that tool
  which in fact held (naming every rule to be safe is not an explanation).

This is a lexical reader with a synonym table, not a language model: it is deterministic,
explainable and checked against a corpus of human-judged replies (tests/data/replies/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Iterable, Optional

from . import types as T

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
_NUMBER = re.compile(r"(?<![\w.,/#:$-])(?:(?:USD|US\$)\s*)?(\$\s*)?(-\s*)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w]|[.,]\d)")
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


def read_values(text: str) -> Mentions:
    m = Mentions()
    masked = list(text)

    def mask(a: int, b: int) -> None:
        masked[a:b] = " " * (b - a)

    for x in _ISO_DATE.finditer(text):
        m.dates.append((int(x.group(2)), int(x.group(3)), int(x.group(1)), x.start()))
        mask(x.start(), x.end())
    for rx, mi, di in ((_MONTH_DAY, 1, 2), (_DAY_MONTH, 2, 1)):
        for x in rx.finditer("".join(masked)):
            month = MONTHS[x.group(mi).lower().rstrip(".")]
            m.dates.append((month, int(x.group(di)), int(x.group(3)) if x.group(3) else None, x.start()))
            mask(x.start(), x.end())
    for x in _CLOCK.finditer("".join(masked)):
        hour, minute = int(x.group(1)), int(x.group(2))
        if x.group(3):
            if hour > 12:
                continue
            hour = hour % 12 + (12 if x.group(3).lower() == "p" else 0)
        m.times.append((hour * 60 + minute, x.start()))
        mask(x.start(), x.end())
    for x in _HOUR_AMPM.finditer("".join(masked)):
        hour = int(x.group(1)) % 12 + (12 if x.group(2).lower() == "p" else 0)
        m.times.append((hour * 60, x.start()))
        mask(x.start(), x.end())
    for x in _NOON.finditer("".join(masked)):
        m.times.append((0 if x.group(1).lower() == "midnight" else 12 * 60, x.start()))
    rest = "".join(masked)
    for x in _NUMBER.finditer(rest):
        digits = x.group(3).replace(",", "") + (x.group(4) or "")
        try:
            value = Decimal(digits)
        except InvalidOperation:  # pragma: no cover - the pattern only admits digits
            continue
        m.numbers.append(-value if x.group(2) else value)
    for x in _NUMBER_WORD.finditer(rest):
        m.numbers.append(Decimal(NUMBER_WORDS[x.group(1).lower()]))
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


def _has_token(text: str, token: str) -> bool:
    """An id as a whole token, case as written; a leading '#' may be left out."""
    core = token.lstrip("#")
    if not core:
        return False
    return re.search(r"(?<![A-Za-z0-9_])#?" + re.escape(core) + r"(?![A-Za-z0-9_])", text) is not None


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


def stated(spec: AnswerSpec, text: str, m: Optional[Mentions] = None) -> bool:
    """Does `text` state the value (hedging aside)?"""
    m = m or read_values(text)
    k, v = spec.kind, spec.value
    if k in ("int", "money"):
        try:
            want = Decimal(v)
        except InvalidOperation:
            return False
        return any(x == want for x in m.numbers)
    if k == "date":
        return bool(_date_said(m, v))
    if k == "datetime":
        day, _, hm = v.partition(" ")
        hh, mm = (int(x) for x in hm.split(":"))
        times = [pos for (t, pos) in m.times if t == hh * 60 + mm]
        return any(abs(a - b) <= 80 for a in _date_said(m, day) for b in times)
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
        said = {x for x in spec.values if _has_phrase(text, x)}
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
    for s in specs:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    return [s.value for s in specs if not stated(s, text, m) or hedged(s, text, m, kinds[s.kind])]


# ----------------------------------------------------------------------------- refusal reasons

STOPWORDS = set("""
a an the this that these those it its is are was were be been being am do does did to of in on at by
for from with as or and but if then than so too very can could will would shall should may might must not no
only just yet also any some all each every such same your you yours my me i we our us they them their he she his
her him there here what which who whom whose when where why how have has had get got make made because since
while into onto over under up down out off again please sorry unfortunately afraid unable able request
requested one ones thing anything nothing something new
""".split())

# words people use for what a rule's error message says: each group reads as one term.
# Multi-word entries are matched as phrases; the rest are stemmed like the text.
SYNONYMS = [
    {"cancel", "void", "annul"},
    {"depart", "flown", "took off", "in the past", "already left", "has left", "flight left"},
    {"refund", "reimburse", "money back"},
    {"cover", "enough", "afford", "insufficient", "sufficient", "short", "less than", "not enough"},
    {"balance", "credit", "fund", "money", "gift card"},
    {"fare", "price", "cost", "ticket", "fee", "charge"},
    {"seat", "capacity", "full", "sold out", "fit", "room for"},
    {"too small", "small", "too many", "capacity", "bigger", "larger", "fit", "only holds", "holds only",
     "not big enough", "room for", "seats only"},
    {"limit", "cap", "maximum", "max", "allowance", "at most", "up to", "most"},
    {"exceed", "over", "above", "beyond", "more than", "too many"},
    {"frozen", "freez", "locked", "blocked", "suspended"},
    {"own", "owner", "belong", "yours", "someone else", "another customer", "different customer",
     "other customer", "not you", "not yours", "yourself", "your own", "co own", "holder", "hold"},
    {"see", "show", "view", "visible", "access", "share", "look up", "available to you", "list"},
    {"member", "membership", "tier"},
    {"pending", "not yet shipped", "not shipped"},
    {"deliver", "arrived", "received"},
    {"open", "active", "ongoing"},
    {"older", "ago", "too old", "expired", "window", "more than"},
    {"overlap", "clash", "conflict", "double book", "already booked", "busy", "occupied", "booked at",
     "existing booking", "another meeting"},
    {"manager", "supervisor", "boss", "report to", "reports to", "doesn't report", "not report"},
    {"approve", "sign off", "authorize"},
    {"stock", "out of stock", "sold out", "inventory", "none left", "no stock", "no longer available",
     "unavailable"},
    {"organizer", "organiser", "host", "organized", "organised"},
    {"start", "begin", "under way", "underway", "in progress", "already started", "began"},
    {"taken place", "take place", "took place", "in the past", "already happened", "already over",
     "already passed", "has passed", "past"},
    {"note", "resolution", "describ", "fix"},
    {"higher", "lower", "escalat", "smaller number", "downgrade", "raise"},
    {"route", "destination", "origin", "same route", "different route", "goes to"},
    {"cabin", "class"},
    {"daily", "per day", "a day", "today", "each day"},
    {"group", "queue", "team"},
    {"agent", "technician", "service agent"},
    {"complete", "done", "tick off", "ticked off", "mark done", "finish", "marked"},
    {"same", "identical", "nothing to change", "no change"},
    {"need", "requir", "must", "have to", "has to", "without"},
    {"nobody", "no one", "yourself", "your own", "own"},
    {"vacation", "leave", "time off", "holiday"},
    {"number", "priority"},

    {"new hire", "own onboarding", "your own onboarding"},
]

IRREGULAR = {
    "cancelled": "cancel", "canceled": "cancel", "cancelling": "cancel", "canceling": "cancel",
    "cancellation": "cancel", "cancellations": "cancel", "cancellable": "cancel", "frozen": "freez",
    "froze": "freez", "flew": "flown", "sent": "send", "took": "take", "taken": "take", "done": "done",
    "organiser": "organizer", "children": "child", "people": "person", "bought": "buy",
    "booked": "book", "booking": "book", "bookings": "book", "bags": "bag", "delivered": "deliver",
    "refundable": "refundable", "visible": "see", "owns": "own", "owned": "own", "owner": "owner",
    "seen": "see", "shown": "show", "began": "begin", "begun": "begin", "yours": "yours",
    "yourself": "yourself", "ours": "ours", "theirs": "theirs",
}


def stem(word: str) -> str:
    """A light stemmer: the same function on both sides, so 'departed'/'departure'/'departs' meet."""
    w = IRREGULAR.get(word, word)
    if w != word:
        return w
    for suf in ("ations", "ation", "ures", "ure", "ings", "ing", "ied", "ies", "edly", "ed", "ers", "er", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            base = w[: -len(suf)]
            if suf in ("ied", "ies"):
                base += "y"
            elif suf == "es" and not re.search(r"(ss|x|ch|sh|z)$", base):
                base = w[:-1]
            w = base
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def _normalize_words(text: str) -> str:
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"\bcan'?t\b|\bcannot\b", "can not", t)
    t = re.sub(r"\bwon't\b", "will not", t)
    t = re.sub(r"n't\b", " not", t)
    t = re.sub(r"'(s|re|ve|ll|d)\b", " ", t)
    t = re.sub(r"\bnon(?=[a-z]{4})", "non ", t)
    return re.sub(r"[^a-z0-9]+", " ", t).strip()


def stems(text: str) -> list[str]:
    return [stem(w) for w in _normalize_words(text).split() if w]


def _canon(x: str) -> str:
    return x if " " in x else stem(x)


_GROUPS = [frozenset(_canon(x) for x in g) for g in SYNONYMS]


_PHRASES = sorted({x for g in SYNONYMS for x in g if " " in x}, key=len, reverse=True)


def _terms(text: str, skip: set[str]) -> list[frozenset]:
    """The key terms of a text: the synonym phrases it contains ("taken place", "out of stock"),
    then its other content stems, each widened to the synonyms people use."""
    out: list[frozenset] = []

    def add(term: frozenset) -> None:
        if term not in out:
            out.append(term)

    padded = f" {_normalize_words(text)} "
    for p in _PHRASES:
        if f" {p} " in padded:
            add(frozenset().union(*[g for g in _GROUPS if p in g]))
            padded = padded.replace(f" {p} ", " | ")
    for w in padded.split():
        s = stem(w)
        if w == "|" or s in skip or s.isdigit() or len(s) < 3:
            continue
        groups = [g for g in _GROUPS if s in g]
        add(frozenset().union(*groups) if groups else frozenset({s}))
    return out


def _said_terms(text: str) -> set[str]:
    """The stems a text states, plus the multi-word synonyms it contains ("took off")."""
    said = set(stems(text))
    padded = f" {_normalize_words(text)} "
    for g in SYNONYMS:
        said |= {x for x in g if " " in x and f" {x} " in padded}
    return said


def useful_fact(text: str) -> bool:
    """A value worth looking for in a reply: not a flag or a tiny number that any text contains."""
    return len(text) >= 3 and text.lower() not in {"none", "yes", "true", "false", "n/a", "other"}


def fact_said(fact: str, text: str) -> bool:
    if re.fullmatch(r"-?\d+(\.\d+)?", fact):
        try:
            return Decimal(fact) in read_values(text).numbers
        except InvalidOperation:  # pragma: no cover
            return False
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", fact):
        return bool(_date_said(read_values(text), fact))
    if re.fullmatch(r"[A-Za-z]*\d[\w#-]*", fact):
        return _has_token(text, fact)
    return _has_phrase(text, fact)


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

    @staticmethod
    def of(errors: list[str], action: str = "", generic: Iterable[str] = ()) -> "ToolRules":
        skip = {stem(w) for w in STOPWORDS} | {stem(w) for w in generic}
        terms = [_terms(e, skip) for e in errors]
        action_stems = set(stems(action))
        weight: dict[frozenset, float] = {}
        background = set()
        for rule in terms:
            for t in rule:
                df = sum(1 for other in terms if t in other)
                weight[t] = (0.5 if t & action_stems else 1.0) / df
                if t & action_stems:
                    background.add(t)
        return ToolRules(list(errors), terms, weight, background, action_stems)

    def score(self, i: int, text: str, facts: Iterable[str] = ()) -> float:
        """How fully `text` gives rule i as the reason: the weighted share of its key terms it
        states - leaving out words naming the tool's action, which any refusal says - with the
        values that made it fail counting as one more term once the text names something else."""
        said = _said_terms(text)
        terms = [t for t in self.terms[i] if t not in self.background] or self.terms[i]
        total = sum(self.weight[t] for t in terms)
        got = sum(self.weight[t] for t in terms if t & said)
        facts = [f for f in facts if useful_fact(f)]
        if facts:
            total += 1.0
            # a failing value counts once the text names something besides the action - or when
            # it is itself telling ("delivered"), not an echo of the action ("cancelled")
            said_facts = [f for f in facts if fact_said(f, text)]
            if said_facts and (got or any(not (set(stems(f)) & self.action) for f in said_facts)):
                got += 1.0
        return got / total if total else 0.0

    def claims(self, j: int, failing: int, text: str) -> bool:
        """Does `text` give rule j as a reason, judged only on what tells j apart from the rule
        that failed and from the tool's action (so "the flight has already departed" does not
        claim "the reservation is already cancelled" by saying 'reservation' and 'already')?
        One term alone is too little evidence to hold against a reply."""
        own = set(self.terms[j]) - set(self.terms[failing]) - self.background
        if len(own) < 2:
            return False
        said = _said_terms(text)
        total = sum(self.weight[t] for t in own)
        return sum(self.weight[t] for t in own if t & said) / total >= CLAIM_SHARE


REASON_SHARE = 0.45  # weighted share of a rule's key terms a reply must state to give it as the reason
CLAIM_SHARE = 0.6  # share of another rule's own terms that makes a reply claim that rule too


def reason_given(rules: ToolRules, failing: int, facts: Iterable[str], held: Iterable[int],
                 messages: Iterable[str]) -> bool:
    """Does some message give rule `failing` as the reason, without also claiming a rule of the
    same tool that in fact held (`held`: their indices)?"""
    text = "\n".join(messages)
    if not text.strip() or rules.score(failing, text, list(facts)) < REASON_SHARE:
        return False
    return not any(j != failing and rules.claims(j, failing, text) for j in held)


def answer_kind(t: Optional[T.VType]) -> tuple[str, tuple[str, ...]]:
    if t is None:
        return "str", ()
    if t.kind == "enum":
        return "enum", tuple(t.values)
    return t.kind, ()
