"""Provider wire formats: a :class:`ModelRequest` to an HTTP payload, and a response body back.

Pure functions, no I/O: the engine sends what these build. HELM sends the whole prompt as one user
message with no system prompt (spec 7.5); so do we.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pytest_medhelm.models.registry import ModelConfig

ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True, slots=True)
class ModelRequest:
    prompt: str
    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    # Read only by the offline baselines, never sent to a provider: the options of a
    # multiple-choice instance and the instance's own text.
    choices: tuple[str, ...] = ()
    context: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


class MalformedResponse(ValueError):
    """A 200 response whose body is not the provider's format (retried like a dropped call)."""


class ContentFiltered(Exception):
    """The provider's content filter withheld the answer: not retried (the same prompt is filtered
    again), not cached, and the item errors naming the cause, as in HELM."""


@dataclass(frozen=True, slots=True)
class HttpCall:
    url: str
    body: dict[str, Any]


def build_call(model: ModelConfig, request: ModelRequest) -> HttpCall:
    if model.base_url is None:
        raise ValueError(f"model {model.name!r} has no base_url")
    max_tokens = model.output_budget(request.max_tokens)
    messages = [{"role": "user", "content": request.prompt}]
    if model.provider == "anthropic":
        body: dict[str, Any] = {
            "model": model.model,
            "max_tokens": max_tokens,
            "messages": messages,
            "temperature": request.temperature,
        }
        # Claude rejects whitespace-only stop sequences; HELM drops them (spec 7.5).
        stops = [s for s in request.stop if s.strip()]
        if stops:
            body["stop_sequences"] = stops
        body.update(model.params)
        return HttpCall(f"{model.base_url}/messages", body)
    # HELM's OpenAI client's body, field for field and in its order (helm/clients/openai_client.py):
    # its Request defaults top_p, n and the penalties are sent too, and an empty stop list as null.
    stop = list(request.stop) or None
    if model.reasoning and model.reasoning.openai_o_params:
        # o-series: max_completion_tokens; no temperature, top_p or penalties; no null stop.
        body = {"model": model.model, "messages": messages, "n": 1}
        if stop is not None:
            body["stop"] = stop
        body["max_completion_tokens"] = max_tokens
    else:
        body = {
            "model": model.model,
            "messages": messages,
            "temperature": request.temperature,
            "top_p": 1,
            "n": 1,
            "stop": stop,
            "max_tokens": max_tokens,
            "presence_penalty": 0,
            "frequency_penalty": 0,
        }
    body.update(model.params)
    return HttpCall(f"{model.base_url}/chat/completions", body)


def auth_headers(model: ModelConfig, api_key: str | None) -> dict[str, str]:
    if model.provider == "anthropic":
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def parse_response(model: ModelConfig, body: Any) -> tuple[str, Usage]:
    try:
        if model.provider == "anthropic":
            text = "".join(block.get("text", "") for block in body["content"] if block.get("type") == "text")
            usage = body.get("usage") or {}
            return text, Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
        choices = body["choices"]
        if not choices:
            raise MalformedResponse("no choices in the response")
        if choices[0].get("finish_reason") == "content_filter":
            raise ContentFiltered("the provider's content filter withheld the answer (finish_reason content_filter)")
        message = choices[0]["message"]
        # finish_reason "length": the answer as far as it got is scored, as in HELM; a reasoning
        # model that spent its whole budget thinking has no content, and is scored as empty.
        text = message.get("content") or ""
        usage = body.get("usage") or {}
        details = usage.get("completion_tokens_details") or {}
        return text, Usage(
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
            int(details.get("reasoning_tokens") or 0),
        )
    except MalformedResponse:
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise MalformedResponse(f"unexpected response shape ({type(exc).__name__}: {exc})") from None


_THINK = re.compile(r"<think>.*?</think>\n*", re.DOTALL)


def postprocess(model: ModelConfig, text: str, stop: tuple[str, ...] = ()) -> str:
    """DeepSeek-R1 think-stripping (an unclosed block empties the output) and stop truncation."""
    if model.reasoning and model.reasoning.strip_think and "<think>" in text:
        text = _THINK.sub("", text)
        if "<think>" in text:
            text = ""
    for sequence in stop:
        if sequence and sequence in text:
            text = text[: text.index(sequence)]
    return text
