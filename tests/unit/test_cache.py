"""The response cache: what makes two requests the same, what is stored, and that it survives
several processes writing at once and a run killed midway. Requests are counted at a real local
server (``TestServer`` on 127.0.0.1), so "served from the cache" means "nothing was sent"."""

from __future__ import annotations

import os
import runpy
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import pytest_medhelm.engine.cache as cache_module
from pytest_medhelm.engine import Completion, Engine, ModelError, ResponseCache, RetryPolicy
from pytest_medhelm.engine.cache import CachedResponse, cache_key
from pytest_medhelm.models import ModelConfig, ModelRequest
from pytest_medhelm.models.registry import Price, RateLimit, Retry
from pytest_medhelm.plugin.fixtures import ServerFactory
from pytest_medhelm.testserver import Fault, TestServer

EngineFactory = Callable[..., Engine]
PROMPTS = [f"Synthetic vignette {i}: first-line treatment?" for i in range(5)]


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "responses.sqlite"


@pytest.fixture
def make_engine(cache_path: Path) -> Iterator[EngineFactory]:
    """Engines sharing one cache file (each with its own connection, like separate runs)."""
    engines: list[Engine] = []

    def make(**kwargs: Any) -> Engine:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=3, base_delay_s=0.01))
        engine = Engine(cache=ResponseCache(cache_path), **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def local_model(server: TestServer, **fields: Any) -> ModelConfig:
    values: dict[str, Any] = {
        "name": "local-test-model",
        "provider": "openai",
        "model": "medhelm-test-model",
        "base_url": server.url,
        "timeout_s": 10.0,
    }
    values.update(fields)
    return ModelConfig(**values)


def ask(engine: Engine, model: ModelConfig, prompt: str = PROMPTS[0], **request: Any) -> Completion:
    request.setdefault("max_tokens", 5)
    return engine.submit(engine.complete(model, ModelRequest(prompt=prompt, **request))).result(timeout=60)


def ask_all(engine: Engine, model: ModelConfig, prompts: Sequence[str]) -> list[Completion]:
    futures = [engine.submit(engine.complete(model, ModelRequest(prompt=p, max_tokens=5))) for p in prompts]
    return [future.result(timeout=60) for future in futures]


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the cache file with a connection of its own, as another process would."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


# -- keying -----------------------------------------------------------------------------------------


def test_everything_that_changes_the_answer_changes_the_key(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server, other_server = medhelm_test_server(), medhelm_test_server()
    engine = make_engine()
    model = local_model(server)
    ask(engine, model)
    variants: dict[str, Callable[[], Completion]] = {
        "model id": lambda: ask(engine, local_model(server, model="another-model")),
        "base URL": lambda: ask(engine, local_model(other_server)),
        "provider": lambda: ask(engine, local_model(server, provider="anthropic")),
        "temperature": lambda: ask(engine, model, temperature=0.7),
        "max_tokens": lambda: ask(engine, model, max_tokens=6),
        "prompt": lambda: ask(engine, model, prompt=PROMPTS[1]),
    }

    for what, call in variants.items():
        before = server.stats.requests + other_server.stats.requests
        completion = call()
        sent = server.stats.requests + other_server.stats.requests - before
        assert (sent, completion.cached) == (1, False), f"a different {what} was served from the cache"
    assert len(engine.cache) == 7


def test_the_endpoint_identity_is_part_of_the_key() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "max_tokens": 5}
    endpoint = {"provider": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "m"}
    keys = {cache_key(endpoint, body)}
    for field, value in [("provider", "anthropic"), ("base_url", "http://127.0.0.1:8001/v1"), ("model", "m2")]:
        keys.add(cache_key({**endpoint, field: value}, body))
    assert len(keys) == 4
    # Key order in a payload is not a difference.
    assert cache_key(endpoint, body) == cache_key(dict(reversed(endpoint.items())), dict(reversed(body.items())))


def test_key_timeout_concurrency_and_retries_do_not_change_the_key(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory
) -> None:
    server = medhelm_test_server()
    first = ask_all(
        make_engine(concurrency=4, env={"KEY_A": "key-one"}), local_model(server, api_key_env="KEY_A"), PROMPTS
    )
    assert server.stats.requests == len(PROMPTS)

    rerun = local_model(
        server, api_key_env="KEY_B", timeout_s=3.0, rate_limit=RateLimit(max_concurrency=1), retry=Retry(max_attempts=2)
    )
    second = ask_all(make_engine(concurrency=1, env={"KEY_B": "key-two"}), rerun, PROMPTS)

    assert server.stats.requests == len(PROMPTS)  # nothing sent the second time
    assert all(c.cached for c in second) and not any(c.cached for c in first)
    assert [c.text for c in second] == [c.text for c in first]


# -- what is stored ---------------------------------------------------------------------------------


def test_a_cache_hit_costs_no_request_and_keeps_usage_and_cost(
    medhelm_test_server: ServerFactory, make_engine: EngineFactory, cache_path: Path
) -> None:
    server = medhelm_test_server(responder=lambda body: "Amoxicillin for ten days")
    model = local_model(server, price=Price(input_per_mtok=2.0, output_per_mtok=8.0, as_of="2026-01-01"))
    fresh = ask(make_engine(), model, "one two three")

    rows = query(cache_path, "SELECT model, text, input_tokens, output_tokens FROM responses")
    assert rows == [("local-test-model", "Amoxicillin for ten days", 3, 4)]

    hit = ask(make_engine(), model, "one two three")
    assert server.stats.requests == 1
    assert hit.cached is True and fresh.cached is False
    assert (hit.text, hit.input_tokens, hit.output_tokens) == (fresh.text, 3, 4)
    assert hit.cost_usd == fresh.cost_usd == pytest.approx((3 * 2.0 + 4 * 8.0) / 1e6)


def test_errors_are_never_cached(medhelm_test_server: ServerFactory, make_engine: EngineFactory) -> None:
    server = medhelm_test_server()
    server.inject(Fault.http(503), Fault.http(503), Fault.http(503))
    engine = make_engine()
    model = local_model(server)

    with pytest.raises(ModelError):
        ask(engine, model)
    assert len(engine.cache) == 0

    assert ask(engine, model).cached is False  # sent again, and answered this time
    assert server.stats.requests == 4
    assert len(engine.cache) == 1


def test_the_file_is_in_wal_mode(cache_path: Path) -> None:
    ResponseCache(cache_path).close()
    assert query(cache_path, "PRAGMA journal_mode") == [("wal",)]


def test_a_stored_response_reads_back_unchanged(cache_path: Path) -> None:
    cache = ResponseCache(cache_path)
    stored = CachedResponse("Métformine, 500 mg ✓", 120, 45, 30, 0.8)
    cache.put("k1", "some-model", stored)
    try:
        assert cache.get("k1") == stored
        assert cache.get("unknown") is None
    finally:
        cache.close()


# -- several processes, and a killed run ----------------------------------------------------------

# Loads cache.py alone: it needs only the standard library, and four interpreters importing the
# whole package (httpx, pydantic, numpy) would take seconds on a small machine.
WRITER = r"""
import importlib.util, sys, time
from pathlib import Path

module_file, db, tag, start = sys.argv[1:]
spec = importlib.util.spec_from_file_location("medhelm_cache", module_file)
cache = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = cache
spec.loader.exec_module(cache)

Path(f"{start}.{tag}").touch()
while not Path(start).exists():  # all four start together
    time.sleep(0.002)
store = cache.ResponseCache(Path(db))
for i in range(300):
    store.put(f"{tag}-{i}", tag, cache.CachedResponse(f"{tag} answer {i}", i, 2 * i, 0, 0.1))
    assert store.get(f"{tag}-{i}").input_tokens == i
    len(store)  # a read across everyone's rows
store.close()
"""


def test_four_processes_write_and_read_one_file_at_once(tmp_path: Path, cache_path: Path) -> None:
    start = tmp_path / "start"
    tags = ["w0", "w1", "w2", "w3"]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, cache_module.__file__, str(cache_path), tag, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in tags
    ]
    deadline = time.monotonic() + 60
    while not all(Path(f"{start}.{tag}").exists() for tag in tags) and time.monotonic() < deadline:
        time.sleep(0.01)
    start.touch()
    outputs = [writer.communicate(timeout=60) for writer in writers]

    for writer, (_, err) in zip(writers, outputs):
        assert writer.returncode == 0, err
        assert "locked" not in err
    cache = ResponseCache(cache_path)
    try:
        assert len(cache) == 1200
        for tag in tags:
            assert cache.get(f"{tag}-299") == CachedResponse(f"{tag} answer 299", 299, 598, 0, 0.1)
    finally:
        cache.close()


