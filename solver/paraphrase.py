"""Optional paraphrase: reword each task's instruction with a model, keep only fact-checked rewrites.

    envsynth paraphrase DIR --model openai:MODEL [--base-url URL] [--api-key-env VAR] -o OUT

asks an OpenAI-compatible chat-completions endpoint (the official `openai` client; it retries
429s and 5xx with backoff) to reword each instruction, and runs `play.factcheck.fact_check`
against the template text. A rewrite that passes becomes the instruction; one that fails leaves
the template text. Either way `task.meta.paraphrase` records the model, the outcome, the
template text and the rejection reasons, and the manifest counts accepted and rejected by reason.
The task ids stay (a paraphrased task is the same task), so eval results compare across versions.

The server's replies are journaled (`paraphrases.jsonl` in the output) as they arrive: a run that
is interrupted resumes without asking again, and the output is a function of the source and the
replies - the same replies give the same dataset, byte for byte, in the source's order.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .errors import EnvsynthError
from .play.factcheck import fact_check, reason_kind, task_facts
from .tasks.derive import task_json
from .tasks.model import Paraphrase, Task
from .verify import dataset_spec, iter_tasks, tasks_file

JOURNAL = "paraphrases.jsonl"
SYSTEM_PROMPT = (
    "You reword messages that a customer sends to a support agent, for variety. Rewrite the message in "
    "different words and sentence order, as the same customer, in the first person. Keep every fact exactly: "
    "ids and account numbers as written, names, emails, dates, times, amounts and other numbers, and every "
    "detail of how the customer describes things (cheapest, most recent, next, still active, not cancelled, "
    "in economy, ...). Add nothing: no new facts, numbers, dates, names, conditions or details, and do not "
    "change what is asked. Reply with the rewritten message only."
)


@dataclass
class ParaphraseOptions:
    model: str  # openai:MODEL
    base_url: Optional[str] = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    seed: Optional[int] = 0
    concurrency: int = 4
    max_retries: int = 6
    timeout: float = 120.0


@dataclass
class ParaphraseSummary:
    model: str
    tasks: int = 0
    asked: int = 0  # requests sent in this run (the rest came from the journal)
    accepted: int = 0
    unchanged: int = 0  # accepted, but the same text as the template
    rejected: int = 0
    no_reply: int = 0  # the server gave no usable reply, even after retries: kept the template text
    rejected_by_reason: dict[str, int] = field(default_factory=dict)  # reason kind -> rejected tasks with it
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"model": self.model, "tasks": self.tasks, "accepted": self.accepted, "unchanged": self.unchanged,
                "rejected": self.rejected, "no_reply": self.no_reply,
                "rejected_by_reason": dict(sorted(self.rejected_by_reason.items()))}


def model_name(model: str) -> str:
    """"openai:gpt-4o-mini" -> "gpt-4o-mini" (the only provider: any OpenAI-compatible endpoint)."""
    provider, sep, name = model.partition(":")
    if not sep or provider != "openai" or not name:
        raise EnvsynthError(f"--model {model!r}: write openai:MODEL (any OpenAI-compatible endpoint; "
                            "--base-url for a local server)")
    return name


def make_client(opts: ParaphraseOptions):
    try:
        import openai
    except ImportError:
        raise EnvsynthError("paraphrase needs the openai client: pip install 'envsynth[llm]'") from None
    key = os.environ.get(opts.api_key_env)
    if not key:
        if opts.base_url is None:
            raise EnvsynthError(f"no API key: set {opts.api_key_env} (or name another variable with --api-key-env), "
                                "or give --base-url for a server that needs none")
        key = "none"  # local servers (vLLM, ollama, llama.cpp) accept any key
    return openai.OpenAI(base_url=opts.base_url, api_key=key, max_retries=opts.max_retries, timeout=opts.timeout)


def clean_reply(text: Optional[str]) -> str:
    """The rewrite without the wrapping a model may add: surrounding quotes and whitespace."""
    t = (text or "").strip()
    for a, b in (('"', '"'), ("\u201c", "\u201d"), ("'", "'")):
        if len(t) >= 2 and t.startswith(a) and t.endswith(b) and a not in t[1:-1]:
            t = t[1:-1].strip()
    return t


def ask(client, opts: ParaphraseOptions, original: str) -> str:
    """One rewrite from the server (the client retries rate limits and server errors)."""
    kwargs = dict(model=model_name(opts.model), temperature=opts.temperature,
                  messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": original}])
    if opts.seed is not None:
        kwargs["seed"] = opts.seed
    resp = client.chat.completions.create(**kwargs)
    if not resp.choices:
        raise EnvsynthError("the server's reply has no choices")
    return resp.choices[0].message.content or ""


def _key(task_id: str, original: str, opts: ParaphraseOptions) -> str:
    """What a reply answers: the task's template text, asked of this model with these options."""
    return hashlib.sha256(json.dumps([task_id, original, opts.model, opts.temperature, opts.seed]).encode()).hexdigest()[:24]


def template_text(task: Task) -> str:
    """The instruction as the templates rendered it (a paraphrased dataset keeps it in meta)."""
    return task.meta.paraphrase.original if task.meta.paraphrase is not None else task.instruction


