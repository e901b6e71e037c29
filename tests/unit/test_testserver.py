"""Tests for the project's OpenAI/Anthropic-compatible test server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import pytest_medhelm
from pytest_medhelm.testserver import Fault, ServerStats, TestServer

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
ANTHROPIC = {
    "model": "claude-test",
    "max_tokens": 16,
    "system": "Answer briefly.",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Name one antibiotic."}]}],
}


def chat(prompt: str = "hello", **extra) -> dict:
    return {"model": "gpt-test", "messages": [{"role": "user", "content": prompt}], **extra}


@pytest.fixture
def server():
    with TestServer() as srv:
        yield srv


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def raw_exchange(server: TestServer, data: bytes, *, read_until_close: bool = True, timeout: float = 5.0) -> bytes:
    """Send raw bytes, return everything the server sends back until it closes."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(data)
        if not read_until_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def raw_post(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


# --------------------------------------------------------------------------- round trips


def test_url_shape(server):
    assert server.url == f"http://127.0.0.1:{server.port}/v1"
    assert server.port > 0


def test_chat_completion_round_trip(client, server):
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 200
    data = r.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "gpt-test"
    assert data["id"]
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "A"}
    assert choice["finish_reason"] == "stop"
    # whitespace-split words: "What is the capital of France?" -> 6
    assert data["usage"] == {"prompt_tokens": 6, "completion_tokens": 1, "total_tokens": 7}
    assert server.requests == [CHAT]


def test_anthropic_messages_round_trip(client):
    r = client.post("/messages", json=ANTHROPIC)
    assert r.status_code == 200
    data = r.json()
    assert data["type"] == "message"
    assert data["role"] == "assistant"
    assert data["content"] == [{"type": "text", "text": "A"}]
    assert data["stop_reason"] == "end_turn"
    # "Answer briefly." (2) + "Name one antibiotic." (3)
    assert data["usage"] == {"input_tokens": 5, "output_tokens": 1}


def test_custom_responder_and_max_tokens_truncation():
    def responder(req: dict) -> str:
        return "echo " + req["messages"][-1]["content"]

    with TestServer(responder=responder) as srv, httpx.Client(base_url=srv.url) as c:
        data = c.post("/chat/completions", json=chat("one two three")).json()
        assert data["choices"][0]["message"]["content"] == "echo one two three"
        assert data["usage"]["completion_tokens"] == 4

        data = c.post("/chat/completions", json=chat("one two three", max_tokens=2)).json()
        assert data["choices"][0]["message"]["content"] == "echo one"
        assert data["choices"][0]["finish_reason"] == "length"

        data = c.post("/chat/completions", json=chat("one two three", max_completion_tokens=3)).json()
        assert data["choices"][0]["finish_reason"] == "length"

        body = dict(ANTHROPIC, max_tokens=1, messages=[{"role": "user", "content": "a b"}])
        data = c.post("/messages", json=body).json()
        assert data["content"][0]["text"] == "echo"
        assert data["stop_reason"] == "max_tokens"


def test_responder_error_gives_500_and_is_recorded():
    def responder(req: dict) -> str:
        raise RuntimeError("boom")

    with TestServer(responder=responder) as srv, httpx.Client(base_url=srv.url) as c:
        r = c.post("/chat/completions", json=CHAT)
        assert r.status_code == 500
        assert "boom" in r.json()["error"]["message"]
        assert srv.stats.handler_errors == 1
        assert any("boom" in e for e in srv.errors)
        # The server keeps working.
        assert c.get("/models").status_code == 200


def test_models_endpoint(client):
    r = client.get("/models")
    assert r.status_code == 200
    data = r.json()
    assert data["object"] == "list"
    assert len(data["data"]) == 1 and data["data"][0]["id"]


