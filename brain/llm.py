"""The `openai` brain: any OpenAI-compatible chat-completions API through the `openai` SDK.

One turn = the tool-call loop: send the prompt and the tools → run every tool call the model asks for →
send the results back (tool messages with the matching tool_call_id) → until the model writes a final
text, bounded in steps. Transport failures (timeout, connection, 429, 5xx) are retried with backoff and
jitter, bounded; a model that keeps sending bad tool arguments, an empty answer or a loop that never ends
is a failure too, and so is the turn's time budget running out: with a `deadline`, no HTTP call waits past
it (each call's timeout is cut to the time left) and no retry starts that could not finish before it. Every
failure surfaces as `LlmFailure`, and the caller answers with the offline brain.

Pure: what it needs of the platform (the OPENAI_* fallbacks, the retry backoff) comes in as `LlmDefaults`.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from brain.prompts import estimate_tokens

log = logging.getLogger("buildcrm.aiagent")

MAX_STEPS = 6  # model calls per turn (each may carry several tool calls)
MAX_TOOL_ERRORS = 3  # bad tool arguments tolerated per turn before giving up on the model
DEFAULT_TIMEOUT = 20.0
DEFAULT_RETRIES = 2
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_RETRY_BASE = 0.5  # seconds: the first retry waits about this, each next one twice as long
MIN_CALL_SECONDS = 0.2  # less time than this left in the budget: not worth another model call


class LlmFailure(Exception):
    def __init__(self, reason: str, attempts: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


@dataclass
class LlmSettings:
    base_url: str
    api_key: str
    model: str
    timeout: float
    max_retries: int
    retry_base: float


@dataclass(frozen=True)
class LlmDefaults:
    """The platform's fallbacks for what a tenant's `ai` section leaves unset (its OPENAI_* settings), and the
    base of the retry backoff."""

    base_url: str = ""
    api_key: str = ""
    model: str = DEFAULT_MODEL
    retry_base: float = DEFAULT_RETRY_BASE


class ToolRunner(Protocol):
    """What the tool-call loop needs of whoever applies the model's tool calls."""

    errors: int  # invalid tool calls so far in this turn

    def run(self, name: str, arguments: Any) -> dict: ...


@dataclass
class LlmResult:
    text: str
    prompt_tokens: int  # approximate size of the first request of the turn (system + window + tools)
    completion_tokens: int
    calls: int
    attempts: int


def llm_settings(cfg: dict, platform: LlmDefaults) -> LlmSettings:
    """The tenant's base_url / api_key / model (`cfg`: its configuration), falling back to the platform's."""
    ai = cfg.get("ai") or {}
    return LlmSettings(
        base_url=(ai.get("base_url") or platform.base_url or "").rstrip("/"),
        api_key=ai.get("api_key") or platform.api_key or "",
        model=ai.get("model") or platform.model or DEFAULT_MODEL,
        timeout=float(ai.get("timeout_seconds") or DEFAULT_TIMEOUT),
        max_retries=max(0, min(int(ai.get("max_retries", DEFAULT_RETRIES)), 5)),
        retry_base=float(platform.retry_base),
    )


_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def _client(s: LlmSettings):
    """One SDK client (and connection pool) per endpoint, key and timeout; retries are ours, not the SDK's."""
    import openai

    key = (s.base_url, s.api_key, s.timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) > 200:
                _clients.clear()
            client = openai.OpenAI(base_url=s.base_url, api_key=s.api_key, timeout=s.timeout, max_retries=0)
            _clients[key] = client
        return client


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500 or exc.status_code in (408, 409, 429)
    return False


