"""Defects in the text of generated requests, counted per domain (issue 11, part 3).

    python benchmarks/text_audit.py                  # 300 tasks per shipped domain, seed 3
    python benchmarks/text_audit.py -n 1000 --seed 7 --examples

Each task is counted once per defect it shows:

- repeated: two sentences of the instruction that are the same once ids, numbers and dates are
  masked ("My order number is #W181702. My order number is #W230431.")
- same_record: a request that names the same record twice ("move appointment A035538 to the
  slot of appointment A035538"), or a goal step whose two record arguments are one record
- no_op: a write the user asks for that changes nothing (a move to where the thing already is)
- third_person_me: the speaker as a third person ("the insurance status of me", "me's", "me is")
- iso_date: a date written 2026-09-19 inside a sentence
- raw_money: an amount of money without its currency sign or with one decimal ("731.0", "2344.99")
- clock_24h: a time of day written 15:00 instead of "3 PM"
- undocumented: a sentence the renderer adds on its own (no phrasing of the domain's) that
  docs/writing-specs.md does not document

The patterns are read off the text (and, for same_record and no_op, off the task's walk and a
replay of its gold actions), independently of the renderer's own code.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from envsynth.generate import GenerateOptions, generate
from envsynth.runtime.execute import Runtime, db_hash
from envsynth.spec.loader import load_domain

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["airline", "retail", "hr", "itsm", "calendar", "banking"]
COLUMNS = ["repeated", "same_record", "no_op", "third_person_me", "iso_date", "raw_money", "clock_24h",
           "undocumented"]

SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(#$\d])")
VALUE = re.compile(r"\S*\d\S*")  # a token holding a digit: an id, a number, a date part, an amount
# an id: letters and digits mixed (A035538, usr_61274, #W181702) or a long number (50441884)
ID = re.compile(r"(?<![\w$.,:/-])(?:#?[A-Za-z]+[_-]?\d[\w-]*|#?\d+[A-Za-z][\w-]*|#?\d{5,})\b")
ME = re.compile(r"\b(?:of|about|for whom is) me\b[?.!]|\bme's\b|\bme (?:is|has|was|does)\b|(?:^|[.!?] )Me\b")
ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
RAW_MONEY = re.compile(r"\$\s*\d[\d,]*\.\d\b(?!\d)|(?<![\w$.,:#\"-])\d[\d,]*\.\d{2}\b(?![\d.])(?!\s*%)")
CLOCK24 = re.compile(r"\b\d{1,2}:\d{2}\b(?!\s*[AaPp]\.?[Mm])")
YEAR = re.compile(r"^(19|20)\d\d$")

# sentences the renderer writes on its own when a domain has no phrasing for them:
# (section, pattern of the rendered sentence, the default phrasing the docs should show)
DEFAULTS = [
    ("identify", re.compile(r"You can find .+\.$"), "You can find {{ phrase }}."),
    ("clarify", re.compile(r"[\w ,]+ is (?:the|my|our) [^?]+\.$"), "{{ value }} is {{ phrase }}."),
    ("given_ids", re.compile(r"My \w[\w ]* number is \S+\.$"), "My <entity> number is {{ id }}."),
    ("given_ids", re.compile(r"I also have \w[\w ]* \S+\.$"), "I also have <entity> {{ id }}."),
    ("given_ids", re.compile(r"My id is \S+\.$"), "My id is {{ id }}."),
    ("connectors", re.compile(r"Also, "), "Also, "),
]


def ids_of(text: str) -> list[str]:
    return [m.group(0).rstrip(".,") for m in ID.finditer(text) if not YEAR.match(m.group(0))]


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE.split(text) if s.strip()]


def documented(default: str) -> bool:
    text = (ROOT / "docs" / "writing-specs.md").read_text(encoding="utf-8")
    return default in text


def uses_default(phrases: dict, section: str, entity: str = "") -> bool:
    node = phrases.get(section)
    if not node:
        return True
    if section == "given_ids" and entity:
        return entity not in node
    return False


def audit_task(domain, task: dict, phrases: dict) -> dict:
    text = task["instruction"]
    found = dict.fromkeys(COLUMNS, False)
    masked = [VALUE.sub("#", s.strip()) for s in sentences(text)]
    found["repeated"] = len(masked) != len(set(masked))
    cert = task["certificate"]
    walk = cert["walk"]
    for k, step in enumerate(walk["steps"]):
        tool = domain.tools[step["tool"]]
        if not (tool.is_write or step.get("ask")):
            continue
        objs = [o for v, o in step["binds"].items() if v not in step.get("creates", {})]
        if len(objs) != len(set(objs)):
            found["same_record"] = True
    for r in task["user"]["requests"]:
        ids = ids_of(r)
        if len(ids) != len(set(ids)):
            found["same_record"] = True
    rt = Runtime(domain, task["initial_db"], cert["actor"])
    for g in task["gold_actions"]:
        before = db_hash(rt.db)
        rec = rt.call(g["name"], g["arguments"])
        if rec.ok and domain.tools[g["name"]].is_write and db_hash(rt.db) == before:
            found["no_op"] = True
    found["third_person_me"] = ME.search(text) is not None
    found["iso_date"] = ISO.search(text) is not None
    found["raw_money"] = RAW_MONEY.search(text) is not None
    found["clock_24h"] = CLOCK24.search(text) is not None
    for section, rx, default in DEFAULTS:
        if documented(default):
            continue
        for m in filter(None, (rx.match(x.strip()) for x in sentences(text))):
            if section == "given_ids":
                words = m.group(0).split()
                entity = words[1] if "number" in words else words[3] if words[1] == "also" else domain.actor
                if not uses_default(phrases, section, entity):
                    continue
            elif not uses_default(phrases, section):
                continue
            found["undocumented"] = True
    return found


def phrases_of(spec_dir: Path, domain) -> dict:
    from envsynth.tasks.phrases import Templates

    try:
        return Templates(domain).raw
    except Exception:  # noqa: BLE001 - a domain without templates renders defaults only
        return {}


def audit(spec: str, n: int, seed: int, base: Path, examples: dict, show: int) -> tuple[int, dict]:
    name = Path(spec).stem
    out = base / name
    opts = dict(n=n, seed=seed, multi_intent=0.3, refusals=0.1)
    if spec.endswith(".yaml"):
        opts.update(n=min(n, 40), allow_repeats=True)
    generate(spec, out, GenerateOptions(**opts), workers=1)
    domain = load_domain(spec)
    phrases = phrases_of(out, domain)
    counts = dict.fromkeys(COLUMNS, 0)
    total = 0
    with open(out / "tasks.jsonl", encoding="utf-8") as f:
        for line in f:
            task = json.loads(line)
            total += 1
            for k, v in audit_task(domain, task, phrases).items():
                if v:
                    counts[k] += 1
                    if len(examples.setdefault((name, k), [])) < show:
                        examples[(name, k)].append(task["instruction"])
    return total, counts


def main() -> None:
    global ROOT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=300, help="tasks per domain")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--examples", action="store_true", help="also audit examples/*/*.yaml (40 tasks each)")
    ap.add_argument("--show", type=int, default=1, help="example instructions to print per defect")
    ap.add_argument("--keep", type=Path, default=None, help="keep the datasets here")
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="the checkout whose examples/ and docs/ to read (to audit an older version "
                         "with PYTHONPATH pointing at its package)")
    args = ap.parse_args()
    ROOT = args.root.resolve()
    base = args.keep or Path(tempfile.mkdtemp(prefix="envsynth-text-"))
    examples_ = [str(ROOT / "examples" / "mini_air" / "mini_air.yaml"),
                 str(ROOT / "examples" / "city_library" / "city_library.yaml")]
    specs = SHIPPED + (examples_ if args.examples else [])
    examples: dict = {}
    rows = []
    for spec in specs:
        total, counts = audit(spec, args.n, args.seed, base, examples, args.show)
        rows.append((Path(spec).stem, total, counts))
    head = f"{'domain':<14}{'tasks':>6}" + "".join(f"{c:>16}" for c in COLUMNS)
    print(head)
    for name, total, counts in rows:
        print(f"{name:<14}{total:>6}" + "".join(f"{counts[c]:>16}" for c in COLUMNS))
    print(f"{'total':<14}{sum(r[1] for r in rows):>6}"
          + "".join(f"{sum(r[2][c] for r in rows):>16}" for c in COLUMNS))
    if args.show:
        for (name, k), texts in sorted(examples.items()):
            for t in texts:
                print(f"\n[{name} / {k}] {t}", file=sys.stderr)


if __name__ == "__main__":
    main()
