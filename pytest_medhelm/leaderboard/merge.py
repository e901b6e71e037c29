"""``medhelm leaderboard FILE [FILE ...]``: one leaderboard from runs made apart.

Files are results.json files (any schema version) or per-item JUnit files (``--junitxml``) of
earlier runs: runs on different machines or days, or the shards of one run (``--medhelm-shard``);
or else ``medhelm-summary.xml`` files only, whose cells make the leaderboard without the
instances (``summaries``).
Their instance rows are pooled and aggregated exactly as a session aggregates them, so the
shards of a run merge into the unsharded run's result. What does not fit is reported, never
silently mixed: the same instance scored differently in two files is an error; benchmarks whose
models were run on different instance subsets, missing shards, and one model name at two
endpoints are mismatches, listed on stderr and in the result's notes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_medhelm.leaderboard.summaries import SummaryCell
    from pytest_medhelm.results import InstanceRecord, ModelInfo, ResultsFile, RunCounts, Uncertainty


class MergeError(ValueError):
    """Files that cannot be merged (unreadable, or one instance scored two ways)."""


@dataclass
class Pool:
    records: dict[tuple[str, str, str, str], InstanceRecord] = field(default_factory=dict)
    origin: dict[tuple[str, str, str, str], Path] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    model_info: dict[str, ModelInfo] = field(default_factory=dict)
    data_files: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    shards: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    mismatches: list[str] = field(default_factory=list)
    errors: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    # Each file's run: (path, status, reason, counts); counts only from results.json.
    states: list[tuple[Path, str, str | None, RunCounts | None]] = field(default_factory=list)

    def add(self, record: InstanceRecord, path: Path) -> None:
        key = (record.benchmark, record.model, record.run, record.instance_id)
        known = self.records.get(key)
        if known is None:
            self.records[key] = record
            self.origin[key] = path
            if record.model not in self.models:
                self.models.append(record.model)
        elif known.score != record.score:
            raise MergeError(
                f"{record.benchmark} instance {record.instance_id!r} on {record.model} scores "
                f"{known.score:g} in {self.origin[key]} and {record.score:g} in {path}: "
                "these are not the same run"
            )


def read_file(path: Path) -> tuple[list[InstanceRecord], ResultsFile | None]:
    from pydantic import ValidationError

    from pytest_medhelm.leaderboard.junit import JUnitReadError, read_instance_rows
    from pytest_medhelm.results import ResultsFile

    if not path.is_file():
        raise MergeError(f"{path}: no such file")
    if path.suffix.lower() == ".xml":
        try:
            return read_instance_rows(path), None
        except JUnitReadError as exc:
            raise MergeError(str(exc)) from None
    try:
        results = ResultsFile.read(path)
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()
        raise MergeError(f"{path}: not a results.json file: {' '.join(first[:3])}") from None
    return list(results.instances), results


def read_summaries(paths: list[Path]) -> dict[Path, list[SummaryCell]]:
    """The cells of the ``medhelm-summary.xml`` files among ``paths``: all of them, or none (a
    summary's cells and other files' instance rows are not the same kind of thing to pool)."""
    from pytest_medhelm.leaderboard.junit import JUnitReadError, read_summary

    found: dict[Path, list[SummaryCell]] = {}
    for path in paths:
        if path.suffix.lower() != ".xml" or not path.is_file():
            continue
        try:
            cells = read_summary(path)
        except JUnitReadError as exc:
            raise MergeError(str(exc)) from None
        if cells is not None:
            found[path] = cells
    others = [str(path) for path in paths if path not in found]
    if found and others:
        raise MergeError(
            f"{next(iter(found))} is a medhelm-summary.xml (a score per benchmark and model) and "
            f"{', '.join(others)} not: give summaries only, or results.json / --junitxml files only"
        )
    return found


def input_status(path: Path) -> tuple[str, str | None]:
    """The status a JUnit file (per-item or summary) records for its run."""
    from pytest_medhelm.leaderboard.junit import JUnitReadError, read_status

    try:
        return read_status(path)
    except JUnitReadError as exc:
        raise MergeError(str(exc)) from None


def pool(paths: list[Path]) -> Pool:
    merged = Pool()
    for path in paths:
        rows, results = read_file(path)
        if not rows:
            merged.mismatches.append(f"{path}: holds no scored instance")
        for record in rows:
            merged.add(record, path)
        if results is None:
            merged.states.append((path, *input_status(path), None))
            continue
        merged.states.append((path, results.status, results.status_reason, results.counts))
        for model in results.models:
            if model not in merged.models:
                merged.models.append(model)
        for name, info in results.model_info.items():
            known = merged.model_info.setdefault(name, info)
            if known.base_url != info.base_url or known.model != info.model:
                merged.mismatches.append(
                    f"model {name!r} is {known.model} at {known.base_url} in one file and "
                    f"{info.model} at {info.base_url} in {path}"
                )
        for benchmark, files in results.data_files.items():
            known_files = merged.data_files.setdefault(benchmark, files)
            if known_files != files:
                merged.mismatches.append(f"{benchmark}: its data files differ between the runs ({path})")
        merged.skipped.update(results.skipped)
        for benchmark, result in results.benchmarks.items():
            for model, score in result.scores.items():
                merged.errors[(benchmark, model)] += score.errors
        if results.shard:
            index, count = (int(part) for part in results.shard.split("/"))
            merged.shards[count].add(index)
    for count, indices in merged.shards.items():
        missing = sorted(set(range(1, count + 1)) - indices)
        if missing:
            merged.mismatches.append(f"shards of {count}: {', '.join(f'{i}/{count}' for i in missing)} missing")
    merged.mismatches += subset_mismatches(list(merged.records.values()))
    return merged


def subset_mismatches(records: list[InstanceRecord]) -> list[str]:
    """Benchmarks whose models were scored on different instances."""
    by_benchmark: dict[str, dict[str, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    for record in records:
        by_benchmark[record.benchmark][record.model].add((record.run, record.instance_id))
    problems = []
    for benchmark, per_model in sorted(by_benchmark.items()):
        subsets = {frozenset(ids) for ids in per_model.values()}
        if len(subsets) > 1:
            sizes = ", ".join(f"{model} {len(ids)}" for model, ids in per_model.items())
            shared = len(frozenset.intersection(*subsets))
            problems.append(
                f"{benchmark}: the models were run on different instances ({sizes}; {shared} shared): "
                "paired tests use the shared ones, scores and win rates do not compare like with like"
            )
    return problems


def merge(
    paths: list[Path], *, uncertainty: Uncertainty | None = None, command_line: list[str] | None = None
) -> tuple[ResultsFile, list[str]]:
    """The leaderboard of the pooled files, and the mismatches found."""
    from pytest_medhelm import __version__
    from pytest_medhelm.leaderboard.status import merged_state
    from pytest_medhelm.results import aggregate

    summaries = read_summaries(paths)
    if summaries:
        from pytest_medhelm.leaderboard.summaries import merge_summaries

        results, mismatches = merge_summaries(summaries, command_line=command_line)
        results.status, results.status_reason = merged_state(  # type: ignore[assignment]
            [(path, *input_status(path), None) for path in summaries]
        )
        return results, mismatches
    merged = pool(paths)
    status, reason = merged_state(merged.states)
    notes = [f"merged from {len(paths)} files: {', '.join(str(p) for p in paths)}"]
    notes += [f"mismatch: {problem}" for problem in merged.mismatches]
    results = aggregate(
        list(merged.records.values()),
        dict(merged.errors),
        merged.models,
        notes,
        uncertainty=uncertainty,
        plugin_version=__version__,
        command_line=command_line or [],
        model_info=merged.model_info,
        data_files=merged.data_files,
        skipped=merged.skipped,
        status=status,
        status_reason=reason,
    )
    return results, merged.mismatches