def _time_left(deadline: float | None, last: str, attempts: int) -> float | None:
    """Seconds left before `deadline` (None: no budget); LlmFailure when too few are left for a call."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left < MIN_CALL_SECONDS:
        raise LlmFailure(f"the AI turn's time budget ran out{': ' + last if last else ''}", attempts)
    return left


def chat(s: LlmSettings, messages: list[dict], tools: list[dict] | None = None, *,
         attempts_used: list[int] | None = None, deadline: float | None = None):
    """One chat completion with bounded retries (exponential backoff, full jitter), each HTTP call's timeout
    cut to what is left before `deadline` (a time.monotonic() value; None: the configured timeout only)."""
    if not s.api_key:
        raise LlmFailure("no API key configured for the LLM")
    kwargs: dict[str, Any] = {"model": s.model, "messages": messages, "temperature": 0.4}
    if tools:
        kwargs.update(tools=tools, tool_choice="auto")
    last = ""
    attempts_used = attempts_used if attempts_used is not None else [0]
    client = _client(s)  # built (and the SDK imported) before the clock is read for the call's timeout
    for attempt in range(s.max_retries + 1):
        left = _time_left(deadline, last, attempts_used[0])
        attempts_used[0] += 1
        try:
            timeout = s.timeout if left is None else min(s.timeout, left)
            response = client.chat.completions.create(**kwargs, timeout=timeout)
            if not getattr(response, "choices", None):
                raise LlmFailure("the LLM answered without choices")
            return response
        except LlmFailure:
            raise
        except Exception as exc:
            last = f"{type(exc).__name__}: {str(exc)[:200]}"
            if not _retryable(exc):
                raise LlmFailure(f"LLM error: {last}") from None
            if attempt < s.max_retries:
                delay = random.uniform(0.5, 1.5) * s.retry_base * (2 ** attempt)
                if deadline is not None and time.monotonic() + delay + MIN_CALL_SECONDS > deadline:
                    raise LlmFailure(f"the AI turn's time budget ran out: {last}", attempts_used[0]) from None
                log.warning("llm retry attempt=%s in %.2fs: %s", attempt + 1, delay, last)
                time.sleep(delay)
    if deadline is not None and time.monotonic() + MIN_CALL_SECONDS > deadline:  # the last call was cut short
        raise LlmFailure(f"the AI turn's time budget ran out: {last}", attempts_used[0])
    raise LlmFailure(f"LLM failed after {s.max_retries + 1} attempts: {last}", attempts_used[0])


def run_turn(*, s: LlmSettings, system: str, history: list[dict], tools: list[dict], runner: ToolRunner,
             deadline: float | None = None) -> LlmResult:
    """The tool-call loop. `runner.run(name, arguments_json) -> dict` applies one call and counts invalid
    arguments in `runner.errors`; returns the final text. Raises LlmFailure, also
    when `deadline` (time.monotonic()) passes before the model's final text."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}, *history]
    prompt_tokens = estimate_tokens(messages) + estimate_tokens(tools)
    completion_tokens, calls = 0, 0
    attempts = [0]
    for _step in range(MAX_STEPS):
        response = chat(s, messages, tools, attempts_used=attempts, deadline=deadline)
        calls += 1
        try:
            message = response.choices[0].message
            usage = getattr(response, "usage", None)
            completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
            tool_calls = list(message.tool_calls or [])
        except Exception as exc:  # a malformed response body
            raise LlmFailure(f"malformed LLM response: {exc}", attempts[0]) from None
        if tool_calls:
            messages.append({"role": "assistant", "content": message.content or None, "tool_calls": [
                {"id": tc.id, "type": "function",
                 "function": {"name": tc.function.name, "arguments": tc.function.arguments or "{}"}}
                for tc in tool_calls]})
            for tc in tool_calls:
                result = runner.run(tc.function.name, tc.function.arguments or "{}")
                messages.append({"role": "tool", "tool_call_id": tc.id,
                                 "content": json.dumps(result, ensure_ascii=False, default=str)})
            if runner.errors >= MAX_TOOL_ERRORS:
                raise LlmFailure(f"bad tool arguments {runner.errors} times", attempts[0])
            continue
        text = (message.content or "").strip()
        if not text:
            raise LlmFailure("the LLM returned an empty reply", attempts[0])
        return LlmResult(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, calls=calls,
                         attempts=attempts[0])
    raise LlmFailure(f"no final reply after {MAX_STEPS} model calls", attempts[0])


def complete_text(*, s: LlmSettings, system: str, history: list[dict]) -> str:
    """A single completion without tools (follow-up texts)."""
    response = chat(s, [{"role": "system", "content": system}, *history])
    text = (response.choices[0].message.content or "").strip()
    if not text:
        raise LlmFailure("the LLM returned an empty reply")
    return text
