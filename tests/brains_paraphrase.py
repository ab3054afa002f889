"""A scripted paraphraser for tests/chat_server.py: per instruction, a faithful rewrite or a
deliberately fact-breaking one, decided by a hash of the text (so tests know which it sent).

`rewrite(original) -> (kind, text)`: kind "faithful" keeps every fact, reworded the way a model
would (greetings and thanks swapped, sentences reordered, a date as "Dec 7" or "7 December
2026", "$35" for $35.00, "I'd" for "I would"); any other kind breaks one fact (see `BREAKERS`).
The breakers are written from the text alone with their own patterns - not with the fact check
they test. `PARAPHRASE_FAITHFUL_SHARE` (default 0.5) sets how many are faithful.

    python tests/chat_server.py --brain tests.brains_paraphrase:brain
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
DATE = re.compile(r"\b(" + "|".join(MONTHS) + r") (\d{1,2})(, (\d{4}))?")
MONEY = re.compile(r"\$(\d{1,3}(?:,\d{3})*|\d+)\.(\d{2})")
ID = re.compile(r"(?<![\w@.])(#?[A-Za-z][A-Za-z_]*\d[\w]*)")
NUMBER = re.compile(r"(?<![\w.,$#:-])(\d+)(?![\w.,:]|\s*(?:AM|PM))")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SUPERLATIVES = ["most recent", "cheapest", "lowest", "largest", "biggest", "smallest", "tiniest", "earliest",
                "latest", "next", "first", "last", "oldest", "highest", "most critical", "top-priority",
                "longest-waiting", "soonest", "nearest"]
INTRO_NAME = re.compile(r"(?:I'm|I am|my name is|this is|it's|This is)\s+([A-Z][a-z]+)|(?:^|[-,.!]\s+)([A-Z][a-z]+) [A-Z][a-z]+ here")
CHOICES = {"economy": "business", "business": "economy", "checking": "savings", "savings": "checking",
           "blue": "red", "black": "white", "pending": "approved", "vacation": "sick", "refundable": "non-refundable"}


def _parse_date(m: re.Match) -> dt.date:
    return dt.date(int(m.group(4) or 2026), MONTHS.index(m.group(1)) + 1, int(m.group(2)))


# ----------------------------------------------------------------------------- fact-breaking rewrites

def change_id(t: str):
    for m in ID.finditer(t):
        tok = m.group(1)
        if tok.split("_")[0].lower() in ("mailbox", "northwind", "corp"):
            continue
        d = int(tok[-1])
        return t[:m.start(1)] + tok[:-1] + str((d + 1) % 10) + t[m.end(1):]
    return None


def drop_date(t: str):
    """Every mention of the first date said, with its preposition ("on December 7, 2026")."""
    m = DATE.search(t)
    if not m:
        return None
    day = _parse_date(m)
    out = t
    while True:
        m = next((x for x in DATE.finditer(out) if (_parse_date(x).month, _parse_date(x).day) == (day.month, day.day)),
                 None)
        if m is None:
            return out
        before = out[:m.start()]
        cut = re.search(r"(?:\s+(?:on|from|starting|for|by|of))?\s*$", before)
        out = before[:cut.start()] + out[m.end():]


def shift_date(t: str):
    m = DATE.search(t)
    if not m:
        return None
    d = _parse_date(m) + dt.timedelta(days=1)
    year = f", {d.year}" if m.group(3) else ""
    return t[:m.start()] + f"{MONTHS[d.month - 1]} {d.day}{year}" + t[m.end():]


def change_amount(t: str):
    m = MONEY.search(t)
    if m:
        whole = int(m.group(1).replace(",", "")) + 7
        return t[:m.start()] + f"${whole:,}.{m.group(2)}" + t[m.end():]
    m = NUMBER.search(t)
    if m and not DATE.search(t[max(0, m.start() - 12):m.end()]):
        return t[:m.start(1)] + str(int(m.group(1)) + 1) + t[m.end(1):]
    return None


def new_amount(t: str):
    return t.rstrip() + " My budget is $250."


def drop_qualifier(t: str):
    low = t.lower()
    for q in SUPERLATIVES:
        m = re.search(r"\b" + re.escape(q) + r"\b[ -]?", low)
        if m and not re.match(r"(first|last) name", low[m.start():]):
            return t[:m.start()] + t[m.end():]
    return None


def new_qualifier(t: str):
    if re.search(r"\bcheapest\b", t, re.I):
        return None
    m = re.search(r"\b(my|the) (?!name|email|customer|user|work)([a-z]+)", t)
    if not m:
        return None
    return t[:m.end(1)] + " cheapest" + t[m.end(1):]


def change_name(t: str):
    m = INTRO_NAME.search(t)
    if not m:
        return None
    g = 1 if m.group(1) else 2
    name = m.group(g)
    new = "Zoltan" if name != "Zoltan" else "Brigid"
    return t[:m.start(g)] + new + t[m.end(g):]


def negate(t: str):
    for pat, rep in ((r"\bPlease (?!do\b)", "Please don't "), (r"\bI want to\b", "I don't want to"),
                     (r"\bI need to\b", "I don't need to"), (r"\bI'd like to\b", "I wouldn't like to"),
                     (r"\bI would like to\b", "I would not like to"), (r"\bCan you\b", "Can you not"),
                     (r"\bCould you\b", "Couldn't you")):
        if re.search(pat, t):
            return re.sub(pat, rep, t, count=1)
    return None


def change_email(t: str):
    m = EMAIL.search(t)
    if not m:
        return None
    local, _, host = m.group(0).partition("@")
    return t[:m.start()] + f"{local}.work@{host}" + t[m.end():]


def change_choice(t: str):
    for a, b in CHOICES.items():
        m = re.search(r"\b" + a + r"\b", t)
        if m and not re.search(r"\b" + re.escape(b) + r"\b", t):
            return t[:m.start()] + b + t[m.end():]
    return None


def new_date(t: str):
    return t.rstrip() + " I'm away from January 9."


BREAKERS = {
    "change_id": change_id, "drop_date": drop_date, "shift_date": shift_date, "change_amount": change_amount,
    "new_amount": new_amount, "drop_qualifier": drop_qualifier, "new_qualifier": new_qualifier,
    "change_name": change_name, "negate": negate, "change_email": change_email, "change_choice": change_choice,
    "new_date": new_date,
}


# ----------------------------------------------------------------------------- faithful rewrites

def _date_forms(m: re.Match, n: int) -> str:
    d = _parse_date(m)
    forms = [f"{MONTHS[d.month - 1][:3]} {d.day}", f"{d.day} {MONTHS[d.month - 1]} {d.year}", d.isoformat(),
             f"{MONTHS[d.month - 1]} {d.day}"]
    return forms[n % len(forms)]


def faithful(t: str, n: int) -> str:
    out = DATE.sub(lambda m: _date_forms(m, n), t)
    out = MONEY.sub(lambda m: f"${m.group(1)}" if m.group(2) == "00" else m.group(0), out)
    swaps = [(r"^Hi, ", "Hello, "), (r"^Hello, ", "Hi, "), (r"^Hey, ", "Hi, "), (r"^Good morning, ", "Morning! "),
             (r"Thanks!$", "Thank you!"), (r"Thank you for your help\.$", "Thanks for helping."),
             (r"\bI would like\b", "I'd like"), (r"\bI am\b", "I'm"), (r"\bcannot\b", "can't"),
             (r"\bPlease\b", "Kindly")]
    for pat, rep in swaps:
        out = re.sub(pat, rep, out, count=1)
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", out)
    if len(sentences) >= 3 and n % 2 == 0:
        # the closing thanks first, after the greeting: "Hi, I'm Ava. Thanks! Please ..."
        sentences = [sentences[0], sentences[-1]] + sentences[1:-1]
    return " ".join(sentences)


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def rewrite(original: str, faithful_share: float | None = None) -> tuple[str, str]:
    """(kind, text) for one instruction: "faithful" or the name of the breaker applied."""
    share = float(os.environ.get("PARAPHRASE_FAITHFUL_SHARE", "0.5")) if faithful_share is None else faithful_share
    h = _hash(original)
    if (h % 1000) / 1000 < share:
        return "faithful", faithful(original, h)
    broken = [(name, text) for name, b in BREAKERS.items() if (text := b(original)) is not None and text != original]
    if not broken:
        return "faithful", faithful(original, h)
    return broken[(h // 1000) % len(broken)]  # one of the breakers that apply to this text, evenly


def brain(body: dict) -> dict:
    user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    _kind, text = rewrite(user)
    return {"content": text}