def test_invalid_requests_get_400(client):
    r = client.post("/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert client.post("/chat/completions", json={"model": "m"}).status_code == 400
    assert client.post("/chat/completions", json={"messages": CHAT["messages"]}).status_code == 400
    assert client.post("/chat/completions", json=chat(temperature=3)).status_code == 400
    assert client.post("/chat/completions", json=chat(stream=True)).status_code == 400
    no_max = {k: v for k, v in ANTHROPIC.items() if k != "max_tokens"}
    r = client.post("/messages", json=no_max)
    assert r.status_code == 400
    assert r.json()["type"] == "error"


def test_unknown_path_and_wrong_method(client):
    assert client.post("/nope", json={}).status_code == 404
    assert client.get("/chat/completions").status_code == 405


# --------------------------------------------------------------------------- latency & slots


def test_latency_is_honoured():
    with TestServer(latency=0.2) as srv, httpx.Client(base_url=srv.url) as c:
        t0 = time.perf_counter()
        assert c.post("/chat/completions", json=CHAT).status_code == 200
        assert time.perf_counter() - t0 >= 0.18


def test_stats_place_the_first_arrival_and_last_response_on_the_clients_clock():
    with TestServer(latency=0.1) as srv, httpx.Client(base_url=srv.url) as c:
        assert srv.stats.first_arrival is None and srv.stats.last_response is None
        t0 = time.perf_counter()
        for _ in range(2):
            assert c.post("/chat/completions", json=CHAT).status_code == 200
        t1 = time.perf_counter()
        st = srv.stats
    assert t0 < st.first_arrival < st.first_arrival + 0.18 < st.last_response < t1
    assert st.last_response - st.first_arrival == pytest.approx(st.window_seconds)


def test_latency_settable_at_runtime(server, client):
    assert server.latency == 0.0
    server.latency = 0.2
    assert server.latency == 0.2
    t0 = time.perf_counter()
    client.post("/chat/completions", json=CHAT)
    assert time.perf_counter() - t0 >= 0.18
    with pytest.raises(ValueError):
        server.latency = -1


async def _fire(url: str, n: int) -> list:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as c:
        return await asyncio.gather(*(c.post("/chat/completions", json=chat(f"q{i}")) for i in range(n)))


def _gated_responder(gate: threading.Event):
    """A responder that holds its serving slot until ``gate`` is set (polling, never blocking the loop)."""

    async def responder(req: dict) -> str:
        while not gate.is_set():
            await asyncio.sleep(0.005)
        return "A"

    return responder


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the server"
        time.sleep(0.005)


def test_slots_cap_concurrency():
    gate = threading.Event()
    with TestServer(latency=0.05, slots=4, responder=_gated_responder(gate)) as srv:
        results: list = []
        t0 = time.perf_counter()
        fire = threading.Thread(target=lambda: results.extend(asyncio.run(_fire(srv.url, 20))))
        fire.start()
        try:
            # All 20 arrive and stay in flight; only 4 are being served.
            _wait_for(lambda: srv.stats.in_flight == 20)
            assert srv.stats.peak_serving == 4
        finally:
            gate.set()
            fire.join(timeout=30)
        elapsed = time.perf_counter() - t0
        assert [r.status_code for r in results] == [200] * 20
        st = srv.stats
        assert st.requests == st.completed == st.succeeded == 20
        assert st.peak_in_flight == 20
        assert st.peak_serving == 4  # never more than 4 at a time
        assert st.in_flight == 0
        # 20 requests / 4 slots * 0.05 s latency: at least 5 rounds.
        assert elapsed >= 0.25 and st.window_seconds >= 0.25
        assert 4 < st.mean_in_flight <= 20


def test_slots_settable_at_runtime():
    with TestServer(latency=0.05, slots=8) as srv:
        srv.slots = 1
        assert srv.slots == 1
        asyncio.run(_fire(srv.url, 6))
        assert srv.stats.peak_serving == 1
        with pytest.raises(ValueError):
            srv.slots = 0


def test_waiting_requests_count_as_in_flight():
    gate = threading.Event()
    with TestServer(slots=1, responder=_gated_responder(gate)) as srv:
        results = []
        threads = [
            threading.Thread(
                target=lambda: results.append(
                    httpx.post(srv.url + "/chat/completions", json=CHAT, timeout=30).status_code
                )
            )
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        try:
            _wait_for(lambda: srv.stats.in_flight == 3)
            assert srv.stats.peak_serving == 1
        finally:
            gate.set()
            for t in threads:
                t.join(timeout=30)
        assert results == [200, 200, 200]
        assert srv.stats.peak_serving == 1


# --------------------------------------------------------------------------- faults


def test_fault_http_429_with_retry_after(server, client):
    server.inject(Fault.http(429, retry_after=0.2))
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "0.2"
    assert r.json()["error"]["type"] == "rate_limit_error"
    # Only the next request was affected; the connection is still usable.
    assert client.post("/chat/completions", json=CHAT).status_code == 200
    st = server.stats
    assert st.faults == 1 and st.by_outcome == {"429": 1, "200": 1}
    assert server.pending_faults == 0


def test_fault_http_anthropic_style_and_custom_body(server, client):
    server.inject(Fault.http(529), Fault.http(503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT", body="busy"))
    r = client.post("/messages", json=ANTHROPIC)
    assert r.status_code == 529
    assert r.json()["error"]["type"] == "overloaded_error"
    assert "retry-after" not in r.headers
    r = client.post("/messages", json=ANTHROPIC)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert r.text == "busy"


def test_faults_apply_in_order_one_per_request(server, client):
    server.inject(Fault.http(500), Fault.http(502), Fault.http(503))
    codes = [client.post("/chat/completions", json=CHAT).status_code for _ in range(4)]
    assert codes == [500, 502, 503, 200]


def test_faults_skip_non_completion_endpoints(server, client):
    server.inject(Fault.http(500))
    assert client.get("/models").status_code == 200
    assert httpx.get(server.base_url + "/stats").status_code == 200
    assert client.post("/chat/completions", json=CHAT).status_code == 500


def test_fault_drop(server, client):
    server.inject(Fault.drop())
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/chat/completions", json=CHAT)
    assert client.post("/chat/completions", json=CHAT).status_code == 200
    assert server.stats.by_outcome["dropped"] == 1


def test_fault_drop_sends_no_bytes(server):
    server.inject(Fault.drop())
    assert raw_exchange(server, raw_post("/v1/chat/completions", json.dumps(CHAT).encode())) == b""


def test_fault_hang_times_out_client(server):
    server.inject(Fault.hang(30))
    t0 = time.perf_counter()
    with httpx.Client(base_url=server.url, timeout=0.3) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.post("/chat/completions", json=CHAT)
    assert time.perf_counter() - t0 < 5
    # The server notices the client hang up and stops counting the request in flight.
    deadline = time.monotonic() + 5
    while server.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    st = server.stats
    assert st.in_flight == 0 and st.by_outcome == {"hung": 1}


def test_fault_hang_closes_after_seconds(server):
    server.inject(Fault.hang(0.2))
    t0 = time.perf_counter()
    with httpx.Client(base_url=server.url, timeout=10) as c:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            c.post("/chat/completions", json=CHAT)
    assert 0.15 <= time.perf_counter() - t0 < 5


def test_fault_malformed(server, client):
    server.inject(Fault.malformed(), Fault.malformed(body="<html>oops</html>"))
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 200 and r.text == "<html>oops</html>"
    assert client.post("/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"] == "A"


def test_fault_slow(server, client):
    server.inject(Fault.slow(0.3))
    t0 = time.perf_counter()
    r = client.post("/chat/completions", json=CHAT)
    assert time.perf_counter() - t0 >= 0.28
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "A"
    st = server.stats
    assert st.succeeded == 1 and st.faults == 1


def test_fail_matching(server, client):
    server.fail_matching(lambda body: "poison" in body["messages"][-1]["content"], Fault.http(500))
    assert client.post("/chat/completions", json=chat("poison pill")).status_code == 500
    assert client.post("/chat/completions", json=chat("fine")).status_code == 200
    assert client.post("/chat/completions", json=chat("more poison")).status_code == 500
    server.clear_faults()
    assert client.post("/chat/completions", json=chat("poison pill")).status_code == 200


def test_fault_constructors_validate():
    assert Fault.http(429, retry_after=1).kind == "status"
    assert Fault.hang(2).seconds == 2 and Fault.slow(0.5).kind == "delay"
    with pytest.raises(ValueError):
        Fault("explode")
    with pytest.raises(ValueError):
        Fault.http(99)
    with pytest.raises(ValueError):
        Fault.hang(-1)
    with pytest.raises(TypeError):
        TestServer().inject("not a fault")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- stats


def test_duplicates_and_distinct_prompts(server, client):
    client.post("/chat/completions", json=chat("same", temperature=0))
    client.post("/chat/completions", json={"temperature": 0, **chat("same")})  # key order irrelevant
    client.post("/chat/completions", json=chat("same", temperature=0.5))  # other params: not a duplicate
    client.post("/chat/completions", json=chat("different"))
    st = server.stats
    assert st.requests == 4
    assert st.duplicates == 1
    assert st.distinct_prompts == 2
    assert st.by_path == {"/v1/chat/completions": 4}


def test_stats_over_http_and_reset(server, client):
    client.post("/chat/completions", json=CHAT)
    client.get("/models")
    data = httpx.get(server.base_url + "/stats").json()
    assert data == server.stats.as_dict()
    assert data["requests"] == 2 and data["by_path"] == {"/v1/chat/completions": 1, "/v1/models": 1}
    assert set(ServerStats().as_dict()) <= set(data)
    assert httpx.post(server.base_url + "/stats/reset").json() == {"ok": True}
    assert server.stats.requests == 0 and server.requests == []
    client.post("/chat/completions", json=CHAT)
    assert server.stats.requests == 1
    server.reset_stats()
    assert server.stats == ServerStats()


def test_record_bodies_off():
    with TestServer(record_bodies=False) as srv:
        httpx.post(srv.url + "/chat/completions", json=CHAT)
        assert srv.requests == []
        assert srv.stats.requests == 1


# --------------------------------------------------------------------------- auth & models


def test_api_key_required():
    with TestServer(api_key="sekret") as srv, httpx.Client(base_url=srv.url) as c:
        r = c.post("/chat/completions", json=CHAT)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key"
        r = c.post("/chat/completions", json=CHAT, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = c.post("/chat/completions", json=CHAT, headers={"Authorization": "Bearer sekret"})
        assert r.status_code == 200
        assert c.get("/models").status_code == 401
        r = c.post("/messages", json=ANTHROPIC)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        assert c.post("/messages", json=ANTHROPIC, headers={"x-api-key": "sekret"}).status_code == 200
        # x-api-key is the Anthropic header only.
        assert c.post("/chat/completions", json=CHAT, headers={"x-api-key": "sekret"}).status_code == 401
        # /stats needs no key.
        assert httpx.get(srv.base_url + "/stats").status_code == 200


def test_unknown_model_404():
    with TestServer(known_models={"gpt-test"}) as srv, httpx.Client(base_url=srv.url) as c:
        assert c.post("/chat/completions", json=CHAT).status_code == 200
        r = c.post("/chat/completions", json=dict(CHAT, model="gpt-nope"))
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "model_not_found"
        r = c.post("/messages", json=ANTHROPIC)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
        assert [m["id"] for m in c.get("/models").json()["data"]] == ["gpt-test"]


# --------------------------------------------------------------------------- HTTP/1.1 details


def test_keep_alive_reuses_one_connection(server):
    body = json.dumps(CHAT).encode()
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        f = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(raw_post("/v1/chat/completions", body))
            status = f.readline()
            assert status.startswith(b"HTTP/1.1 200")
            headers = {}
            while (line := f.readline()) != b"\r\n":
                k, v = line.decode().split(":", 1)
                headers[k.lower()] = v.strip()
            assert headers["connection"] == "keep-alive"
            assert json.loads(f.read(int(headers["content-length"])))["object"] == "chat.completion"


def test_pipelined_requests_and_connection_close(server):
    body = json.dumps(CHAT).encode()
    data = raw_post("/v1/chat/completions", body) + raw_post("/v1/chat/completions", body, "Connection: close\r\n")
    out = raw_exchange(server, data)
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert b"Connection: close" in out


def test_chunked_request_body(server):
    body = json.dumps(CHAT).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 10]), body[i : i + 10]) for i in range(0, len(body), 10))
    data = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + chunked + b"0\r\n\r\n"
    )
    out = raw_exchange(server, data)
    assert out.startswith(b"HTTP/1.1 200 OK")
    assert server.requests == [CHAT]