RUN = r"""
import sys
from pathlib import Path
from pytest_medhelm.engine import Engine, ResponseCache
from pytest_medhelm.models import ModelConfig, ModelRequest

url, db = sys.argv[1], Path(sys.argv[2])
model = ModelConfig(name="local-test-model", provider="openai", model="medhelm-test-model", base_url=url,
                    timeout_s=30)
engine = Engine(concurrency=4, cache=ResponseCache(db))
futures = [engine.submit(engine.complete(model, ModelRequest(prompt=f"question {i}", max_tokens=5)))
           for i in range(200)]
for future in futures:
    future.result()
engine.close()
"""


def test_a_killed_run_keeps_what_it_received_and_a_rerun_sends_only_the_rest(
    medhelm_test_server: ServerFactory, tmp_path: Path, cache_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = medhelm_test_server(latency=0.05)
    script = tmp_path / "run.py"
    script.write_text(RUN, encoding="utf-8")
    run = subprocess.Popen(
        [sys.executable, str(script), server.url, str(cache_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while server.stats.succeeded < 40 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    answered_before_kill = server.stats.succeeded
    run.send_signal(signal.SIGKILL)
    _, err = run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL, f"the run ended before the kill: {err}"

    assert query(cache_path, "PRAGMA integrity_check") == [("ok",)]
    [(kept,)] = query(cache_path, "SELECT COUNT(*) FROM responses")
    # Everything the run had read is committed: at most its 4 connections' answers were in transit.
    assert answered_before_kill - 4 <= kept <= server.stats.succeeded < 200

    server.reset_stats()
    server.latency = 0.0
    monkeypatch.setattr(sys, "argv", [str(script), server.url, str(cache_path)])
    runpy.run_path(str(script), run_name="__main__")  # the same run again, to the end

    assert server.stats.requests == 200 - kept
    assert query(cache_path, "SELECT COUNT(*) FROM responses") == [(200,)]


# -- an unusable cache file (issue 15, case 2) ------------------------------------------------------


def _sql(path: Path, statement: str) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute(statement)
        db.commit()


def filled(path: Path, count: int = 400) -> None:
    cache = ResponseCache(path)
    for i in range(count):
        cache.put(f"key-{i}", "m", CachedResponse(f"synthetic answer {i} " * 20, i, i, 0, 0.1))
    cache.close()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(parents=True), "is a directory, not a cache file"),
        (
            lambda p: p.write_text("model answers, one a line\n", encoding="utf-8"),
            "is not a response cache (not a SQLite file)",
        ),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), "is not a response cache (not a SQLite file)"),
        (lambda p: _sql(p, "CREATE TABLE notes (x)"), "is another program's SQLite database, not a response cache"),
        (
            lambda p: _sql(p, "PRAGMA user_version = 99"),
            "was written by a newer pytest-medhelm (cache schema 99, this one reads 1)",
        ),
    ],
)
def test_an_unusable_file_is_refused_with_its_path(tmp_path: Path, make: Callable[[Path], Any], reason: str) -> None:
    path = tmp_path / "responses.sqlite"
    make(path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(cache_module.CacheError) as caught:
        ResponseCache(path)
    assert str(caught.value) == f"{path}: {reason}; pass another --medhelm-cache path, or --medhelm-no-cache"
    assert (path.read_bytes() if path.is_file() else None) == before  # never emptied


def test_the_cache_carries_its_schema_version(cache_path: Path) -> None:
    ResponseCache(cache_path).close()
    assert query(cache_path, "PRAGMA user_version") == [(cache_module.SCHEMA_VERSION,)]


def test_a_cache_written_before_the_version_was_set_is_kept_and_stamped(cache_path: Path) -> None:
    filled(cache_path, 3)
    with closing(sqlite3.connect(cache_path)) as db:
        db.execute("PRAGMA user_version = 0")
        db.commit()
    cache = ResponseCache(cache_path)
    assert len(cache) == 3 and cache.warnings == []
    cache.close()
    assert query(cache_path, "PRAGMA user_version") == [(1,)]


def test_a_damaged_cache_is_moved_aside_with_a_warning_and_a_new_one_started(cache_path: Path) -> None:
    filled(cache_path)
    data = bytearray(cache_path.read_bytes())
    page = 4096
    data[3 * page : 5 * page] = b"\xde\xad\xbe\xef" * (page // 2)  # two pages in the middle
    cache_path.write_bytes(bytes(data))

    cache = ResponseCache(cache_path)
    try:
        [warning] = cache.warnings
        assert warning.startswith(f"response cache {cache_path} was damaged (")
        [aside] = cache_path.parent.glob("responses.sqlite.corrupt-*")
        assert aside.read_bytes() == bytes(data)  # kept as it was, for the user to inspect
        assert f"moved to {aside}" in warning
        assert len(cache) == 0
        cache.put("k", "m", CachedResponse("new", 1, 1, 0, 0.1))
        assert cache.get("k") is not None
    finally:
        cache.close()


def _read_only_mount(folder: Path) -> list[str] | None:
    """A command prefix that runs a command with ``folder`` read-only (a private bind mount), or
    None where this process cannot make one (not root, or no mount namespaces)."""
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} {folder} && ! touch {folder}/probe",
        ],
        capture_output=True,
    )
    if probe.returncode != 0:
        return None
    return [
        "unshare",
        "-m",
        "sh",
        "-c",
        f'mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} {folder} && exec "$0" "$@"',
    ]


