"""`envsynth report`: the HTML page a person reads, checked in a real headless browser.

A small airline dataset (refusals, near misses, lengths 0-3) is played by built-in agents -
oracle, distractor-blind, and a stochastic 'coin' agent with 3 trials per task - through
`Environment`, each episode recorded with `ResultsDir.add(EpisodeResult.of(...), Transcript(...))`
exactly as `envsynth eval --out` records it. The report of the dataset and the three results
directories is then opened in Debian's chromium (headless, no network): every plot is there and
decodes, every link lands on an anchor, pass^k and the coverage numbers are the ones eval and
stats compute.
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envsynth.cli import app
from envsynth.generate import GenerateOptions, generate
from envsynth.play.agents import DistractorBlind, Oracle, evaluate, pass_hat_k
from envsynth.play.environment import Environment
from envsynth.play.results import EpisodeResult, ResultsDir, Transcript
from envsynth.report import pass_hat_ks, transcript_anchor
from envsynth.verify import dataset_spec, iter_tasks

runner = CliRunner()

# the figures this dataset and these three runs must show (eval 3, the coin agent, has 3 trials)
EXPECTED_FIGURES = [
    "fig-coverage", "fig-tool-calls", "fig-length", "fig-goals", "fig-candidates", "fig-near-miss", "fig-refusal",
    "fig-tool-graph", "fig-agents", "fig-agents-pass-k",
    *(f"fig-eval-{i}-{what}" for i in (1, 2, 3) for what in ("length", "near-miss", "refusal")),
    "fig-eval-3-pass-k",
]


class Coin:
    """Plays the gold 80% of the time, nothing otherwise: a stochastic agent for pass^k."""

    name = "coin"
    stochastic = True

    def run(self, env, task, rng):
        if rng.random() < 0.8:
            Oracle().run(env, task, rng)


class RecordingEnv(Environment):
    """An Environment that keeps the episode as OpenAI chat messages, as eval's transcripts do."""

    def __init__(self, domain, task):
        super().__init__(domain, task)
        self.chat = [{"role": "system", "content": self.task.policy}, {"role": "user", "content": self.task.instruction}]

    def call(self, name, arguments=None):
        result = super().call(name, arguments)
        cid = f"call_{len(self.chat)}"
        self.chat.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]})
        self.chat.append({"role": "tool", "tool_call_id": cid, "content": result})
        return result

    def say(self, text):
        self.chat.append({"role": "assistant", "content": text})
        return super().say(text)


def record(domain, tasks, agent, trials: int, out: Path, seed: int = 0) -> Path:
    """Play every task `trials` times with evaluate()'s seeds and write a results directory."""
    rd = ResultsDir(out)
    for task in tasks:
        for t in range(trials):
            env = RecordingEnv(domain, task)
            agent.run(env, task, random.Random(f"{seed}/{task.id}/{t}"))
            s = env.score()
            rd.add(EpisodeResult.of(task, trial=t, agent=agent.name, reward=s.reward, db_match=s.db_match,
                                    answers_communicated=s.answers_communicated, missing=s.missing_answers,
                                    failed_calls=s.failed_calls, tool_calls=len(env.runtime.log),
                                    prompt_tokens=100 * len(env.chat), completion_tokens=10 * len(env.chat),
                                    cost=0.001),
                   Transcript(task_id=task.id, trial=t, messages=env.chat))
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("report") / "ds"
    generate("airline", d, GenerateOptions(n=12, seed=3, refusals=0.25))
    return d


@pytest.fixture(scope="module")
def runs(dataset):
    domain = dataset_spec(dataset)
    tasks = list(iter_tasks(dataset / "tasks.jsonl"))
    base = dataset.parent / "evals"
    return [record(domain, tasks, Oracle(), 1, base / "oracle"),
            record(domain, tasks, DistractorBlind(), 1, base / "blind"),
            record(domain, tasks, Coin(), 3, base / "coin")]


