"""Is judging pipelined behind answering? 500 open-ended items, each answered and then judged by three.

    python benchmarks/jury_throughput.py              # N=500, latency 0.1 s, 32 slots per server
    python benchmarks/jury_throughput.py --repeat 3   # the median of three runs

Four test servers on 127.0.0.1, each in its own process with ``--latency`` seconds per request and
``--slots`` serving slots: one answers (the evaluated model), three play the judges (each answers
every request with the same valid verdict). The command is the real ``pytest --medhelm-model=
bench@URL jurybench.medhelm.yaml --medhelm-jury j1@URL1,j2@URL2,j3@URL3 --medhelm-concurrency 32``,
timed start to exit. A jury that waited for answering to finish would take twice the ideal:

    ideal = ceil(N / slots) * latency (answers)  +  latency (the last answers' judges)

Target: <= 1.3 x ideal (the machine is shared: measure when it is quiet, and repeat). The figure
also splits the command's time into start-up, request phase and wind-down (from the servers'
first arrival and last answer), so the request phase's own ratio shows whether judging is
pipelined whatever pytest's start-up costs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, Server, child_env, ideal_s, machine, phases, pytest_command, report, run  # noqa: E402

VERDICT = json.dumps({c: {"score": 4, "explanation": "Synthetic verdict."} for c in ("accuracy", "clarity")})
JUDGE_SERVER = f"""
import signal, sys, threading
from pytest_medhelm.testserver import TestServer
server = TestServer(latency=float(sys.argv[1]), slots=int(sys.argv[2]), responder=lambda body: {VERDICT!r},
                    record_bodies=False).start()
print(f"listening on {{server.url}}", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
server.stop()
"""
YAML = """\
name: {name}
category: custom
subcategory: Performance
data: {name}.csv
id_column: item_id
prompt: "{{note}}"
reference: answer
metrics:
  - name: jury
    rubric:
      accuracy: Are the facts right?
      clarity: Is it clear?
max_tokens: 16
"""


class JudgeServer(Server):
    """The test server answering every request with one valid verdict."""

    def start(self) -> JudgeServer:
        self.process = subprocess.Popen(
            [sys.executable, "-c", JUDGE_SERVER, str(self.latency), str(self.slots)],
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        self.url = line.removeprefix("listening on ")
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the judge server did not start: {line!r}")
        return self


def write_benchmark(folder: Path, name: str, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["item_id,note,answer"] + [
        f"{i:06d},Synthetic note {name} {i}: cough for {i % 9 + 1} days.,Bronchitis." for i in range(count)
    ]
    (folder / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = folder / f"{name}.medhelm.yaml"
    path.write_text(YAML.format(name=name), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--slots", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="*", default=[1])
    args = parser.parse_args(argv)
    count = args.items
    ideal = ideal_s(count, args.slots, args.latency) + args.latency
    print(machine())
    print(
        f"N={count} items x (1 answer + 3 judges), latency {args.latency} s, {args.slots} slots per server; "
        f"ideal = ceil(N/slots)*latency + latency = {ideal:.2f} s"
    )
    servers = [Server(latency=args.latency, slots=args.slots)] + [
        JudgeServer(latency=args.latency, slots=args.slots) for _ in range(3)
    ]
    with tempfile.TemporaryDirectory(prefix="medhelm-jury-") as tmp:
        for server in servers:
            server.start()
        try:
            answerer, judges = servers[0], servers[1:]
            jury = "--medhelm-jury=" + ",".join(f"j{i}@{s.url}" for i, s in enumerate(judges, 1))
            root = Path(tmp)
            warm = write_benchmark(root / "warmup", "warmup", 8)
            run(
                pytest_command(
                    answerer.url,
                    [warm],
                    concurrency=args.slots,
                    max_instances=8,
                    cache=root / "warm.sqlite",
                    output=root / "out-warm",
                    extra=[jury],
                ),
                cwd=root,
            ).check()
            figures = []
            for workers in args.workers:
                walls = []
                for attempt in range(args.repeat):
                    bench = write_benchmark(root / f"b{workers}-{attempt}", "jurybench", count)
                    for server in servers:
                        server.reset()
                    extra = [jury, *(("-n", str(workers)) if workers > 1 else ())]
                    result = run(
                        pytest_command(
                            answerer.url,
                            [bench],
                            concurrency=args.slots,
                            max_instances=count,
                            cache=root / f"c{workers}-{attempt}.sqlite",
                            output=root / f"o{workers}-{attempt}",
                            extra=extra,
                        ),
                        cwd=root,
                        env=child_env(MEDHELM_HOME=str(root / f"home-{workers}-{attempt}")),
                    )
                    result.check()
                    stats = [s.stats() for s in servers]
                    sent = [s["requests"] for s in stats]
                    if sent != [count] * 4:
                        raise RuntimeError(f"expected {count} requests per server, got {sent}")
                    # From the answerer's first request to the last judge's answer.
                    timeline = phases(result, stats[0]["first_arrival"], max(s["last_response"] for s in stats))
                    walls.append((result.wall_s, timeline))
                walls.sort(key=lambda run: run[0])
                wall, timeline = walls[len(walls) // 2]
                figures.append(
                    Figure(
                        f"jury run, {workers} process(es)",
                        wall,
                        "<= 1.3 x ideal",
                        wall <= 1.3 * ideal,
                        ideal=ideal,
                        extra={
                            **({"runs": ", ".join(f"{w:.2f}" for w, _ in walls)} if len(walls) > 1 else {}),
                            **{name: f"{seconds:.2f} s" for name, seconds in timeline.items()},
                            "request phase / ideal": f"{timeline['request phase'] / ideal:.2f}",
                        },
                    )
                )
            return 1 if report(figures) else 0
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    sys.exit(main())
