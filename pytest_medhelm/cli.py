"""The ``medhelm`` command: data downloads and catalogue listings.

Evaluation itself is ``pytest --medhelm-model=NAME``; this command covers what is not a test run:

* ``medhelm download --to DIR [ID ...]`` writes the local mirror (``DIR/<id>/test.jsonl``);
* ``medhelm benchmarks [--data-dir DIR] [--json]`` lists every benchmark, its place in the
  taxonomy, metric, data source and whether its data is here;
* ``medhelm taxonomy [--json]`` prints MedHELM's taxonomy with benchmark coverage;
* ``medhelm prompts ID [--data-dir DIR] [--instance ID] [--json]`` prints the exact text that would
  be sent for one instance of a benchmark, with the request's parameters and where its words come
  from (HELM's package, or our own fallback wording);
* ``medhelm gate RESULTS.json [--baseline PREVIOUS.json]`` judges the release gates, ``medhelm
  schema`` prints the JSON Schema of results.json (both in ``cli_release``); ``medhelm --version``.
* ``medhelm agreement RATINGS.csv [--json]`` compares clinicians' and the jury's ratings of the same
  items (ICC forms with 95% intervals; see :mod:`pytest_medhelm.jury.agreement` for the columns).
* ``medhelm leaderboard FILE ...`` and ``medhelm export-helm`` (``pytest_medhelm.leaderboard``).

A suite module that fails to import is reported on stderr (exit status 1) without hiding the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_medhelm.benchmark import Benchmark
from pytest_medhelm.data import DataError, DataSettings, DataUnavailable, Fetcher, download
from pytest_medhelm.data.loading import locate
from pytest_medhelm.suites import load_benchmark, suite_files
from pytest_medhelm.taxonomy import load_taxonomy, slug


def _catalogue() -> tuple[list[Benchmark], list[dict[str, str]]]:
    """Every built-in benchmark that loads, and the suite modules that do not."""
    benchmarks, broken = [], []
    for path in suite_files():
        try:
            benchmarks.append(load_benchmark(path))
        except Exception as exc:  # noqa: BLE001  (one broken module must not hide the others)
            broken.append({"path": str(path), "error": f"{type(exc).__name__}: {exc}"})
    for problem in broken:
        print(f"medhelm: cannot load {problem['path']}: {problem['error']}", file=sys.stderr)
    return benchmarks, broken


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _download_helm(target: Path) -> bool:
    from pytest_medhelm.helm import HelmPackageError, download_wheel

    try:
        path = download_wheel(target / "helm")
    except (HelmPackageError, OSError) as exc:
        print(f"helm: FAILED: {exc}", file=sys.stderr)
        return False
    print(f"helm: HELM's package (MedHELM's prompts) -> {path}")
    return True


def _download(args: argparse.Namespace) -> int:
    catalogue, broken = _catalogue()
    benchmarks = {b.id: b for b in catalogue}
    # HELM's wheel (MedHELM's prompts) comes with a full download, or when asked for as "helm".
    want_helm = not args.ids or "helm" in args.ids
    ids = [i for i in args.ids if i != "helm"]
    unknown = [i for i in ids if i not in benchmarks]
    if unknown:
        print(f"medhelm download: unknown benchmark(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    if ids:
        chosen = [benchmarks[i] for i in ids]
    else:
        chosen = [] if args.ids else [b for b in benchmarks.values() if b.source.fetch]
    target = Path(args.to)
    failed = 0 if not want_helm or _download_helm(target) else 1
    fetcher = Fetcher(target / ".downloads")
    try:
        for benchmark in chosen:
            try:
                count = download(benchmark, target, fetcher)
                print(f"{benchmark.id}: {count} records -> {target / benchmark.id}")
            except Exception as exc:  # noqa: BLE001  (one failed benchmark never stops the others)
                failed += 1
                reason = str(exc) if isinstance(exc, (DataUnavailable, DataError)) else f"{type(exc).__name__}: {exc}"
                print(f"{benchmark.id}: FAILED ({benchmark.source.upstream}): {reason}", file=sys.stderr)
    finally:
        fetcher.close()
    return 1 if failed or (broken and not args.ids) else 0


def _prompts(args: argparse.Namespace) -> int:
    from pytest_medhelm.data import load
    from pytest_medhelm.evaluate import request_for
    from pytest_medhelm.helm import HelmPackageError, use

    data_dir = Path(args.data_dir) if args.data_dir else None
    try:
        package = use(data_dir)
    except HelmPackageError as exc:
        print(f"medhelm prompts: {exc}", file=sys.stderr)
        return 2
    catalogue, _ = _catalogue()
    benchmark = next((b for b in catalogue if b.id == args.id), None)
    if benchmark is None:
        print(f"medhelm prompts: unknown benchmark {args.id!r}", file=sys.stderr)
        return 2
    try:
        loaded = load(benchmark, DataSettings(data_dir=data_dir), cap=args.max_instances)
    except (DataUnavailable, DataError) as exc:
        print(f"medhelm prompts: {exc}", file=sys.stderr)
        return 1
    instances = [i for i in loaded.instances if args.instance in (None, i.id)]
    if not instances:
        print(
            f"medhelm prompts: {benchmark.id} has no instance {args.instance!r} among the "
            f"{len(loaded.instances)} sampled",
            file=sys.stderr,
        )
        return 1
    instance = instances[0]
    request = request_for(benchmark, instance)
    plan = benchmark.plan()
    where = (
        f"HELM {package.version}'s package, {package.path} (sha256 {package.sha256})"
        if package is not None
        else "our own wording: HELM's package was not found, so scores are not comparable to MedHELM's"
    )
    if args.json:
        _print_json(
            {
                "benchmark": benchmark.id,
                "instance": instance.id,
                "prompt_source": plan.source,
                "helm_run_spec": benchmark.helm_prompt,
                "helm_package": str(package.path) if package else None,
                "prompt": request.prompt,
                "max_tokens": request.max_tokens,
                "temperature": request.temperature,
                "stop": list(request.stop),
            }
        )
        return 0
    print(f"benchmark: {benchmark.id}   instance: {instance.id}")
    print(f"prompt source: {plan.source} ({where})")
    if benchmark.helm_prompt:
        print(f"HELM run spec: {benchmark.helm_prompt}")
    print(
        f"max_tokens: {request.max_tokens}   temperature: {request.temperature:g}   "
        f"stop: {list(request.stop) or 'none'}"
    )
    print("----- prompt (exactly as sent, between these lines) -----")
    print(request.prompt)
    print("----- end of prompt -----")
    return 0


def benchmark_rows(benchmarks: Sequence[Benchmark], settings: DataSettings) -> list[dict[str, Any]]:
    """One JSON-ready row per benchmark, in taxonomy order."""
    taxonomy = load_taxonomy()
    order = {
        name: i for i, name in enumerate([c.id for c in taxonomy.categories] + [s.name for s in taxonomy.subcategories])
    }
    names = {c.id: c.name for c in taxonomy.categories}
    rows = []
    for b in sorted(
        benchmarks,
        key=lambda b: (order.get(b.category, len(order)), order.get(b.subcategory, len(order)), b.subcategory, b.id),
    ):
        found = locate(b, settings)
        rows.append(
            {
                "id": b.id,
                "name": b.name,
                "category": b.category,
                "category_name": names.get(b.category, b.category),
                "subcategory": b.subcategory,
                "access": b.access,
                "metric": b.main_metric,
                "jury_metric": b.jury_metric,
                "kind": "open" if b.open_ended else "closed",
                "max_tokens": b.max_tokens,
                "source": {
                    "upstream": b.source.upstream,
                    "how_to_get": b.source.how_to_get,
                    "downloadable": b.source.fetch is not None,
                },
                "local": {"path": str(found[0]), "kind": found[1]} if found else None,
            }
        )
    return rows


def _benchmarks(args: argparse.Namespace) -> int:
    benchmarks, broken = _catalogue()
    settings = DataSettings(data_dir=Path(args.data_dir) if args.data_dir else None)
    rows = benchmark_rows(benchmarks, settings)
    if args.json:
        _print_json({"benchmarks": rows, "broken": broken})
        return 1 if broken else 0
    header = ("id", "name", "category", "subcategory", "access", "metric", "kind", "local data", "data source")
    table = [header] + [
        (
            r["id"],
            r["name"],
            r["category"],
            r["subcategory"],
            r["access"],
            r["metric"],
            r["kind"],
            f"{r['local']['path']} ({r['local']['kind']})" if r["local"] else "absent",
            r["source"]["upstream"],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    present = sum(1 for r in rows if r["local"])
    print(
        f"\n{len(rows)} benchmarks, {present} with local data"
        + (f" (checked {args.data_dir} and the download cache)" if args.data_dir else " (download cache only)")
    )
    return 1 if broken else 0


def taxonomy_tree(benchmarks: Sequence[Benchmark]) -> dict[str, Any]:
    """The taxonomy with, per subcategory, its benchmarks and which of them are implemented."""
    taxonomy = load_taxonomy()
    by_id = {b.id: b for b in benchmarks}
    categories = []
    for category in taxonomy.categories:
        subs = []
        for sub in category.subcategories:
            entries = [
                {"id": i, "name": by_id[i].name if i in by_id else None, "implemented": i in by_id}
                for i in sub.benchmarks
            ]
            subs.append(
                {
                    "id": sub.id,
                    "name": sub.name,
                    "tasks": list(sub.tasks),
                    "benchmarks": entries,
                    "implemented": sum(e["implemented"] for e in entries),
                }
            )
        categories.append(
            {
                "id": category.id,
                "name": category.name,
                "subcategories": subs,
                "benchmarks": sum(len(s["benchmarks"]) for s in subs),
                "implemented": sum(s["implemented"] for s in subs),
            }
        )
    placed = {b for s in taxonomy.subcategories for b in s.benchmarks}
    # Suites whose declared place disagrees with the taxonomy file (or that it does not list).
    misplaced = []
    for b in benchmarks:
        place = taxonomy.place(b.id)
        where = (place[0].id, place[1].name) if place else None
        if where is None or (where[0], slug(where[1])) != (b.category, slug(b.subcategory)):
            misplaced.append(
                {"id": b.id, "declared": [b.category, b.subcategory], "taxonomy": list(where) if where else None}
            )
    return {
        "tasks_total": taxonomy.tasks_total,
        "counts": {
            "categories": len(taxonomy.categories),
            "subcategories": len(taxonomy.subcategories),
            "tasks_total": taxonomy.tasks_total,
            "tasks_named": sum(len(s.tasks) for s in taxonomy.subcategories),
            "benchmarks": len(placed),
            "implemented": len(placed & set(by_id)),
        },
        "categories": categories,
        "misplaced": misplaced,
    }


def _taxonomy(args: argparse.Namespace) -> int:
    benchmarks, broken = _catalogue()
    tree = taxonomy_tree(benchmarks)
    if args.json:
        _print_json({**tree, "broken": broken})
        return 1 if broken else 0
    counts = tree["counts"]
    print(
        f"MedHELM taxonomy: {counts['categories']} categories, {counts['subcategories']} subcategories, "
        f"{counts['tasks_total']} tasks ({counts['tasks_named']} named publicly); "
        f"{counts['implemented']} of {counts['benchmarks']} benchmarks implemented"
    )
    for category in tree["categories"]:
        print(f"\n{category['name']} [{category['id']}]: {category['implemented']}/{category['benchmarks']} benchmarks")
        for sub in category["subcategories"]:
            print(f"  {sub['name']} [{sub['id']}]: {sub['implemented']}/{len(sub['benchmarks'])} benchmarks")
            for entry in sub["benchmarks"]:
                mark, label = ("+", entry["name"]) if entry["implemented"] else ("-", "not implemented")
                print(f"    {mark} {entry['id']} ({label})")
            for task in sub["tasks"]:
                print(f"    task: {task}")
    for wrong in tree["misplaced"]:
        print(
            f"medhelm: {wrong['id']} declares {wrong['declared']} but the taxonomy places it at {wrong['taxonomy']}",
            file=sys.stderr,
        )
    return 1 if broken or tree["misplaced"] else 0


def _agreement(path: str, as_json: bool) -> int:
    from pytest_medhelm.jury.agreement import main as agreement_main

    return agreement_main(path, as_json)


def main(argv: Sequence[str] | None = None) -> int:
    from pytest_medhelm import __version__
    from pytest_medhelm.cli_release import add_commands

    parser = argparse.ArgumentParser(prog="medhelm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"medhelm (pytest-medhelm) {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    dl = commands.add_parser("download", help="write the local data mirror from the upstream sources")
    dl.add_argument("--to", required=True, metavar="DIR", help="mirror folder (then pass --medhelm-data-dir DIR)")
    dl.add_argument(
        "ids",
        nargs="*",
        metavar="ID",
        help="benchmark ids, or helm for HELM's package (default: every public benchmark and helm)",
    )
    dl.set_defaults(run=_download)
    ls = commands.add_parser("benchmarks", help="list every benchmark and whether its data is present")
    ls.add_argument("--data-dir", metavar="DIR", help="local data mirror to check")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(run=_benchmarks)
    tx = commands.add_parser("taxonomy", help="print the taxonomy tree with benchmark coverage")
    tx.add_argument("--json", action="store_true", help="machine-readable output")
    tx.set_defaults(run=_taxonomy)
    pr = commands.add_parser("prompts", help="print the exact prompt one instance of a benchmark would be sent")
    pr.add_argument("id", metavar="ID", help="benchmark id")
    pr.add_argument("--data-dir", metavar="DIR", help="local data mirror (and HELM's package in DIR/helm/)")
    pr.add_argument("--instance", metavar="INSTANCE_ID", help="instance id (default: the first sampled)")
    pr.add_argument("--max-instances", type=int, default=1000, metavar="N", help=argparse.SUPPRESS)
    pr.add_argument("--json", action="store_true", help="machine-readable output")
    pr.set_defaults(run=_prompts)
    add_commands(commands)
    ag = commands.add_parser(
        "agreement",
        help="agreement of the jury with clinicians, and of clinicians "
        "with each other, from a ratings CSV (ICC with 95%% CIs)",
    )
    ag.add_argument(
        "ratings",
        metavar="RATINGS.csv",
        help="columns item_id, rater, rater_kind (clinician|jury), score; optional criterion, dataset",
    )
    ag.add_argument("--json", action="store_true", help="machine-readable output")
    ag.set_defaults(run=lambda args: _agreement(args.ratings, args.json))
    from pytest_medhelm.leaderboard.commands import add_commands as add_leaderboard_commands

    add_leaderboard_commands(commands)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
