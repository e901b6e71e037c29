"""Fixtures for the plugin tests: real pytest sessions (``pytester``), local model servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from medhelm_sessions import Medhelm
from pytest_medhelm.testserver import TestServer


@pytest.fixture
def medhelm(pytester: pytest.Pytester) -> Medhelm:
    return Medhelm(pytester)


@pytest.fixture
def server() -> Iterator[TestServer]:
    """A local OpenAI-compatible server on 127.0.0.1 that always answers "A" (PubMedQA: yes).

    The latency keeps requests overlapping, so the session's concurrency limit is visible in
    ``server.stats.peak_in_flight``.
    """
    with TestServer(latency=0.05) as running:
        yield running


@pytest.fixture
def closed_port() -> int:
    """A 127.0.0.1 port that was bound and released: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
