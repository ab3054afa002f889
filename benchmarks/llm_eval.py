"""`envsynth eval --agent openai:MODEL` against a local scripted chat-completions server, per domain.

    python benchmarks/llm_eval.py /work/ds200/* [-n 100] [-j 4] [--work /tmp/llm_eval]

For each dataset directory, on its first N tasks (copied with spec.yaml into --work), with the real
`envsynth eval` CLI and the official openai client against tests/chat_server.py processes on
127.0.0.1 scripted by tests/brains_agent.py:

1. gold brain + scripted user: how many episodes score 1.0 (and how many times the user was
   asked for a fact);
2. gold brain + LLM user (`--user llm:user`, the user brain replaying the scripted rules);
3. near-miss brain (the first near miss listed before its target taken in its place) + scripted
   user: reward on the tasks with such a near miss;
4. gold + scripted on a server injecting 429s (every 4th request) and 500s (requests 3, 10, 50
   and 201), fresh per domain: the same rewards as 1
   and the same summary; injected faults counted from the server's log;
5. kill + resume: a run on a slowed server SIGKILLed once >= 40% of its results are written, then
   the same command again: no finished task is requested again (the brain's request log), every
   task recorded once, and the summary equals run 1's.

Prints one JSON object per domain and a line each; exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from envsynth.cli import app; app()"]
FAULTS = ("--fail-every", "429:4", "--fail", "500@3,500@10,500@50,500@201")  # a 429 every 4th request, 4 500s


class Server:
    def __init__(self, tasks: list[Path], work: Path, name: str, *args: str):
        self.log, self.brain_log = work / f"{name}.server.log", work / f"{name}.brain.log"
        for f in (self.log, self.brain_log):
            f.unlink(missing_ok=True)
        env = dict(os.environ, ENVSYNTH_BRAIN_TASKS=os.pathsep.join(map(str, tasks)),
                   ENVSYNTH_BRAIN_LOG=str(self.brain_log), PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "chat_server.py"), "--brain",
                                      "tests.brains_agent:brain", "--port", "0", "--log", str(self.log), *args],
                                     stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = f"http://127.0.0.1:{line.split()[1]}/v1"

    def lines(self, f: Path) -> list[dict]:
        return [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def eval_cmd(ds: Path, url: str, out: Path, model: str, user: str, jobs: int) -> list[str]:
    return CLI + ["eval", str(ds), "--agent", f"openai:{model}", "--base-url", url, "--user", user,
                  "-j", str(jobs), "--out", str(out), "--json"]


def run_eval(ds: Path, url: str, out: Path, model: str, user: str, jobs: int) -> tuple[dict, float]:
    shutil.rmtree(out, ignore_errors=True)
    t = time.monotonic()
    r = subprocess.run(eval_cmd(ds, url, out, model, user, jobs), capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"eval failed ({model}, {user}): {r.stderr[-2000:]}")
    return json.loads(r.stdout), time.monotonic() - t


def results(out: Path) -> dict:
    latest = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            latest[(r["task_id"], r["trial"])] = r
    return latest


def asked(out: Path) -> int:
    n = 0
    for line in (out / "transcripts.jsonl").read_text().splitlines():
        msgs = json.loads(line)["messages"]
        n += sum(1 for a, u in zip(msgs, msgs[1:]) if a["role"] == "assistant"
                 and (a.get("content") or "").startswith("Could you please tell me") and u["role"] == "user"
                 and u["content"] != "###STOP###")
    return n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("datasets", nargs="+", type=Path)
    p.add_argument("-n", type=int, default=100)
    p.add_argument("-j", type=int, default=4)
    p.add_argument("--work", type=Path, default=Path("/tmp/llm_eval"))
    a = p.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    subsets = []
    for d in a.datasets:
        sub = a.work / d.name / "ds"
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(d / "spec.yaml", sub / "spec.yaml")
        lines = [x for x in (d / "tasks.jsonl").read_text().splitlines() if x.strip()][: a.n]
        (sub / "tasks.jsonl").write_text("\n".join(lines) + "\n")
        subsets.append(sub)
    plain = Server(subsets, a.work, "plain")
    slow = Server(subsets, a.work, "slow", "--delay", "0.05")
    ok = True
    rows = []
    try:
        for sub in subsets:
            name, w = sub.parent.name, sub.parent
            gold, t_gold = run_eval(sub, plain.url, w / "gold", "gold", "scripted", a.j)
            gold_r = results(w / "gold")
            llmu, _ = run_eval(sub, plain.url, w / "gold-llmuser", "gold", "llm:user", a.j)
            near, _ = run_eval(sub, plain.url, w / "near", "near-miss", "scripted", a.j)
            near_r = results(w / "near")
            faulty = Server([sub], w, "faulty", *FAULTS)  # a fresh request count per domain
            try:
                faults, _ = run_eval(sub, faulty.url, w / "faults", "gold", "scripted", a.j)
                log = faulty.lines(faulty.log)
            finally:
                faulty.close()
            injected = [x["injected"] for x in log if x["injected"]]
            # kill + resume
            out = w / "killed"
            shutil.rmtree(out, ignore_errors=True)
            proc = subprocess.Popen(eval_cmd(sub, slow.url, out, "gold", "scripted", a.j),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            want = max(1, int(0.4 * len(gold_r)))
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and proc.poll() is None:
                f = out / "results.jsonl"
                if f.exists() and len(f.read_text().splitlines()) >= want:
                    break
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            finished = {k[0] for k in results(out)} if (out / "results.jsonl").exists() else set()
            mark = len(slow.lines(slow.brain_log))
            r = subprocess.run(eval_cmd(sub, slow.url, out, "gold", "scripted", a.j), capture_output=True, text=True,
                               timeout=3600)
            resumed = json.loads(r.stdout) if r.returncode == 0 else {}
            replayed = {x["task"] for x in slow.lines(slow.brain_log)[mark:]} & finished
            recorded = [json.loads(x)["task_id"] for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
            near_tasks = [k for k, v in near_r.items() if v["near_miss_before_target"]]
            row = {
                "domain": name,
                "tasks": gold["tasks"],
                "gold_scripted": {"reward_1": sum(1 for v in gold_r.values() if v["reward"] == 1.0),
                                  "mean_reward": gold["mean_reward"], "facts_asked_and_given": asked(w / "gold"),
                                  "mean_turns": gold["mean_turns"], "tokens": gold["tokens"], "seconds": round(t_gold, 1)},
                "gold_llm_user": {"reward_1": sum(1 for v in results(w / "gold-llmuser").values() if v["reward"] == 1.0),
                                  "user_tokens": llmu["tokens"]["user_prompt"] + llmu["tokens"]["user_completion"]},
                "near_miss": {"tasks_with_listed_near_miss": len(near_tasks),
                              "reward_0_on_them": sum(1 for k in near_tasks if near_r[k]["reward"] == 0.0),
                              "mean_reward_all": near["mean_reward"]},
                "faults": {"injected_429": injected.count(429), "injected_500": injected.count(500),
                           "requests": len(log),
                           "same_rewards": {k: v["reward"] for k, v in results(w / "faults").items()}
                           == {k: v["reward"] for k, v in gold_r.items()},
                           "same_summary": faults == gold},
                "kill_resume": {"finished_before_kill": len(finished), "replayed_after_resume": len(replayed),
                                "recorded_once": sorted(recorded) == sorted(k[0] for k in gold_r),
                                "summary_equals_uninterrupted": resumed == gold},
            }
            good = (row["gold_scripted"]["reward_1"] == row["tasks"] and row["gold_llm_user"]["reward_1"] == row["tasks"]
                    and row["near_miss"]["reward_0_on_them"] == row["near_miss"]["tasks_with_listed_near_miss"]
                    and row["faults"]["same_rewards"] and row["faults"]["same_summary"]
                    and 0 < len(finished) < row["tasks"] and not replayed and row["kill_resume"]["recorded_once"]
                    and row["kill_resume"]["summary_equals_uninterrupted"])
            row["ok"] = good
            ok &= good
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        for s in (plain, slow):
            s.close()
    for row in rows:
        g, nm, f, k = row["gold_scripted"], row["near_miss"], row["faults"], row["kill_resume"]
        print(f"{row['domain']:9} gold+scripted {g['reward_1']}/{row['tasks']} reward 1.0 ({g['facts_asked_and_given']} facts "
              f"asked), gold+llm-user {row['gold_llm_user']['reward_1']}/{row['tasks']}, near-miss reward 0 on "
              f"{nm['reward_0_on_them']}/{nm['tasks_with_listed_near_miss']}, faults {f['injected_429']}x429 "
              f"{f['injected_500']}x500 same results {f['same_rewards'] and f['same_summary']}, killed after "
              f"{k['finished_before_kill']} -> resumed, replayed {k['replayed_after_resume']}, summary equal "
              f"{k['summary_equals_uninterrupted']}{'' if row['ok'] else '  FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