def read_journal(path: Path) -> dict[str, str]:
    """key -> reply, from a journal a run may have left half-written (a torn last line is ignored)."""
    out: dict[str, str] = {}
    if path.exists():
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    out[rec["key"]] = rec["reply"]
                except (ValueError, KeyError, TypeError):
                    continue
    return out


def paraphrase_dataset(src: Path, out: Optional[Path], opts: ParaphraseOptions, *, in_place: bool = False,
                       spec: Optional[str] = None, client=None,
                       progress: Optional[Callable[[int, int], None]] = None) -> ParaphraseSummary:
    """Reword every instruction of the dataset `src` into `out` (or `src` itself with `in_place`);
    see the module docstring. Returns the counts the manifest records."""
    model_name(opts.model)
    path = tasks_file(src)
    src_dir = path.parent
    if in_place:
        dest = src_dir
    elif out is None:
        raise EnvsynthError("give -o OUT for the paraphrased dataset (or --in-place to rewrite DIR itself)")
    else:
        dest = Path(out)
        if dest.exists() and dest.resolve() == src_dir.resolve():
            raise EnvsynthError(f"-o {out} is the source dataset: pass --in-place to rewrite it")
        if dest.exists() and not dest.is_dir():
            raise EnvsynthError(f"-o {out} is a file, not a directory")
    domain = dataset_spec(src_dir, spec)
    dest.mkdir(parents=True, exist_ok=True)
    journal_path = dest / JOURNAL
    replies = read_journal(journal_path)

    pending: list[tuple[str, str]] = []  # (key, original) not answered yet
    total = 0
    for task in iter_tasks(path):
        total += 1
        original = template_text(task)
        k = _key(task.id, original, opts)
        if k not in replies:
            pending.append((k, original))
    summary = ParaphraseSummary(model=opts.model, tasks=total)
    failed: dict[str, str] = {}
    if pending:
        client = client if client is not None else make_client(opts)
        lock = threading.Lock()
        done = total - len(pending)
        if progress:
            progress(done, total)

        def one(item: tuple[str, str]) -> tuple[str, Optional[str], Optional[str]]:
            k, original = item
            try:
                return k, ask(client, opts, original), None
            except EnvsynthError as e:
                return k, None, str(e)
            except Exception as e:  # noqa: BLE001 - the client's errors after its retries: the task keeps its text
                return k, None, f"{type(e).__name__}: {e}"

        with ThreadPoolExecutor(max_workers=max(1, opts.concurrency)) as pool, \
                open(journal_path, "a", encoding="utf-8") as journal:
            futures = [pool.submit(one, item) for item in pending]
            try:
                for fut in as_completed(futures):
                    k, reply, error = fut.result()
                    summary.asked += 1
                    with lock:
                        if reply is not None:
                            replies[k] = reply
                            journal.write(json.dumps({"key": k, "model": opts.model, "reply": reply},
                                                     ensure_ascii=False) + "\n")
                            journal.flush()
                        else:
                            failed[k] = error or "no reply"
                    done += 1
                    if progress:
                        progress(done, total)
            except KeyboardInterrupt:
                for f in futures:
                    f.cancel()
                raise
    elif progress:
        progress(total, total)

    # assemble: the source's order, each rewrite fact-checked against its template text
    by_reason: Counter = Counter()
    tmp = dest / "tasks.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for task in iter_tasks(path):
            original = template_text(task)
            k = _key(task.id, original, opts)
            reply = replies.get(k)
            if reply is None:
                summary.no_reply += 1
                summary.errors.append(f"{task.id}: {failed.get(k, 'no reply')}")
                task.instruction = original
                task.meta.paraphrase = Paraphrase(model=opts.model, accepted=False, original=original,
                                                  reasons=[f"no reply: {failed.get(k, 'no reply')}"])
            else:
                text = clean_reply(reply)
                ok, reasons = fact_check(original, text, task_facts(domain, task))
                if ok:
                    summary.accepted += 1
                    summary.unchanged += text == original
                    task.instruction = text
                    task.meta.paraphrase = Paraphrase(model=opts.model, accepted=True, original=original)
                else:
                    summary.rejected += 1
                    by_reason.update({reason_kind(r) for r in reasons})
                    task.instruction = original
                    task.meta.paraphrase = Paraphrase(model=opts.model, accepted=False, original=original,
                                                      reasons=reasons, rejected=text)
            f.write(task_json(domain, task) + "\n")
    summary.rejected_by_reason = dict(sorted(by_reason.items()))
    os.replace(tmp, dest / "tasks.jsonl")
    if not in_place:
        spec_file = Path(spec) if spec is not None and Path(spec).exists() else src_dir / "spec.yaml"
        if spec_file.exists():
            shutil.copyfile(spec_file, dest / "spec.yaml")
    manifest_src = src_dir / "manifest.json"
    manifest = json.loads(manifest_src.read_text(encoding="utf-8")) if manifest_src.exists() else {}
    manifest["paraphrase"] = {**summary.to_json(), "temperature": opts.temperature,
                              "seed": opts.seed}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary
