"""A real OpenAI-compatible chat-completions server for tests, on 127.0.0.1, replying from a script.

No network exists on the development machines, so model-facing code is tested against this
process: a real HTTP server the real `openai` client talks to. What it answers is decided by a
*brain*, `module:function` taking the request body (dict) and returning either an assistant
message (`{"content": ..., "tool_calls": [{"id", "type": "function", "function": {"name",
"arguments": <JSON text>}}]}`) or `{"error": STATUS, "message": ...}`. Faults are injected on top:
`--fail 429@3,500@5` makes the 3rd and 5th requests fail with that status (a 429 carries
`Retry-After: 0`); `--fail-every 429:4` fails every 4th request; `--delay S` sleeps before each reply.

    python tests/chat_server.py --brain tests.brains:gold --port 0 [--fail ...] [--delay 0.2]

prints `PORT <n>` as its first line once it listens, and logs each request as one JSON line to
`--log FILE` when given (what the tests read to count requests and retries).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.<brain>` importable


class State:
    def __init__(self, brain, fail_at: dict[int, int], fail_every: tuple[int, int] | None, delay: float,
                 log: str | None):
        self.brain = brain
        self.fail_at = fail_at
        self.fail_every = fail_every
        self.delay = delay
        self.log = log
        self.count = 0
        self.lock = threading.Lock()

    def next_number(self) -> int:
        with self.lock:
            self.count += 1
            return self.count


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            return

        def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # /v1/models, which some clients probe
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "test"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self):
            n = state.next_number()
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
                return
            if state.delay:
                time.sleep(state.delay)
            status = state.fail_at.get(n)
            if status is None and state.fail_every and n % state.fail_every[1] == 0:
                status = state.fail_every[0]
            if state.log:
                with state.lock, open(state.log, "a") as f:
                    f.write(json.dumps({"n": n, "path": self.path, "injected": status, "model": body.get("model"),
                                        "messages": len(body.get("messages", []))}) + "\n")
            if status is not None:
                headers = {"Retry-After": "0"} if status == 429 else None
                self._send(status, {"error": {"message": f"injected {status}", "type": "server_error", "code": status}},
                           headers)
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                reply = state.brain(body)
            except Exception as e:  # noqa: BLE001 - a broken script shows as a 500 with its reason
                self._send(500, {"error": {"message": f"brain failed: {type(e).__name__}: {e}", "type": "server_error"}})
                return
            if "error" in reply:
                self._send(int(reply["error"]), {"error": {"message": reply.get("message", ""), "type": "server_error"}})
                return
            message = {"role": "assistant", "content": reply.get("content")}
            if reply.get("tool_calls"):
                message["tool_calls"] = reply["tool_calls"]
            prompt_tokens = sum(len(str(m.get("content") or "")) // 4 + 1 for m in body.get("messages", []))
            completion_tokens = len(json.dumps(message)) // 4 + 1
            self._send(200, {
                "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
            })

    return Handler


class QuietServer(ThreadingHTTPServer):
    """A client that goes away mid-reply (a test kills an eval on purpose) is not an error here."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def load_brain(spec: str):
    mod, _, fn = spec.partition(":")
    return getattr(importlib.import_module(mod), fn)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--brain", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fail", default="", help="STATUS@N,... : the Nth request fails with STATUS")
    p.add_argument("--fail-every", default="", help="STATUS:K : every Kth request fails with STATUS")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--log", default=None)
    a = p.parse_args(argv)
    fail_at = {int(n): int(s) for s, n in (x.split("@") for x in a.fail.split(",") if x)}
    every = tuple(int(x) for x in a.fail_every.split(":")) if a.fail_every else None
    state = State(load_brain(a.brain), fail_at, every, a.delay, a.log)
    server = QuietServer(("127.0.0.1", a.port), make_handler(state))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
