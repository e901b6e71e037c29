"""Is the model server kept saturated? Cold runs in 1, 2 and 4 processes, then a warm re-run.

    python benchmarks/throughput.py            # N=2000, latency 0.1 s, 32 slots, concurrency 32
    python benchmarks/throughput.py --quick    # N=320: a smoke run in about a minute
    python benchmarks/throughput.py --repeat 3 # the median of three runs of each command

Each figure is the wall time of the whole ``pytest --medhelm-model=bench@URL bench.medhelm.yaml
--medhelm-concurrency 32 ...`` command against ``ideal = ceil(N / slots) * latency``, the least time
the server needs to answer N requests. From the server's ``/stats``: peak and mean requests in
flight (the mean over the request phase, first arrival to last answer) and duplicate requests
(a body the server had already answered).

Targets: cold <= 1.25 x ideal with mean in flight >= 30 of 32 (one process) and zero duplicates
(every run); warm re-run (all answers cached) < 3 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Figure,
    Server,
    child_env,
    ideal_s,
    machine,
    pytest_command,
    report,
    run,  # noqa: E402
    write_benchmark,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000, help="items in the generated benchmark (default 2000)")
    parser.add_argument("--latency", type=float, default=0.1, help="server seconds per request (default 0.1)")
    parser.add_argument("--slots", type=int, default=32, help="requests the server serves at once (default 32)")
    parser.add_argument("--concurrency", type=int, default=32, help="--medhelm-concurrency (default 32)")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4], help="process counts (default 1 2 4)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command; the median is reported")
    parser.add_argument("--quick", action="store_true", help="N=320: a quick smoke run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--extra", nargs="*", default=[], help="more pytest arguments for every command (one token each: -pno:anyio)"
    )
    args = parser.parse_args(argv)
    count = 320 if args.quick else args.items
    ideal = ideal_s(count, args.slots, args.latency)

    print(machine())
    print(
        f"N={count} items, server latency {args.latency} s, {args.slots} slots, "
        f"--medhelm-concurrency {args.concurrency}; ideal = ceil(N/slots)*latency = {ideal:.2f} s"
    )
    with (
        tempfile.TemporaryDirectory(prefix="medhelm-throughput-") as tmp,
        Server(latency=args.latency, slots=args.slots) as server,
    ):
        root = Path(tmp)
        bench = write_benchmark(root, "bench", count)
        figures: list[Figure] = []

        def command(tag: str, *extra: str) -> list[str]:
            return pytest_command(
                server.url,
                [bench],
                concurrency=args.concurrency,
                max_instances=count,
                cache=root / f"{tag}.sqlite",
                output=root / f"out-{tag}",
                extra=[*extra, *args.extra],
            )

        def env(tag: str) -> dict[str, str]:
            return child_env(MEDHELM_HOME=str(root / f"home-{tag}"))  # a fresh instance cache per cold run

        # Untimed: fills the bytecode and OS file caches (and checks the command works at all).
        warmup = write_benchmark(root / "warmup", "warmup", 8)
        run(
            pytest_command(
                server.url,
                [warmup],
                concurrency=args.concurrency,
                max_instances=8,
                cache=root / "warmup.sqlite",
                output=root / "out-warmup",
            ),
            cwd=root,
            env=env("warmup"),
        ).check()

        for workers in args.workers:
            extra = ("-n", str(workers)) if workers > 1 else ()
            runs = []
            for attempt in range(args.repeat):
                tag = f"cold-{workers}-{attempt}"
                server.reset()
                result = run(command(tag, *extra), cwd=root, env=env(tag)).check()
                runs.append((result.wall_s, server.stats()))
            runs.sort(key=lambda r: r[0])
            wall, stats = runs[len(runs) // 2]  # the median run, with its own server statistics
            mean = stats["mean_in_flight"]
            ok = (
                wall <= 1.25 * ideal
                and all(s["duplicates"] == 0 and s["requests"] == count for _, s in runs)
                and (workers > 1 or mean >= 30 * args.slots / 32)
            )
            spread = {"runs": ", ".join(f"{w:.2f}" for w, _ in runs)} if len(runs) > 1 else {}
            figures.append(
                Figure(
                    f"cold, {workers} process{'es' if workers > 1 else ''}",
                    wall,
                    "<= 1.25 x ideal" + (", mean in flight >= 30/32" if workers == 1 else "") + ", 0 duplicates",
                    ok,
                    ideal=ideal,
                    extra={
                        **spread,
                        "request phase": f"{stats['window_seconds']:.2f} s",
                        "requests": stats["requests"],
                        "peak": stats["peak_in_flight"],
                        "mean in flight": f"{mean:.1f}",
                        "duplicates": stats["duplicates"],
                    },
                )
            )
            report(figures[-1:])

        warm_runs = []
        tag = f"cold-{args.workers[0]}-0"  # re-run the first cold command: every answer is cached
        for _ in range(args.repeat):
            server.reset()
            warm_runs.append((run(command(tag), cwd=root, env=env(tag)).check().wall_s, server.stats()["requests"]))
        warm_runs.sort()
        wall, requests = warm_runs[len(warm_runs) // 2]
        spread = {"runs": ", ".join(f"{w:.2f}" for w, _ in warm_runs)} if len(warm_runs) > 1 else {}
        figures.append(
            Figure(
                "warm re-run (all cached), 1 process",
                wall,
                "< 3 s, 0 requests",
                wall < 3.0 and all(r == 0 for _, r in warm_runs),
                extra={**spread, "requests": requests},
            )
        )
        report(figures[-1:])

        # The floor of any Python client on this machine and server: aiohttp alone, nothing else.
        server.reset()
        bare = run(
            [
                sys.executable,
                str(Path(__file__).with_name("bare_client.py")),
                server.url,
                str(count),
                str(args.concurrency),
            ],
            cwd=root,
        ).check()
        stats = server.stats()
        print(
            f"reference, not a target: a bare aiohttp client (bare_client.py), the same {count} requests, "
            f"{args.concurrency} in flight: wall {bare.wall_s:.2f} s ({bare.wall_s / ideal:.2f} x ideal), "
            f"request phase {stats['window_seconds']:.2f} s, mean in flight {stats['mean_in_flight']:.1f}"
        )
    missed = sum(not f.ok for f in figures)
    print(f"{len(figures) - missed} of {len(figures)} targets met")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
