"""Does the harness scale? 50,000 items collected, and what one item costs end to end.

    python benchmarks/collection.py            # 10 benchmarks x 5,000 items; overhead over 2,000 items
    python benchmarks/collection.py --quick    # 4 x 2,500 items; overhead over 500 items

Figures:

* collection: ``pytest --medhelm-model=bench@URL DIR --collect-only -q`` over generated user
  benchmarks holding 50,000 items in all: wall time of the whole command and the pytest process's
  peak resident memory (``os.wait4``). First with an empty instance cache (every CSV parsed), then
  again with it filled. Targets: < 10 s and < 500 MB.
* per-item overhead, against a zero-latency server (so the wall time is the harness, plus the
  server's own bookkeeping): ``(wall(N items) - wall(1 item)) / (N - 1)``, where both are the same
  cold command (empty response and instance caches) on two generated benchmarks that differ only in
  their number of rows. The 1-item run is the start-up: interpreter, plugin import, configuration,
  one collection, one request, reporting. The difference is everything that grows with N:
  collecting, loading, sending, caching, scoring, running and reporting each item. Each command is
  run ``--repeat`` times and the medians are used. Target: < 1 ms. For scale, not as a target,
  the same measure of plain pytest on empty test functions follows: pytest's own cost per item.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Figure,
    Server,
    child_env,
    machine,
    pytest_command,
    report,
    run,  # noqa: E402
    write_benchmark,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", type=int, default=10, help="benchmarks to collect (default 10)")
    parser.add_argument("--per-benchmark", type=int, default=5000, help="items in each (default 5000)")
    parser.add_argument("--overhead-items", type=int, default=2000, help="N for the overhead figure (default 2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="--medhelm-concurrency (default 32)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each overhead command (default 3)")
    parser.add_argument("--quick", action="store_true", help="4 x 2,500 items, overhead over 500 items")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.benchmarks, args.per_benchmark, args.overhead_items, args.repeat = 4, 2500, 500, 1
    total = args.benchmarks * args.per_benchmark

    print(machine())
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="medhelm-collection-") as tmp,
        Server(latency=0.0, slots=args.concurrency) as server,
    ):
        root = Path(tmp)
        suite = root / "suite"
        for k in range(args.benchmarks):
            write_benchmark(suite, f"bench_{k:02d}", args.per_benchmark)

        def collect(home: str) -> tuple[float, float]:
            command = pytest_command(
                server.url,
                [suite],
                concurrency=args.concurrency,
                max_instances=args.per_benchmark,
                cache=root / "collect.sqlite",
                output=root / "out-collect",
                extra=["--collect-only"],
            )
            result = run(command, cwd=root, env=child_env(MEDHELM_HOME=str(root / home))).check()
            if f"{total} tests collected" not in result.output:
                raise RuntimeError(f"expected {total} items collected:\n{result.output[-2000:]}")
            return result.wall_s, result.max_rss_mb

        collect("home-warmup")  # untimed: bytecode and OS file caches
        print(
            f"collection: {args.benchmarks} benchmarks x {args.per_benchmark} items = {total} items, "
            "`pytest --medhelm-model=bench@URL DIR --collect-only -q`"
        )
        for label, home in (("empty instance cache", "home-collect"), ("filled instance cache", "home-collect")):
            wall, rss = collect(home)
            figures.append(
                Figure(
                    f"collect {total} items, {label}",
                    wall,
                    "< 10 s, < 500 MB",
                    wall < 10 and rss < 500,
                    extra={"peak memory": f"{rss:.0f} MB"},
                )
            )
            report(figures[-1:])

        count = args.overhead_items
        many = write_benchmark(root / "many", "many", count)
        one = write_benchmark(root / "one", "one", 1)

        def timed(bench: Path, size: int, tag: str) -> float:
            command = pytest_command(
                server.url,
                [bench],
                concurrency=args.concurrency,
                max_instances=size,
                cache=root / f"{tag}.sqlite",
                output=root / f"out-{tag}",
            )
            (root / f"{tag}.sqlite").unlink(missing_ok=True)
            return run(command, cwd=root, env=child_env(MEDHELM_HOME=str(root / f"home-{tag}"))).check().wall_s

        walls_many, walls_one = [], []
        for attempt in range(args.repeat):
            walls_one.append(timed(one, 1, f"one-{attempt}"))
            walls_many.append(timed(many, count, f"many-{attempt}"))
        start_up, full = statistics.median(walls_one), statistics.median(walls_many)
        per_item_ms = (full - start_up) / (count - 1) * 1000
        print(
            f"per-item overhead: zero-latency server, {args.concurrency} slots, --medhelm-concurrency "
            f"{args.concurrency}; (median wall with {count} items {full:.2f} s - median wall with 1 item "
            f"{start_up:.2f} s) / {count - 1}; {args.repeat} run(s) each, cold caches"
        )
        figures.append(
            Figure(
                f"per-item overhead ({count} items)",
                per_item_ms,
                "< 1 ms",
                per_item_ms < 1.0,
                unit="ms",
                extra={"start-up": f"{start_up:.2f} s", "whole run": f"{full:.2f} s"},
            )
        )
        report(figures[-1:])

        # For scale, not a target: what pytest itself costs per item here, with the same plugins
        # installed but no MedHELM items (empty test functions, measured the same way).
        plain = root / "plain"
        plain.mkdir()
        (plain / "test_many.py").write_text(
            f"import pytest\n\n\n@pytest.mark.parametrize('i', range({count}))\ndef test_empty(i):\n    pass\n",
            encoding="utf-8",
        )
        (plain / "test_one.py").write_text("def test_empty():\n    pass\n", encoding="utf-8")

        def bare(name: str) -> float:
            command = [sys.executable, "-m", "pytest", str(plain / name), "-q", "-p", "no:cacheprovider"]
            return run(command, cwd=plain).check().wall_s

        bare_one = statistics.median(bare("test_one.py") for _ in range(args.repeat))
        bare_many = statistics.median(bare("test_many.py") for _ in range(args.repeat))
        print(
            f"reference, not a target: pytest's own per-item cost on this machine, {count} empty test "
            f"functions measured the same way: ({bare_many:.2f} s - {bare_one:.2f} s) / {count - 1} = "
            f"{(bare_many - bare_one) / (count - 1) * 1000:.2f} ms"
        )
    missed = sum(not f.ok for f in figures)
    print(f"{len(figures) - missed} of {len(figures)} targets met")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
