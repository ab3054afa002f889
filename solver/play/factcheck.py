"""Is a rewrite of the user's request faithful to it? The fact check a paraphrase must pass.

`envsynth paraphrase` asks a model to reword each task's instruction for variety; a rewrite is
kept only if it says the same things: every value the user states is still there, in a form
people accept, and nothing new is asserted. The values are read with the recognisers the scoring
uses for the agent's messages (`scoring.read_values`), so "Nov 25" states 2026-11-25, "$35"
states 35.00 and "two bags" states 2, and ids are whole tokens. Compared, original against
rewrite, in both directions:

- **dates** (month and day; a year, when both give one, must agree), **times of day**;
- **numbers and amounts** as values ("one" aside - it is a pronoun as often as a number);
- **ids** (letters with digits: usr_68110, #W357285, CHG43395) and **codes** (ATL, SLA) as
  tokens; the ids the task's records use (`Facts.ids`) exactly as written, '#' included, since
  an agent must be able to copy them;
- **emails**; **names**: capitalised words inside a sentence, and every listed value of the
  domain (first names, room names, enum choices like "economy", "frozen", "pending") as a phrase;
- **qualifiers** of a description, as concepts with their synonyms: cheapest / lowest, largest /
  biggest, earliest / first / soonest, most recent / latest / last, next / upcoming, only,
  still, at least, today..., and the states a description narrows by (active, in stock...);
- **negation and exclusion** ("not", "n't", "no", "without", "except", "leaving out"): as many in
  the rewrite as in the original, so "(not a cancelled one)" may become "excluding cancelled
  ones" but a request is never negated and an exclusion never dropped;
- **actions**: the verbs of the domain's tools that change something (cancel, book, freeze...).

A check is lexical and conservative: it rejects some faithful rewrites (a verb swapped for a
synonym, a sentence-initial name it cannot tell from a greeting is never an added name unless the
domain lists it) rather than keep an unfaithful one. `fact_check` is a pure function of the two
texts and the task's `Facts`; `task_facts` builds those from a task and its spec.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from ..spec.model import Domain
from ..tasks.model import Task
from .scoring import MONTHS, READ_VERBS, fact_said, read_values, reading


@dataclass(frozen=True)
class Facts:
    """What a task's user states, beyond what the text itself shows."""

    values: tuple[str, ...] = ()  # the stated values as stored (user.facts): ids, dates, amounts, names, choices
    ids: tuple[str, ...] = ()  # record ids among them: kept exactly as written
    vocabulary: tuple[str, ...] = ()  # every listed value of the domain (enum choices, names): kept and not added
    actions: tuple[str, ...] = ()  # verbs of the domain's tools that change something


