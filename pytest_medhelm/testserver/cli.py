"""``python -m pytest_medhelm.testserver``: serve until SIGTERM or SIGINT (for benchmark scripts)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, List, Optional

from pytest_medhelm.testserver.server import TestServer
from pytest_medhelm.testserver.wire import is_loopback


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_medhelm.testserver",
        description="Serve a local OpenAI/Anthropic-compatible test endpoint for MedHELM benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: pick a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request, spent holding a slot")
    parser.add_argument("--slots", type=int, default=64, help="requests served concurrently (default 64)")
    parser.add_argument("--api-key", default=None, help="require this API key")
    parser.add_argument(
        "--known-model",
        action="append",
        default=None,
        metavar="NAME",
        help="accept only these models (repeatable); others get 404 model_not_found",
    )
    parser.add_argument(
        "--record-bodies", action="store_true", help="keep every request body in memory (off by default for benchmarks)"
    )
    args = parser.parse_args(argv)

    if not is_loopback(args.host):
        parser.error(f"refusing to listen on non-loopback host {args.host!r}; use 127.0.0.1, ::1 or localhost")
    if args.latency < 0:
        parser.error("--latency must be >= 0")
    if args.slots < 1:
        parser.error("--slots must be >= 1")

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        server = TestServer(
            host=args.host,
            port=args.port,
            latency=args.latency,
            slots=args.slots,
            api_key=args.api_key,
            known_models=args.known_model,
            record_bodies=args.record_bodies,
        ).start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0
