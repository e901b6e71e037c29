"""Soak: 20,000 items at concurrency 64 with 5% mixed faults, watching memory and descriptors.

Runs the real ``pytest --medhelm-model=soak ...`` command on a generated benchmark against the
project's test server on 127.0.0.1 (in this process), which fails the first request of 5% of the
prompts once each: 429 with Retry-After, 500, a hang past the model's timeout, a malformed body,
a dropped connection (1% each). Every faulted item is retried to an answer, so every item should
end scored, with no request sent twice beyond the retries. The script samples the pytest process
and its engine process (peak and current resident memory, open file descriptors) when the first
answer has gone out, when half the requests have, and just before the run ends, and prints them.

    python benchmarks/soak.py                # 20,000 items (about 3 min on 2 cores)
    python benchmarks/soak.py --items 2000   # a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import child_env, write_benchmark

from pytest_medhelm.testserver import Fault, TestServer

FAULTS = [Fault.http(429, retry_after=0.2), Fault.http(500), Fault.hang(5.0), Fault.malformed(), Fault.drop()]
MODELS = """\
models:
  - name: soak
    provider: openai
    model: medhelm-test-model
    base_url: {url}
    timeout_s: 2
    retry: {{max_attempts: 6, base_delay_s: 0.2, max_delay_s: 2}}
"""


def faulted_once(server: TestServer) -> None:
    """Each of FAULTS on 1% of the prompts (by hash), on their first request only."""
    seen: set[str] = set()
    lock = threading.Lock()

    def matcher(kind: int) -> Any:
        def match(body: dict[str, Any]) -> bool:
            prompt = body["messages"][0]["content"]
            if int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 100 != kind:
                return False
            with lock:
                if prompt in seen:
                    return False
                seen.add(prompt)
                return True

        return match

    for kind, fault in enumerate(FAULTS):
        server.fail_matching(matcher(kind), fault)


def sample(pid: int) -> dict[str, int]:
    """Peak and current resident memory (KB) and open descriptors of ``pid`` and its children."""
    totals = {"peak_kb": 0, "rss_kb": 0, "fds": 0}
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for each in pids:
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{each}/status").read_text().splitlines())
            totals["peak_kb"] += int(status["VmHWM"].split()[0])
            totals["rss_kb"] += int(status["VmRSS"].split()[0])
            totals["fds"] += len(os.listdir(f"/proc/{each}/fd"))
        except (OSError, KeyError):
            pass
    totals["processes"] = len(pids)
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="medhelm-soak-") as tmp, TestServer(latency=0.01, slots=64) as server:
        folder = Path(tmp)
        yaml = write_benchmark(folder, "soak", args.items)
        faulted_once(server)
        models = folder / "models.yaml"
        models.write_text(MODELS.format(url=server.url), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(yaml),
            f"--medhelm-models-file={models}",
            "--medhelm-model=soak",
            f"--medhelm-concurrency={args.concurrency}",
            f"--medhelm-max-instances={args.items}",
            f"--medhelm-cache={folder / 'cache.sqlite'}",
            f"--medhelm-output={folder / 'out'}",
            "-q",
            "--tb=no",
            "-rN",
            "-p",
            "no:cacheprovider",
        ]
        started = time.monotonic()
        run = subprocess.Popen(
            command,
            cwd=folder,
            env=child_env(MEDHELM_HOME=str(folder / "home")),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.extend(run.stdout), daemon=True)  # type: ignore[arg-type]
        reader.start()
        samples: dict[str, dict[str, int]] = {}
        last: dict[str, int] = {}
        while run.poll() is None:
            answered = server.stats.succeeded
            if "start" not in samples and answered >= 1:
                samples["start"] = sample(run.pid)
            if "middle" not in samples and answered >= args.items // 2:
                samples["middle"] = sample(run.pid)
            current = sample(run.pid)
            if current["fds"]:
                last = current
            time.sleep(0.05)
        reader.join(timeout=10)
        samples["end"] = last
        wall = time.monotonic() - started
        stats = server.stats
    summary = next(
        (line for line in reversed(output) if " in " in line and ("passed" in line or "failed" in line)), ""
    ).strip()
    print(
        f"soak: {args.items} items, concurrency {args.concurrency}, 5% mixed faults (429, 500, hang, malformed, "
        f"drop), exit status {run.returncode}, {wall:.1f} s"
    )
    print(f"  pytest: {summary}")
    print(
        f"  server: {stats.requests} requests, {stats.succeeded} answered, {stats.requests - args.items} beyond one "
        f"per item (about {args.items * len(FAULTS) // 100} faulted first attempts, plus retries of requests that "
        "timed out on a loaded machine)"
    )
    for when in ("start", "middle", "end"):
        s = samples.get(when, {})
        print(
            f"  {when:<6}  peak memory {s.get('peak_kb', 0) / 1024:7.1f} MB  resident {s.get('rss_kb', 0) / 1024:7.1f} MB"
            f"  open descriptors {s.get('fds', 0):4d}  ({s.get('processes', 0)} processes)"
        )
    return 0 if run.returncode in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