# ----------------------------------------------------------------------------- what a text states

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_ID = re.compile(r"(?<![\w@.#/-])#?([A-Za-z][A-Za-z_-]*\d[\w-]*)(?![\w@])")
_LEADING_ZERO = re.compile(r"(?<![\w.,$#-])(0\d{3,})(?![\w]|[.,]\d)")  # account numbers, zip codes: tokens
_CODE = re.compile(r"(?<![\w@.#-])([A-Z]{2,6})(?![\w-])")
NOT_CODES = frozenset({"AM", "PM", "ID", "IDS", "OK", "USD", "ASAP", "FYI", "PS"})
_CAPITALISED = re.compile(r"(?<![\w@.'\u2019-])([A-Z][a-z][a-zA-Z]*)(?![\w@])")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n(\"\u201c\u2013\u2014]|\s-)\s*[\"'\u201c\u2018(]*$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# capitalised words that are not names wherever they stand (greetings, sign-offs)
COURTESY = frozenset("""hi hello hey dear thanks thank please cheers regards best sincerely good morning afternoon
evening sorry yes okay ok appreciate also could can would will""".split())

# qualifiers of a description: concept -> its spellings (after lower case, '-' and '_' as spaces)
QUALIFIERS: dict[str, tuple[str, ...]] = {
    "lowest": ("cheapest", "least expensive", "lowest priced", "lowest price", "lowest cost", "costs least",
               "costs the least", "least costly", "most affordable", "lowest", "least", "fewest", "minimum"),
    "highest": ("most expensive", "priciest", "highest priced", "costs the most", "costs most", "highest",
                "most", "greatest", "maximum", "richest", "max"),
    "largest": ("largest", "biggest", "most spacious", "roomiest"),
    "smallest": ("smallest", "tiniest", "littlest"),
    "earliest": ("earliest", "soonest", "first", "nearest", "closest"),
    "latest": ("most recent", "most recently", "latest", "last", "newest", "furthest out", "farthest out"),
    "oldest": ("oldest", "longest waiting", "least recent", "least recently"),
    "next": ("next", "upcoming", "coming up"),
    "priority": ("top priority", "highest priority", "most critical", "most urgent", "top"),
    "longest": ("longest",),
    "shortest": ("shortest",),
    "at least": ("at least", "no fewer than", "no less than", "or more"),
    "at most": ("at most", "no more than", "up to", "or fewer", "or less"),
    "only": ("only", "sole", "solely"),
    "still": ("still", "yet"),
    "already": ("already",),
    "every": ("every", "all", "each"),
    # states a description narrows by, where the spec has no listed value for them
    "active": ("active",), "operating": ("operating",), "completed": ("completed",),
    "unassigned": ("unassigned",), "in stock": ("in stock",), "regular": ("regular",),
    "today": ("today",), "tomorrow": ("tomorrow",), "yesterday": ("yesterday",), "tonight": ("tonight",),
}
# spellings that contain a qualifier word but qualify nothing
NOT_QUALIFIERS = ("first name", "last name", "first and last name", "first or last name", "at all",
                  "all set", "all the best", "thanks for all", "that is all", "that's all", "most of all",
                  "first of all", "all right", "last but not least")
_QUAL_RX = re.compile(r"(?<![a-z0-9])(" + "|".join(
    re.escape(s) for s in sorted([s for ss in QUALIFIERS.values() for s in ss] + list(NOT_QUALIFIERS),
                                 key=len, reverse=True)) + r")(?![a-z0-9])")
_QUAL_OF = {s: c for c, ss in QUALIFIERS.items() for s in ss}

NEGATIONS = frozenset({"not", "no", "never", "none", "nor", "neither", "without", "except", "excluding",
                       "exclude", "besides", "nothing", "nobody"})
NEGATION_PHRASES = ("other than", "leaving out", "leave out", "apart from", "aside from", "rather than",
                    "instead of")
NOT_NEGATIONS = ("no problem", "no worries", "no rush", "no hurry", "no doubt")


def _norm(text: str) -> str:
    """Lower case, '_' and '-' as spaces, curly quotes straight, 'canceled' as 'cancelled',
    'nonrefundable' as 'non refundable', single spaces: the form phrases are compared in."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("_", " ").replace("-", " ")
    t = re.sub(r"\bnon(?=[a-z]{4})", "non ", t)
    t = re.sub(r"\bcancel(?=ed\b|ing\b|ation)", "cancell", t)
    return re.sub(r"\s+", " ", t)


def _has(norm_text: str, phrase: str) -> bool:
    p = _norm(phrase).strip()
    return bool(p) and re.search(r"(?<![a-z0-9])" + re.escape(p) + r"(?![a-z0-9])", norm_text) is not None


def _has_exact(text: str, token: str) -> bool:
    """A record id exactly as written ('#' included), as a whole token."""
    return re.search(r"(?<![\w#])" + re.escape(token) + r"(?![\w])", text) is not None


@dataclass
class Statement:
    """The typed values one text states."""

    dates: dict[tuple[int, int], set]  # (month, day) -> the years given with it (None: none)
    times: set[int]
    numbers: dict[Decimal, str]  # value -> "amount" or "number"
    ids: set[str]
    emails: set[str]
    names: set[str]  # capitalised words inside a sentence, lower case
    initial: set[str]  # capitalised words that begin a sentence, lower case
    words: set[str]  # every word, lower case
    vocabulary: set[str]
    qualifiers: Counter
    said_as: dict[str, str]  # qualifier concept -> the first spelling the text uses
    negations: int
    actions: set[str]


# what a request does, as groups of verbs that say it (the first is the group's name): a tool's verb
# counts with its group, so "move my meeting" states the same action as "change my meeting"
ACTION_GROUPS: tuple[tuple[str, ...], ...] = (
    ("change", "modify", "update", "move", "switch", "reschedule", "upgrade", "downgrade", "amend", "edit", "adjust"),
    ("book", "reserve"),
    ("schedule", "set up", "arrange"),
    ("cancel", "withdraw", "call off"),
    ("transfer", "send", "wire"),
    ("return", "send back"),
    ("exchange", "swap"),
    ("freeze", "block"),
    ("unfreeze", "unblock"),
    ("open",),
    ("approve", "accept", "sign off"),
    ("reject", "decline", "deny", "turn down"),
    ("resolve", "fix"),
    ("close",),
    ("assign",),
    ("reassign", "hand over", "hand off"),
    ("escalate", "bump"),
    ("submit",),
    ("complete", "finish"),
    ("request",),
    ("add", "include"),
    ("place",),
)


def _inflected(verb: str) -> list[str]:
    first, _, rest = verb.partition(" ")
    forms = [first + s for s in ("", "s", "es", "ed", "d", "ing", "led", "ling", "lation", "ation", "ion", "ment")]
    if first.endswith("e"):
        forms += [first[:-1] + s for s in ("ing", "ion", "ation", "al")]
    if first == "send":
        forms += ["sent"]
    return [f + (" " + rest if rest else "") for f in forms]


def _action_rx(groups: tuple[tuple[str, ...], ...]) -> "re.Pattern[str]":
    forms = sorted({f for g in groups for v in g for f in _inflected(v)}, key=len, reverse=True)
    return re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(f) for f in forms) + r")(?![a-z0-9])")


def _actions(norm: str, verbs: tuple[str, ...]) -> set[str]:
    """The action groups a text names, among those of the domain's tool verbs."""
    groups = tuple(g for g in ACTION_GROUPS if set(g) & set(verbs)) + tuple((v,) for v in verbs if
                                                                          not any(v in g for g in ACTION_GROUPS))
    if not groups:
        return set()
    of = {f: g[0] for g in groups for v in g for f in _inflected(v)}
    return {of[m.group(1)] for m in _action_rx(groups).finditer(norm)}


def statement(text: str, facts: Facts = Facts()) -> Statement:
    """Read what `text` states (see the module docstring)."""
    emails = {e.lower() for e in _EMAIL.findall(text)}
    bare = _EMAIL.sub(" ", text)
    values = read_values(bare)
    dates: dict[tuple[int, int], set] = {}
    for (month, day, year, _pos) in values.dates:
        dates.setdefault((month, day), set()).add(year)
    numbers: dict[Decimal, str] = {}
    for value, start, end in values.number_at:
        said = bare[start:end]
        if said.lower() == "one":
            continue
        kind = "amount" if ("$" in said or "USD" in said or "." in said) else "number"
        if numbers.get(value) != "amount":
            numbers[value] = kind
    ids = {m.group(1) for m in _ID.finditer(bare)} | set(_LEADING_ZERO.findall(bare))
    ids |= {c for c in _CODE.findall(bare) if c not in NOT_CODES}
    names, initial = set(), set()
    for m in _CAPITALISED.finditer(bare):
        w = m.group(1).lower()
        if w in MONTHS:
            continue
        (initial if _SENTENCE_START.search(bare[:m.start()]) else names).add(w)
    norm = _norm(bare)
    words = set(re.findall(r"[a-z0-9]+", norm))
    vocabulary = {v for v in facts.vocabulary if _has(norm, v)}
    # a listed value inside a longer listed value ("fund" in "rainy day fund") is not said on its own
    vocabulary = {v for v in vocabulary if not any(v != w and _has(_norm(w), v) for w in vocabulary)}
    found = [m.group(1) for m in _QUAL_RX.finditer(norm) if m.group(1) in _QUAL_OF]
    qualifiers = Counter(_QUAL_OF[q] for q in found)
    said_as: dict[str, str] = {}
    for q in found:
        said_as.setdefault(_QUAL_OF[q], q)
    negations = sum(1 for w in reading(bare).words if w in NEGATIONS)
    negations += sum(len(re.findall(r"(?<![a-z])" + p + r"(?![a-z])", norm)) for p in NEGATION_PHRASES)
    negations -= sum(len(re.findall(r"(?<![a-z])" + p + r"(?![a-z])", norm)) for p in NOT_NEGATIONS)
    actions = _actions(norm, facts.actions)
    return Statement(dates, {t for t, _p in values.times}, numbers, ids, emails, names, initial, words,
                     vocabulary, qualifiers, said_as, negations, actions)


MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")


def _date_text(md: tuple[int, int]) -> str:
    return f"{MONTH_NAMES[md[0] - 1]} {md[1]}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def fact_check(original: str, paraphrase: str, facts: Facts = Facts()) -> tuple[bool, list[str]]:
    """Does `paraphrase` state exactly what `original` states? Returns (ok, reasons), each reason
    "<kind>: <detail>" with kind one of missing/new date, time, number, amount, id, email, name,
    value, qualifier, action; changed year; negation; empty."""
    if not paraphrase or not paraphrase.strip():
        return False, ["empty: the rewrite is empty"]
    a, b = statement(original, facts), statement(paraphrase, facts)
    out: list[str] = []

    def diff(kind: str, mine: Iterable, theirs: Iterable, show=str) -> None:
        theirs = set(theirs)
        for x in sorted(set(mine) - theirs, key=str):
            out.append(f"{kind}: {show(x)}")

    # dates and times
    diff("missing date", a.dates, b.dates, _date_text)
    diff("new date", b.dates, a.dates, _date_text)
    for md, years in b.dates.items():
        given = {y for y in years if y is not None}
        known = {y for y in a.dates.get(md, set()) if y is not None}
        if given and known and given - known:
            out.append(f"changed year: {_date_text(md)} {sorted(given - known)[0]} (was {sorted(known)[0]})")
    diff("missing time", a.times, b.times, _clock)
    diff("new time", b.times, a.times, _clock)
    # numbers and amounts
    for v, kind in sorted(a.numbers.items()):
        if v not in b.numbers:
            out.append(f"missing {kind}: {v}")
    for v, kind in sorted(b.numbers.items()):
        if v not in a.numbers:
            out.append(f"new {kind}: {v}")
    # ids, codes, emails
    diff("missing id", a.ids, b.ids)
    diff("new id", b.ids, a.ids)
    for rid in facts.ids:  # the task's record ids exactly as written ('#' included): an agent copies them
        if _has_exact(original, rid) and not _has_exact(paraphrase, rid) and f"missing id: {rid.lstrip('#')}" not in out:
            out.append(f"missing id: {rid}")
    diff("missing email", a.emails, b.emails)
    diff("new email", b.emails, a.emails)
    # names: inside a sentence in the original -> anywhere in the rewrite; new ones
    diff("missing name", {w for w in a.names if w not in WEEKDAYS}, b.names | b.initial)
    listed = {w for v in facts.vocabulary for w in re.findall(r"[a-z]+", v.lower()) if v[:1].isupper()}
    added = {w for w in b.names if w not in COURTESY} | {w for w in b.initial if w in listed or w in WEEKDAYS}
    diff("new name", added, a.words)
    # listed values (enum choices, names), stated values of the task
    diff("missing value", a.vocabulary, b.vocabulary)
    diff("new value", b.vocabulary, a.vocabulary)
    for v in facts.values:
        if v in facts.ids or not v.strip() or re.fullmatch(r"-?\d+(\.\d+)?", v) or read_values(v).dates:
            continue  # ids, numbers and dates: compared above, as values
        if fact_said(v, original) and not fact_said(v, paraphrase) and not any(r.endswith(f": {v}") for r in out):
            out.append(f"missing value: {v}")
    # qualifiers, negation, actions
    for q, n in sorted(a.qualifiers.items()):
        if b.qualifiers[q] < n:
            out.append(f"missing qualifier: {a.said_as[q]}")
    for q, n in sorted(b.qualifiers.items()):
        if a.qualifiers[q] < n:
            out.append(f"new qualifier: {b.said_as[q]}")
    if a.negations != b.negations:
        out.append(f"negation: {b.negations} negations or exclusions where the original has {a.negations}")
    diff("missing action", a.actions, b.actions)
    diff("new action", b.actions, a.actions)
    return not out, list(dict.fromkeys(out))


def reason_kind(reason: str) -> str:
    """"missing date: December 13" -> "missing date"."""
    return reason.split(":", 1)[0]


# ----------------------------------------------------------------------------- a task's facts


def _flatten(node: Any, key: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _flatten(v, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _flatten(v, key)
    else:
        yield key, node


def listed_values(domain: Domain) -> tuple[str, ...]:
    """Every value the spec lists for a field or argument (enum choices, names), digits aside."""
    out: set[str] = set()
    types = [f.type for e in domain.entities.values() for f in e.fields.values()]
    types += [a.type for t in domain.tools.values() for a in t.args.values()]
    for t in types:
        if t.kind == "enum" or (t.kind == "str" and t.values):
            out |= {str(v) for v in t.values if len(str(v)) >= 2 and not str(v).isdigit()}
    return tuple(sorted(out))


def action_verbs(domain: Domain) -> tuple[str, ...]:
    """The verbs of the tools that change something (cancel_reservation -> cancel)."""
    verbs = {t.name.split("_")[0] for t in domain.tools.values()}
    return tuple(sorted(v for v in verbs if v not in READ_VERBS and len(v) >= 3))


def task_facts(domain: Domain, task: Task) -> Facts:
    """A task's facts: the values its user states (`user.facts`), the record ids among them and
    those the gold uses, the domain's listed values and action verbs."""
    values, ids = [], []
    for key, v in _flatten(task.user.get("facts", {})):
        if v is None or isinstance(v, bool):
            continue
        text = str(v)
        values.append(text)
        if key.endswith("id") or key.endswith(".id"):
            ids.append(text)
    refs = {(t.name, a.name) for t in domain.tools.values() for a in t.args.values() if a.is_ref}
    for g in task.gold_actions:
        for name, v in g.arguments.items():
            if (g.name, name) in refs and isinstance(v, str):
                ids.append(v)
    for r in task.expected.refusals:
        for name, v in r.arguments.items():
            if (r.tool, name) in refs and isinstance(v, str):
                ids.append(v)
    return Facts(values=tuple(dict.fromkeys(values)), ids=tuple(dict.fromkeys(ids)),
                 vocabulary=listed_values(domain), actions=action_verbs(domain))