READ_ONLY_RUN = r"""
import sys
from pathlib import Path
from pytest_medhelm.engine import Engine, ResponseCache
from pytest_medhelm.models import ModelConfig, ModelRequest

url, db = sys.argv[1], Path(sys.argv[2])
model = ModelConfig(name="local-test-model", provider="openai", model="medhelm-test-model", base_url=url,
                    timeout_s=30)
cache = ResponseCache(db)
print("\n".join(cache.warnings))
engine = Engine(concurrency=4, cache=cache)
futures = [engine.submit(engine.complete(model, ModelRequest(prompt=f"question {i}", max_tokens=5)))
           for i in range(int(sys.argv[3]))]
print(sum(future.result().cached for future in futures), "cached")
engine.close()
"""


def test_a_read_only_cache_serves_its_answers_and_stores_nothing(
    medhelm_test_server: ServerFactory, tmp_path: Path, cache_path: Path
) -> None:
    server = medhelm_test_server()
    script = tmp_path / "run.py"
    script.write_text(READ_ONLY_RUN, encoding="utf-8")
    subprocess.run([sys.executable, str(script), server.url, str(cache_path), "20"], check=True, capture_output=True)
    prefix = _read_only_mount(cache_path.parent)
    if prefix is None:
        cache_path.parent.chmod(0o555)
        cache_path.chmod(0o444)
        if os.access(cache_path, os.W_OK):
            pytest.skip("root without mount namespaces: no way to make a read-only folder here")
        prefix = []
    server.reset_stats()

    run = subprocess.run(
        [*prefix, sys.executable, str(script), server.url, str(cache_path), "25"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    cache_path.parent.chmod(0o755)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"response cache {cache_path} is read-only: its answers are used, new answers are not stored",
        "20 cached",
    ]
    assert server.stats.requests == 5  # only the answers the cache lacked
    assert query(cache_path, "SELECT COUNT(*) FROM responses") == [(20,)]