def test_protocol_errors(server):
    assert raw_exchange(server, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw_exchange(server, b"GET /v1/models HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505")
    assert raw_exchange(server, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 411")
    assert raw_exchange(server, b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1x\r\n\r\n").startswith(
        b"HTTP/1.1 400"
    )
    assert raw_exchange(
        server, b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"
    ).startswith(b"HTTP/1.1 413")
    assert raw_exchange(server, b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431")
    # None of this reached the API counters.
    assert server.stats.requests == 0


def test_http10_closes_by_default(server):
    out = raw_exchange(server, b"GET /v1/models HTTP/1.0\r\n\r\n", read_until_close=False)
    assert out.startswith(b"HTTP/1.1 200") and b"Connection: close" in out


# --------------------------------------------------------------------------- lifecycle & CLI


def test_non_loopback_host_refused():
    with pytest.raises(ValueError, match="loopback"):
        TestServer(host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        TestServer(host="example.com")


def test_stop_is_idempotent_and_restartable():
    srv = TestServer().start()
    with pytest.raises(RuntimeError):
        srv.start()
    srv.stop()
    srv.stop()
    srv.start()
    try:
        assert httpx.get(srv.url + "/models").status_code == 200
    finally:
        srv.stop()


def _cli_env() -> dict:
    env = dict(os.environ)
    src = str(Path(pytest_medhelm.__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_cli_serves_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_medhelm.testserver", "--port", "0", "--latency", "0.01", "--slots", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(),
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:") and line.endswith("/v1\n"), line
        url = line.split("listening on ", 1)[1].strip()
        r = httpx.post(url + "/chat/completions", json=CHAT, timeout=10)
        assert r.status_code == 200
        stats = httpx.get(url[: -len("/v1")] + "/stats", timeout=10).json()
        assert stats["requests"] == 1 and stats["completed"] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_refuses_non_loopback_host():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_medhelm.testserver", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=_cli_env(),
        timeout=30,
    )
    assert proc.returncode != 0
    assert "loopback" in proc.stderr
    assert proc.stdout == ""


def test_async_responder():
    async def responder(req: dict) -> str:
        await asyncio.sleep(0.01)
        return "B"

    with TestServer(responder=responder) as srv:
        r = httpx.post(srv.url + "/chat/completions", json=CHAT)
        assert r.json()["choices"][0]["message"]["content"] == "B"