@pytest.fixture(scope="module")
def built(dataset, runs):
    """The report as a user makes it: through the CLI."""
    out = dataset.parent / "site" / "report.html"
    r = runner.invoke(app, ["report", str(dataset), *sum((["--eval", str(d)] for d in runs), []), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and "plots" in r.output
    return out


# ----------------------------------------------------------------------------- reading the page


class Dom(HTMLParser):
    """Ids, links, images (with the figure they sit in) and scripts of an HTML document."""

    def __init__(self, text: str):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[dict] = []  # attributes + 'figure'
        self.scripts: list[dict] = []
        self.stylesheets: list[str] = []
        self.body: dict = {}
        self._figures: list[str] = []
        self._tags: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "figure":
            self._figures.append(a.get("id", ""))
        if tag == "img":
            self.images.append({**a, "figure": self._figures[-1] if self._figures else None})
        if tag == "script":
            self.scripts.append(a)
        if tag == "link":
            self.stylesheets.append(a.get("href", ""))
        if tag == "body":
            self.body = a

    def handle_endtag(self, tag):
        if tag == "figure" and self._figures:
            self._figures.pop()


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium is not installed; this test renders the report in a real headless browser: "
                "apt-get install -y chromium")


# after load, each image is drawn on a canvas: a truncated or corrupt PNG still reports its size
# from the header, but its undecoded rows stay transparent
MARK_IMAGES = """<script>
window.addEventListener('load', function () {
  for (const img of document.images) {
    img.setAttribute('data-state', img.complete && img.naturalWidth > 0 ? 'ok' : 'broken');
    img.setAttribute('data-w', img.naturalWidth);
    img.setAttribute('data-h', img.naturalHeight);
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    let opaque = 0, ink = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] > 250) { opaque++; if (px[i] < 230 || px[i + 1] < 230 || px[i + 2] < 230) ink++; }
    }
    const n = px.length / 4 || 1;
    img.setAttribute('data-opaque', (opaque / n).toFixed(4));
    img.setAttribute('data-ink', (ink / n).toFixed(4));
  }
  document.body.setAttribute('data-checked', String(document.images.length));
});
</script>"""


def browse(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND",  # anything fetched from the network would fail to load
           f"--user-data-dir={tmp / 'chromium-profile'}", "--hide-scrollbars", *extra, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


# ----------------------------------------------------------------------------- tests


def test_report_renders_in_headless_chromium(built, runs, tmp_path):
    """Catches: a plot missing or drawn empty, an image that does not decode, a link to a
    transcript (or section) that is not on the page, anything fetched from the network."""
    text = built.read_text(encoding="utf-8")
    src = Dom(text)
    assert not src.scripts and not src.stylesheets, "the page must need no script and load no stylesheet"
    assert all(i["src"].startswith("data:image/png;base64,") for i in src.images), "images must be inline"
    from PIL import Image

    for i in src.images:  # each PNG decodes in full outside the browser too
        with Image.open(io.BytesIO(base64.b64decode(i["src"].split(",", 1)[1]))) as im:
            im.load()
    # the page as chromium builds it, with a marker script appended that records how each image decoded
    probe = built.with_name("probe.html")
    probe.write_text(text.replace("</body>", MARK_IMAGES + "</body>"), encoding="utf-8")
    r = browse(probe, tmp_path, "--virtual-time-budget=5000", "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = Dom(r.stdout)
    assert dom.body.get("data-checked") == str(len(src.images)), "the page did not finish loading in chromium"
    figures = {i["figure"]: i for i in dom.images}
    missing = [f for f in EXPECTED_FIGURES if f not in dom.ids or f not in figures]
    assert not missing, f"figures missing from the rendered page: {missing}"
    for fig in EXPECTED_FIGURES:
        img = figures[fig]
        assert img["data-state"] == "ok", f"{fig}: image did not decode in chromium"
        assert int(img["data-w"]) > 200 and int(img["data-h"]) > 150, f"{fig}: image is {img['data-w']}x{img['data-h']}"
        assert float(img["data-opaque"]) > 0.99, f"{fig}: only {img['data-opaque']} of the image decoded"
        assert float(img["data-ink"]) > 0.01, f"{fig}: the image is blank ({img['data-ink']} ink)"
    # every link lands: in-page anchors exist, nothing points off the page
    assert dom.links, "no links"
    for href in dom.links:
        assert href.startswith("#"), f"link leaves the page: {href}"
        assert href[1:] in dom.ids, f"link to #{href[1:]}, which is not on the page"
    # every failing episode links to its transcript, rendered on the page
    for i, d in enumerate(runs, 1):
        for r_ in ResultsDir(d).results():
            anchor = transcript_anchor(i, r_.task_id, r_.trial)
            assert (f"#{anchor}" in dom.links) == (r_.reward < 1.0), f"{d.name} {r_.task_id}/{r_.trial}"
            assert (anchor in dom.ids) == (r_.reward < 1.0)
    # and it paints: a screenshot of the top of the page is not blank
    shot = built.with_name("report.png")
    r = browse(built, tmp_path, "--window-size=1280,2400", f"--screenshot={shot}")
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    im = Image.open(shot).convert("RGB")
    assert im.size == (1280, 2400)
    colors = im.getcolors(maxcolors=1 << 20) or []
    assert len(colors) > 200, f"the screenshot is nearly blank ({len(colors)} colours)"
    blank = max(c for c, _rgb in colors) / (im.size[0] * im.size[1])
    assert blank < 0.9, f"{blank:.0%} of the screenshot is one colour"


def test_pass_hat_k_and_rewards_are_evals(built, dataset, runs):
    """Catches: pass^k computed another way than `envsynth eval -k` (tau-bench's formula, per
    task then averaged), rewards bucketed differently, and the page showing other numbers."""
    domain = dataset_spec(dataset)
    tasks = list(iter_tasks(dataset / "tasks.jsonl"))
    want = evaluate(domain, tasks, Coin(), trials=3, seed=0).to_json()
    from envsynth.report import read_results

    summary = read_results(runs[2])[0].summary()
    assert summary["pass_hat_k"] == want["pass_hat_k"]
    assert summary["mean_reward"] == want["mean_reward"]
    assert summary["by_length"] == want["by_length"]
    assert {k: v for k, v in summary["by_distractor_kind"].items() if k != "none"} == want["by_distractor_kind"]
    assert summary["with_distractors"] == want["with_distractors"]
    assert 0 < summary["pass_hat_k"]["3"] < summary["pass_hat_k"]["1"] < 1  # the coin agent is neither perfect nor hopeless
    # the page shows those numbers
    page = built.read_text(encoding="utf-8")
    cells = dict(re.findall(r'<td class="num" data-k="(\d+)">([0-9.]+)</td>', page.split('id="pass-k-3"')[1].split("</table>")[0]))
    assert cells == {k: str(v) for k, v in want["pass_hat_k"].items()}
    # by hand: two tasks, 3 trials; 2 and 3 successes
    rs = lambda wins: [EpisodeResult(task_id="t", trial=i, agent="a", reward=float(i < wins), db_match=True,
                                     answers_communicated=True, length=1) for i in range(3)]
    assert pass_hat_ks([rs(2), rs(3)]) == {"1": round((2 / 3 + 1) / 2, 4), "2": round((1 / 3 + 1) / 2, 4), "3": 0.5}
    assert pass_hat_k(2, 3, 2) == pytest.approx(1 / 3)


def test_coverage_is_what_stats_prints(built, dataset, monkeypatch):
    """Catches: the report computing coverage differently from `envsynth stats` (another walk
    bound, other counters, a different edge set). The explanations come from the same
    `explain_uncovered` in both; it is skipped here to keep the test fast."""
    from envsynth import report

    monkeypatch.setattr("envsynth.coverage.explain_uncovered", lambda *a, **k: None)
    r = runner.invoke(app, ["stats", str(dataset), "--json"])
    assert r.exit_code == 0, r.output
    stats = json.loads(r.stdout)
    facts = report.read_dataset(dataset)
    report.add_coverage(facts)
    mine = facts.coverage
    assert set(mine) == set(stats)
    for key, value in stats.items():
        assert mine[key] == value, key
    # and the page shows them
    page = built.read_text(encoding="utf-8")
    for label, a, b in (("tools covered", "tools_covered", "tools_total"),
                        ("graph edges covered", "edges_covered", "edges_total"),
                        ("precondition branches", "branches_covered", "branches_total")):
        assert f"<b>{stats[a]}/{stats[b]}</b>{label}" in page


def test_totals_and_failures_are_on_the_page(built, runs):
    """Catches: token/cost totals dropped or summed wrongly; a failing episode missing from its
    agent's list."""
    page = built.read_text(encoding="utf-8")
    for i, d in enumerate(runs, 1):
        results = list(ResultsDir(d).results())
        table = page.split(f'id="totals-{i}"')[1].split("</table>")[0]
        assert f'<td>agent prompt tokens</td><td class="num">{sum(r.prompt_tokens for r in results)}</td>' in table
        assert f'<td>cost</td><td class="num">{sum(r.cost for r in results):.4f}</td>' in table
        failing = sum(1 for r in results if r.reward < 1.0)
        shown = re.search(rf'id="failing-{i}"[^>]*>(?:<summary><h3>)?Failing episodes \((\d+)\)', page)
        assert shown and int(shown.group(1)) == failing, (d.name, failing)
    assert 'id="failing-1">Failing episodes (0)' in page  # the oracle


def test_results_read_as_eval_left_them(runs, tmp_path):
    """Catches: a line cut short by a kill breaking the report or counting; a replayed episode
    counted twice; an episode marked to play again counted."""
    from envsynth.report import read_results

    d = tmp_path / "coin"
    shutil.copytree(runs[2], d)
    lines = (d / "results.jsonl").read_text().splitlines()
    first = EpisodeResult.model_validate_json(lines[0])
    again = first.model_copy(update={"reward": 1.0 - first.reward})
    retry = "retry" in EpisodeResult.model_fields  # eval's 'play again' mark (failed outside the agent)
    with open(d / "results.jsonl", "a") as f:
        f.write(again.model_dump_json() + "\n")  # replayed: the later record counts
        if retry:
            f.write(EpisodeResult.model_validate_json(lines[2]).model_copy(update={"retry": True}).model_dump_json() + "\n")
        f.write(lines[1][:40])  # a kill cut this one short
    run = read_results(d)[0]
    assert len(run.episodes) == len(lines) - retry
    assert run.retried == retry
    assert run.unreadable == [len(lines) + 2 + retry]
    got = next(r for r in run.episodes if r.key == first.key)
    assert got.reward == again.reward


@pytest.mark.parametrize("case, message", [
    ("no-dataset", "no dataset at"),
    ("no-tasks", "no tasks.jsonl in"),
    ("empty-tasks", "holds no tasks"),
    ("no-results-dir", "no results directory at"),
    ("no-results-file", "has no results.jsonl"),
    ("garbled-results", "none of its 2 lines is an episode result"),
    ("results-of-another-dataset", "name none of the 12 tasks"),
    ("output-is-a-folder", "is a folder; give the HTML file"),
])
def test_user_mistakes_get_a_message(case, message, dataset, runs, tmp_path):
    """Catches: a traceback (or a silently empty report) where the user gave a wrong path."""
    ds, ev, out = str(dataset), [], tmp_path / "r.html"
    if case == "no-dataset":
        ds = str(tmp_path / "nothing")
    elif case == "no-tasks":
        ds = str(tmp_path)
    elif case == "empty-tasks":
        (tmp_path / "tasks.jsonl").write_text("")
        shutil.copy(dataset / "spec.yaml", tmp_path / "spec.yaml")
        ds = str(tmp_path)
    elif case == "no-results-dir":
        ev = [tmp_path / "nothing"]
    elif case == "no-results-file":
        (tmp_path / "ev").mkdir()
        ev = [tmp_path / "ev"]
    elif case == "garbled-results":
        (tmp_path / "ev").mkdir()
        (tmp_path / "ev" / "results.jsonl").write_text("{not json\n[1, 2]\n")
        ev = [tmp_path / "ev"]
    elif case == "results-of-another-dataset":
        rd = ResultsDir(tmp_path / "ev")
        rd.add(EpisodeResult(task_id="retail-0", agent="x", reward=1.0, db_match=True, answers_communicated=True, length=1))
        ev = [tmp_path / "ev"]
    elif case == "output-is-a-folder":
        out = tmp_path
    r = runner.invoke(app, ["report", ds, *sum((["--eval", str(e)] for e in ev), []), "-o", str(out)])
    assert r.exit_code == 1, r.output
    assert message in r.output and "Traceback" not in r.output
    if case == "no-results-dir":
        assert not (tmp_path / "nothing").exists(), "reading results must not create the directory"


def test_missing_matplotlib_is_a_message(dataset, tmp_path, monkeypatch):
    """Catches: an ImportError traceback when the report extra is not installed."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    r = runner.invoke(app, ["report", str(dataset), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 1 and "pip install 'envsynth[report]'" in r.output
