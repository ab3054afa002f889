"""Optional paraphrase with a fact check (`envsynth paraphrase`, `play.factcheck.fact_check`).

The unit tests give the fact check hand-written rewrites of real instructions, faithful and broken
one fact at a time, across domains. The end-to-end tests run the real `openai` client against a
real chat-completions server process on 127.0.0.1 (tests/chat_server.py) scripted by
tests/brains_paraphrase.py, with injected 429s and 500s, and check that every fact-breaking
rewrite is rejected, every faithful one kept, `verify` passes on the output, and a second run
asks the server nothing and writes the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envsynth.cli import app
from envsynth.play.factcheck import Facts, action_verbs, fact_check, listed_values
from envsynth.spec.loader import load_domain
from envsynth.tasks.model import Task
from envsynth.verify import check_task, verify_dir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.brains_paraphrase import rewrite  # noqa: E402

runner = CliRunner()


def facts_of(domain: str, values=(), ids=()) -> Facts:
    d = load_domain(domain)
    return Facts(values=tuple(values), ids=tuple(ids), vocabulary=listed_values(d), actions=action_verbs(d))


@pytest.fixture(scope="module")
def air():
    return facts_of("airline", ["usr_68110", "2026-12-07", "ATL", "SEA", "business"], ["usr_68110"])


AIR = ("Good morning, my name is Ethan Lopez. My customer id is usr_68110. Please change my active reservation "
       "from SEA to ATL on December 7, 2026 to business. Thanks!")
CHEAP = ("Hi, I'm Mia Okafor (user id usr_10443). Please book me on the flight from BOS to DEN on December 13, 2026 "
         "with the cheapest economy fare that isn't cancelled, with a refundable fare and 2 checked bags. Thanks!")
BANK = ("Hi, I'm Ava Larsen, email ava.larsen@mailbox.example, customer number CUS921355. Please send $892.49 from "
        "whichever of my checking accounts has the most money in it (leaving out frozen ones) to account number "
        "03793411. Thank you for your help.")
CAL = ("Hey, it's Ravi Patel; you can find me under ravi.patel@northwind.example. Please move my next scheduled "
       "meeting in Polaris to December 6, 2026 at 11 AM my time, same room and length. Polaris is the largest room "
       "on floor 1 that is not a boardroom. Thanks for sorting this out.")
RETAIL = ("Hey there, Mia Silva here. Please cancel order #W357285; I want the refund on my gift card. Thanks a lot!")


def reasons(original, paraphrase, facts):
    ok, why = fact_check(original, paraphrase, facts)
    assert ok == (not why)
    return why


# ----------------------------------------------------------------------------- faithful rewrites are kept

@pytest.mark.parametrize("original,paraphrase,domain", [
    # catches: a check that reads "Dec 7" or "7 December" as no date, or wants the year repeated
    (AIR, "Morning! Ethan Lopez here, customer id usr_68110. I'd like my active SEA to ATL reservation on Dec 7 "
          "moved to business. Thank you!", "airline"),
    (AIR, "Hello - this is Ethan Lopez (customer id usr_68110). Could you change my active reservation from SEA to "
          "ATL on 7 December 2026 to business? Thanks!", "airline"),
    # catches: "$892.49" vs "892.49 dollars", an exclusion reworded ("leaving out" -> "excluding") read as a change
    (BANK, "Hello, Ava Larsen here (email ava.larsen@mailbox.example, customer number CUS921355). From whichever "
           "of my checking accounts holds the most money, excluding frozen ones, please send $892.49 to account "
           "number 03793411. Thanks for your help.", "banking"),
    # catches: a synonym of a qualifier ("biggest" for "largest", "11:00 AM" for "11 AM") read as a new one
    (CAL, "Hi, Ravi Patel here (ravi.patel@northwind.example). Polaris is the biggest room on floor 1 that is not "
          "a boardroom. Could you move my next scheduled meeting in Polaris to Dec 6 at 11:00 AM my time, keeping "
          "the same room and length? Thanks!", "calendar"),
    (RETAIL, "Hi, Mia Silva here. Could you cancel order #W357285? I'd like the refund on my gift card. Thank you!",
     "retail"),
    # "$35" for 35.00, "2" for "two", "cannot" for "isn't"-style contractions
    ("Hi, I'm Ana. I can't find my card, please refund $35.00 and add two bags.",
     "Hello, I'm Ana. I cannot find my card - please add 2 bags and refund $35.", "airline"),
])
def test_faithful_rewrites_pass(original, paraphrase, domain):
    assert reasons(original, paraphrase, facts_of(domain)) == []


def test_identical_text_passes(air):
    assert reasons(AIR, AIR, air) == []


# ----------------------------------------------------------------------------- broken rewrites are rejected

def kinds(original, paraphrase, facts):
    return {r.split(":")[0] for r in reasons(original, paraphrase, facts)}


def test_changed_id_is_rejected(air):
    # catches: ids compared loosely (by prefix, case-insensitively, or not at all)
    assert "missing id" in kinds(AIR, AIR.replace("usr_68110", "usr_68111"), air)
    assert "new id" in kinds(AIR, AIR.replace("usr_68110", "usr_68111"), air)
    bank = facts_of("banking", ids=["03793411"])
    assert "missing id" in kinds(BANK, BANK.replace("03793411", "3793411"), bank)  # a leading zero dropped
    retail = facts_of("retail", ids=["#W357285"])
    assert "missing id" in kinds(RETAIL, RETAIL.replace("#W357285", "W357285"), retail)  # the id as the gold uses it


def test_dropped_date_is_rejected(air):
    # catches: a check that only looks at what the rewrite adds
    assert kinds(AIR, AIR.replace(" on December 7, 2026", ""), air) == {"missing date"}


def test_date_moved_a_day_is_rejected(air):
    # catches: dates compared by month only, or a date read as a number and "7" found elsewhere
    assert kinds(AIR, AIR.replace("December 7, 2026", "Dec 8"), air) >= {"missing date", "new date"}
    assert "changed year" in kinds(AIR, AIR.replace("December 7, 2026", "December 7, 2027"), air)


def test_amount_changed_or_added_is_rejected():
    bank = facts_of("banking")
    # catches: amounts compared as text prefixes or rounded
    assert kinds(BANK, BANK.replace("$892.49", "$892.50"), bank) == {"missing amount", "new amount"}
    # catches: a new amount the user never asked for
    assert kinds(BANK, BANK + " Keep the fee under $5.", bank) == {"new amount"}
    air = facts_of("airline")
    assert "new number" in kinds(CHEAP, CHEAP.replace("2 checked bags", "3 checked bags"), air)


def test_time_changed_is_rejected():
    assert kinds(CAL, CAL.replace("11 AM", "11 PM"), facts_of("calendar")) == {"missing time", "new time"}


def test_qualifier_dropped_or_added_is_rejected(air):
    # catches: qualifiers ignored ("the cheapest flight" -> "the flight" picks another record)
    assert "missing qualifier" in kinds(CHEAP, CHEAP.replace("the cheapest economy fare", "an economy fare"), air)
    cal = facts_of("calendar")
    assert "missing qualifier" in kinds(CAL, CAL.replace("my next scheduled meeting", "my scheduled meeting"), cal)
    assert "missing qualifier" in kinds(AIR, AIR.replace("my active reservation", "my reservation"), air)
    # catches: a superlative the original never had
    assert "new qualifier" in kinds(AIR, AIR.replace("my active reservation", "my most recent active reservation"),
                                    air)
    # a polarity swap is both
    assert kinds(CAL, CAL.replace("largest room", "smallest room"), cal) == {"missing qualifier", "new qualifier"}


def test_enum_choice_changed_is_rejected(air):
    # catches: listed values (cabin, fare, account type) not compared: "business" -> "economy" books another cabin
    assert kinds(AIR, AIR.replace("to business", "to economy"), air) >= {"missing value", "new value"}
    bank = facts_of("banking")
    assert kinds(BANK, BANK.replace("checking accounts", "savings accounts"), bank) == {"missing value", "new value"}


def test_name_or_email_changed_is_rejected(air):
    # catches: proper names not compared (the user would be someone else)
    assert "missing name" in kinds(AIR, AIR.replace("Ethan Lopez", "Ethan Lopes"), air)
    assert kinds(AIR, AIR.replace("Thanks!", "My wife Carla is travelling too. Thanks!"), air) == {"new name"}
    assert kinds(CAL, CAL.replace("Polaris", "Orion"), facts_of("calendar")) >= {"missing value",
                                                                                            "new value"}
    bank = facts_of("banking")
    assert kinds(BANK, BANK.replace("ava.larsen@", "ava.larson@"), bank) == {"missing email", "new email"}


def test_negation_is_rejected(air):
    # catches: a negated request ("please don't change") passing because every value is still there
    assert kinds(AIR, AIR.replace("Please change", "Please don't change"), air) == {"negation"}
    bank = facts_of("banking")
    # catches: an exclusion dropped ("leaving out frozen ones"): the frozen account becomes a candidate
    assert "negation" in kinds(BANK, BANK.replace(" (leaving out frozen ones)", " (frozen ones too)"), bank)


def test_action_changed_is_rejected():
    # catches: the request's action swapped ("cancel" -> "return") with every value kept
    assert kinds(RETAIL, RETAIL.replace("cancel order", "return order"), facts_of("retail")) == \
        {"missing action", "new action"}


def test_empty_rewrite_is_rejected(air):
    assert kinds(AIR, "   ", air) == {"empty"}


# ----------------------------------------------------------------------------- against a local server

def _generate(tmp: Path, domain: str, n: int, seed: int, refusals: float) -> Path:
    out = tmp / domain
    r = runner.invoke(app, ["generate", domain, "-n", str(n), "--refusals", str(refusals), "--seed", str(seed),
                            "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pp")
    return [_generate(tmp, "airline", 14, 3, 0.2), _generate(tmp, "banking", 12, 5, 0.2)]


class Server:
    def __init__(self, log: Path, fail: str = "", share: str = "0.4"):
        env = {**os.environ, "PARAPHRASE_FAITHFUL_SHARE": share}
        cmd = [sys.executable, str(ROOT / "tests" / "chat_server.py"), "--brain", "tests.brains_paraphrase:brain",
               "--port", "0", "--log", str(log)] + (["--fail", fail] if fail else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/v1"
        self.log = log

    def requests(self) -> list[dict]:
        return [json.loads(x) for x in self.log.read_text().splitlines()] if self.log.exists() else []

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "requests.log", fail="429@2,500@5,503@6")
    yield s
    s.stop()


def _tasks(directory: Path) -> list[Task]:
    return [Task.model_validate_json(x) for x in (directory / "tasks.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("which", [0, 1], ids=["airline", "banking"])
def test_paraphrase_keeps_faithful_and_rejects_fact_breaking_rewrites_against_local_scripted_server(
        datasets, server, tmp_path, which):
    src = datasets[which]
    out = tmp_path / "out"
    args = ["paraphrase", str(src), "--model", "openai:scripted", "--base-url", server.url, "--api-key-env",
            "ENVSYNTH_TEST_NO_KEY", "-o", str(out), "-j", "3", "-q", "--temperature", "0.7", "--seed", "1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    before = _tasks(src)
    after = _tasks(out)
    assert [t.id for t in after] == [t.id for t in before]  # same tasks, same order, same ids
    expected = {"faithful": 0, "broken": 0}
    broken_kinds = set()
    for old, new in zip(before, after):
        p = new.meta.paraphrase
        assert p is not None and p.model == "openai:scripted" and p.original == old.instruction
        kind, text = rewrite(old.instruction, 0.4)
        if kind == "faithful":
            expected["faithful"] += 1
            assert p.accepted and new.instruction == text, (p.reasons, text)
        else:
            expected["broken"] += 1
            broken_kinds.add(kind)
            assert not p.accepted and p.reasons and p.rejected == text, (kind, text)
            assert new.instruction == old.instruction  # a rejected rewrite keeps the template text
        # everything but the instruction and meta.paraphrase is untouched
        assert new.model_dump(exclude={"instruction", "meta"}) == old.model_dump(exclude={"instruction", "meta"})
    assert expected["faithful"] >= 3 and expected["broken"] >= 3 and len(broken_kinds) >= 3, (expected, broken_kinds)
    manifest = json.loads((out / "manifest.json").read_text())["paraphrase"]
    assert (manifest["accepted"], manifest["rejected"], manifest["no_reply"]) == \
        (expected["faithful"], expected["broken"], 0)
    assert sum(manifest["rejected_by_reason"].values()) >= expected["broken"]
    assert (out / "spec.yaml").read_bytes() == (src / "spec.yaml").read_bytes()
    assert _tasks(src)[0].meta.paraphrase is None  # the source is untouched
    # the injected 429 and 5xx were retried by the client: every task got its reply
    log = server.requests()
    assert {e["injected"] for e in log} >= {429, 500, 503}
    assert len([e for e in log if e["injected"] is None]) == len(before)
    # verify passes on the output (and re-runs the fact check on each accepted paraphrase)
    checks = verify_dir(out)
    assert all(c.ok for c in checks), [c.problems for c in checks if not c.ok]
    # a second run asks nothing (the replies are journaled) and writes the same bytes
    first = (out / "tasks.jsonl").read_bytes()
    n = len(log)
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert len(server.requests()) == n
    assert (out / "tasks.jsonl").read_bytes() == first


def test_interrupted_run_resumes_without_asking_again_against_local_scripted_server(datasets, server, tmp_path):
    from envsynth.paraphrase import JOURNAL

    src, out = datasets[0], tmp_path / "out"
    args = ["paraphrase", str(src), "--model", "openai:scripted", "--base-url", server.url, "-o", str(out), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    complete = (out / "tasks.jsonl").read_bytes()
    # as if killed half-way: half the journal (and a torn last line), no tasks.jsonl yet
    lines = (out / JOURNAL).read_text().splitlines()
    half = len(lines) // 2
    (out / JOURNAL).write_text("\n".join(lines[:half]) + "\n" + lines[half][:20])
    (out / "tasks.jsonl").unlink()
    asked = len([e for e in server.requests() if e["injected"] is None])
    assert runner.invoke(app, args).exit_code == 0
    again = len([e for e in server.requests() if e["injected"] is None]) - asked
    assert again == len(lines) - half  # only the unanswered ones
    assert (out / "tasks.jsonl").read_bytes() == complete


def test_verify_rechecks_a_recorded_paraphrase(datasets, tmp_path):
    # catches: verify trusting meta.paraphrase - a hand-edited accepted paraphrase that moved a date or
    # dropped an id, or a rejected one that still replaced the template text
    from envsynth.tasks.model import Paraphrase

    src = datasets[0]
    domain = load_domain(src / "spec.yaml")
    task = _tasks(src)[0]
    original = task.instruction
    good = task.model_copy(deep=True)
    good.instruction = original.replace("Thanks", "Thank you") if "Thanks" in original else original + " Thank you."
    good.meta.paraphrase = Paraphrase(model="openai:x", accepted=True, original=original)
    assert check_task(domain, good, second_engine=False).ok
    bad = good.model_copy(deep=True)
    bad.instruction = good.instruction + " I also need this done by January 9."
    problems = check_task(domain, bad, second_engine=False).problems
    assert any("fact check" in p and "new date" in p for p in problems), problems
    rejected = good.model_copy(deep=True)
    rejected.meta.paraphrase = Paraphrase(model="openai:x", accepted=False, original=original, reasons=["x: y"])
    assert any("rejected" in p for p in check_task(domain, rejected, second_engine=False).problems)


def test_paraphrase_errors_are_messages(datasets, tmp_path):
    src = datasets[0]
    r = runner.invoke(app, ["paraphrase", str(src), "--model", "gpt-4o", "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "openai:MODEL" in r.output
    r = runner.invoke(app, ["paraphrase", str(src), "--model", "openai:x"])
    assert r.exit_code == 1 and "-o OUT" in r.output
    r = runner.invoke(app, ["paraphrase", str(src), "--model", "openai:x", "-o", str(src)])
    assert r.exit_code == 1 and "--in-place" in r.output
    env = {k: v for k, v in os.environ.items() if k != "ENVSYNTH_TEST_NO_KEY"}
    r = runner.invoke(app, ["paraphrase", str(src), "--model", "openai:x", "--api-key-env", "ENVSYNTH_TEST_NO_KEY",
                            "-o", str(tmp_path / "o")], env=env)
    assert r.exit_code == 1 and "ENVSYNTH_TEST_NO_KEY" in r.output
