"""What crosses the engine process's sockets: a 4-byte length and a pickle per frame."""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Any

from pytest_medhelm.engine.core import Completion
from pytest_medhelm.models.providers import ModelRequest

HEADER = struct.Struct("!I")


def frame(message: Any) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> Any:
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    return pickle.loads(await reader.readexactly(size))


# Plain tuples cross the socket: they pickle the same on every supported Python.
def request_fields(request: ModelRequest) -> tuple[Any, ...]:
    return (request.prompt, request.max_tokens, request.temperature, request.stop, request.choices, request.context)


def completion_fields(completion: Completion) -> tuple[Any, ...]:
    return (
        completion.model,
        completion.text,
        completion.input_tokens,
        completion.output_tokens,
        completion.latency_s,
        completion.cached,
        completion.cost_usd,
        completion.reasoning_tokens,
    )
