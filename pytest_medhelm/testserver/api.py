"""The OpenAI Chat Completions and Anthropic Messages shapes: request validation, answers and
error bodies in each API's style."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, FrozenSet, Optional, Tuple

CHAT_PATH = "/v1/chat/completions"
MESSAGES_PATH = "/v1/messages"
MODELS_PATH = "/v1/models"
COMPLETION_PATHS = (CHAT_PATH, MESSAGES_PATH)
UNCOUNTED_PATHS = ("/stats", "/stats/reset", "/health")


def text_of(content: Any) -> str:
    """Plain text of an OpenAI/Anthropic message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif "content" in part:
                    out.append(text_of(part["content"]))
        return " ".join(out)
    return ""


def count_words(text: str) -> int:
    return max(1, len(text.split()))


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def default_responder(request: Dict[str, Any]) -> str:
    return "A"


class Invalid(Exception):
    """A request the API rejects (400 invalid_request_error or 404 model_not_found)."""

    def __init__(self, status: int, message: str, code: Optional[str] = None, param: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


def error_body(
    flavor: str, status: int, message: str, code: Optional[str] = None, param: Optional[str] = None
) -> bytes:
    if flavor == "anthropic":
        etype = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            413: "request_too_large",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return json.dumps({"type": "error", "error": {"type": etype, "message": message}}).encode()
    if status == 429:
        etype, default_code = "rate_limit_error", "rate_limit_exceeded"
    elif status >= 500:
        etype, default_code = "server_error", None
    else:
        etype, default_code = "invalid_request_error", None
    err = {"message": message, "type": etype, "param": param, "code": code or default_code}
    return json.dumps({"error": err}).encode()


def validate(body: Dict[str, Any], flavor: str, known_models: Optional[FrozenSet[str]]) -> Tuple[str, Optional[int]]:
    """The model and the output-token limit of a completion request; :class:`Invalid` if it is refused."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Invalid(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Invalid(400, "messages must be a non-empty array", param="messages")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or "content" not in m:
            raise Invalid(400, "each message needs a role and content", param="messages")
    if body.get("stream"):
        raise Invalid(400, "streaming is not supported by the test server", param="stream")
    if flavor == "anthropic":
        limit = body.get("max_tokens")
        if limit is None:
            raise Invalid(400, "max_tokens: Field required", param="max_tokens")
        max_temp = 1.0
    else:
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        max_temp = 2.0
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise Invalid(400, f"max tokens must be a positive integer, got {limit!r}", param="max_tokens")
    temp = body.get("temperature")
    if temp is not None and (isinstance(temp, bool) or not isinstance(temp, (int, float)) or not 0 <= temp <= max_temp):
        raise Invalid(400, f"temperature must be between 0 and {max_temp:g}", param="temperature")
    if known_models is not None and model not in known_models:
        if flavor == "anthropic":
            raise Invalid(404, f"model: {model}")
        raise Invalid(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        )
    return model, limit


def models_payload(known_models: Optional[FrozenSet[str]], model_name: str) -> bytes:
    names = sorted(known_models) if known_models is not None else [model_name]
    data = [
        {"id": n, "object": "model", "type": "model", "created": 0, "owned_by": "medhelm-testserver", "display_name": n}
        for n in names
    ]
    return json.dumps(
        {
            "object": "list",
            "data": data,
            "has_more": False,
            "first_id": names[0] if names else None,
            "last_id": names[-1] if names else None,
        }
    ).encode()


def completion_payload(flavor: str, body: Dict[str, Any], model: str, text: str, limit: Optional[int], n: int) -> bytes:
    """A completion answer; ``n`` numbers its id."""
    truncated = False
    if limit is not None:
        words = text.split()
        if len(words) > limit:
            text = " ".join(words[:limit])
            truncated = True
    out_tokens = count_words(text)
    if flavor == "anthropic":
        prompt = text_of(body.get("system")) + " " + " ".join(text_of(m.get("content")) for m in body["messages"])
        in_tokens = count_words(prompt)
        return json.dumps(
            {
                "id": f"msg_test{n:08d}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "max_tokens" if truncated else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": in_tokens, "output_tokens": out_tokens},
            }
        ).encode()
    prompt = " ".join(text_of(m.get("content")) for m in body["messages"])
    in_tokens = count_words(prompt)
    n_choices = body.get("n", 1)
    if isinstance(n_choices, bool) or not isinstance(n_choices, int) or n_choices < 1:
        n_choices = 1
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "length" if truncated else "stop",
            "logprobs": None,
        }
        for i in range(n_choices)
    ]
    return json.dumps(
        {
            "id": f"chatcmpl-test{n:08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "medhelm-testserver",
            "choices": choices,
            "usage": {
                "prompt_tokens": in_tokens,
                "completion_tokens": out_tokens * n_choices,
                "total_tokens": in_tokens + out_tokens * n_choices,
            },
        }
    ).encode()
