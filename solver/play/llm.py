"""A model behind any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, ollama,
llama.cpp's server, hosted APIs), through the official `openai` client.

Retries: the client retries 408/409/429/5xx and dropped connections itself (`max_retries`,
exponential backoff, `Retry-After` honoured); when it gives up, `Endpoint.chat` waits and tries
again a bounded number of rounds (`rounds`, `pause` seconds doubling, or the server's
Retry-After). So a rate limit or a server error that clears never changes a result. What is
left after that is an `EndpointFailure`:

- `infrastructure=True` (the endpoint stayed down or rate-limited, or refused the key or the
  model): not the agent's doing - the episode is recorded with `retry` set, a resumed run plays
  it again, and the eval stops early with the message;
- `infrastructure=False` (the endpoint rejected this conversation: 400/422, e.g. it outgrew the
  model's context): the agent's episode ends there and is scored as it stands.
"""

from __future__ import annotations

import os
import time
from typing import Any, Optional

from ..errors import EnvsynthError


class EndpointFailure(EnvsynthError):
    def __init__(self, message: str, infrastructure: bool):
        super().__init__(message)
        self.infrastructure = infrastructure


def api_key(api_key_env: Optional[str], base_url: Optional[str]) -> str:
    """The key from the named environment variable; OPENAI_API_KEY by default, and a placeholder
    for a local server (given by --base-url) that needs none."""
    if api_key_env:
        value = os.environ.get(api_key_env)
        if not value:
            raise EnvsynthError(f"the environment variable {api_key_env} (given by --api-key-env) is not set; "
                                f"export {api_key_env}=<your key>")
        return value
    value = os.environ.get("OPENAI_API_KEY")
    if value:
        return value
    if base_url:
        return "none"  # local servers (vLLM, ollama, llama.cpp) accept any key
    raise EnvsynthError("no API key: set OPENAI_API_KEY, or name the variable holding it with --api-key-env, "
                        "or give --base-url for a local server that needs none")


class Endpoint:
    """One model at one endpoint; thread-safe (the client is shared by the eval's threads)."""

    def __init__(self, model: str, base_url: Optional[str] = None, key: str = "none", retries: int = 6,
                 timeout: float = 300.0, rounds: Optional[int] = None, pause: float = 5.0):
        try:
            import openai
        except ImportError:
            raise EnvsynthError("the openai: agent needs the openai client: pip install 'envsynth[llm]' "
                                "(or pip install openai)") from None
        self.openai = openai
        self.model = model
        self.base_url = base_url
        self.client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=retries, timeout=timeout)
        self.rounds = min(2, retries) if rounds is None else rounds
        self.pause = pause

    def chat(self, messages: list[dict[str, Any]], tools: Optional[list[dict]] = None, temperature: float = 0.0,
             seed: Optional[int] = None) -> tuple[dict[str, Any], tuple[int, int]]:
        """One completion: (assistant message as a dict, (prompt tokens, completion tokens))."""
        o = self.openai
        kw: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature}
        if tools:
            kw["tools"] = tools
        if seed is not None:
            kw["seed"] = seed
        where = self.base_url or "the OpenAI API"
        for attempt in range(self.rounds + 1):
            try:
                response = self.client.chat.completions.create(**kw)
                break
            except (o.RateLimitError, o.InternalServerError, o.APIConnectionError) as e:
                # the client already retried with backoff: pause longer and try again, a few rounds
                if attempt == self.rounds:
                    raise EndpointFailure(f"{where} still failing after retries: {_describe(e)}", True) from None
                wait = _retry_after(e)
                time.sleep(wait if wait is not None else self.pause * 2 ** attempt)
            except (o.AuthenticationError, o.PermissionDeniedError) as e:
                raise EndpointFailure(f"{where} refused the API key: {_describe(e)}", True) from None
            except o.NotFoundError as e:
                raise EndpointFailure(f"{where} has no model '{self.model}' (or no chat-completions route): "
                                      f"{_describe(e)}", True) from None
            except o.APIStatusError as e:  # 400, 422, ...: this conversation was rejected
                raise EndpointFailure(f"{where} rejected the request: {_describe(e)}", False) from None
            except o.OpenAIError as e:  # a reply the client cannot read
                raise EndpointFailure(f"{where} answered something the client cannot read: {_describe(e)}",
                                      True) from None
        if not response.choices:
            raise EndpointFailure(f"{where} returned no choices", True)
        message = response.choices[0].message
        out: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            out["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.function.name, "arguments": c.function.arguments or ""}}
                                 for c in message.tool_calls if getattr(c, "function", None) is not None]
        usage = response.usage
        tokens = (int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)) \
            if usage is not None else (0, 0)
        return out, tokens


def _describe(e: Exception) -> str:
    status = getattr(e, "status_code", None)
    text = str(getattr(e, "message", "") or e).strip()
    return (f"HTTP {status}: " if status else "") + (text[:300] or type(e).__name__)


def _retry_after(e: Exception) -> Optional[float]:
    response = getattr(e, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        wait = float(value) if value is not None else None
    except ValueError:
        return None
    return wait if wait is not None and 0 <= wait <= 120 else None
