"""Aggregation on the controller: collect item results from reports, print, write results.json.

Works the same with and without xdist: workers' reports are replayed on the controller through
``pytest_runtest_logreport``, and their ``user_properties`` carry the scores.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_medhelm.plugin.options import Settings
from pytest_medhelm.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from pytest_medhelm.models import ModelConfig
    from pytest_medhelm.results import InstanceRecord, ResultsFile


def check_output_dir(output: Path) -> None:
    """Fail at start, before anything is paid for, when results.json could not be written."""
    created = [folder for folder in (output, *output.parents) if not folder.exists()]
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".medhelm-probe-"):
            pass
        for folder in created:  # made again at the end, if there are results to write
            folder.rmdir()
    except OSError as exc:
        raise pytest.UsageError(
            f"medhelm: --medhelm-output {output}: results.json cannot be written there "
            f"({exc.strerror or exc}); pass another folder"
        ) from None


def write_elsewhere(results: ResultsFile, target: Path, exc: OSError) -> tuple[Path | None, str]:
    """results.json could not be written at ``target`` at the end of a run (its folder removed,
    full, made read-only meanwhile): write it to a new folder under the system's temporary
    directory instead. Returns where it went (None if nowhere) and what to say."""
    problem = f"could not write {target} ({exc.strerror or exc})"
    fallback = Path(tempfile.gettempdir()) / f"medhelm-results-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    try:
        results.write(fallback / target.name)
        return fallback / target.name, problem
    except OSError as again:
        return None, f"{problem}, nor {fallback / target.name} ({again.strerror or again})"


class ResultsReporter:
    def __init__(self, config: pytest.Config, settings: Settings, models: Sequence[ModelConfig | str]) -> None:
        self.config = config
        # Our own hooks (plugin.hookspecs): called here, where the results are aggregated.
        self.hook = config.hook
        self.settings = settings
        self.models = [m if isinstance(m, str) else m.name for m in models]
        self.model_configs = [m for m in models if not isinstance(m, str)]
        self.records: list[InstanceRecord] = []
        self.errors: Counter[tuple[str, str]] = Counter()
        # Failures that are not a low score: errors, crashes, plain tests failing.
        self.hard_failures = 0
        self.results: ResultsFile | None = None
        self.started = _now()
        self.texts: dict[tuple[str, str, str], tuple[str | None, str | None]] = {}
        self.data_files: dict[str, dict[str, str]] = {}
        self.skipped: dict[str, str] = {}
        self.written: dict[str, Path] = {}
        self.not_run = 0  # items not run because the budget was spent
        self.not_run_paid_usd = 0.0  # what they had paid before (an answer whose judges were refused)
        self.report_problem: str | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = None
        if report.user_properties:  # a plain test has none: results (pydantic) are not even imported
            from pytest_medhelm.results import JURY_PROPERTY, PREFIX, InstanceRecord

            record = InstanceRecord.from_properties(report.user_properties) if report.when == "call" else None
            # First: no other consumer of the report (JUnit, hooks) gets the patient text.
            self._take_controller_only(report, record)
            if record is not None:
                self.records.append(record)
                self.hook.pytest_medhelm_instance_scored(record=record, report=report, config=self.config)
            if not self.settings.include_text and any(p[0] == JURY_PROPERTY for p in report.user_properties):
                # The judges' explanations may quote patient text: results.json keeps them; JUnit
                # (which writes the teardown report's properties) and other consumers do not.
                report.user_properties = [p for p in report.user_properties if p[0] != JURY_PROPERTY]
            props = dict(report.user_properties) if report.failed and report.when != "call" else {}
            if PREFIX + "benchmark" in props:
                self.errors[(str(props[PREFIX + "benchmark"]), str(props.get(PREFIX + "model", "")))] += 1
        if report.failed and record is None:
            self.hard_failures += 1

    def _take_controller_only(self, report: pytest.TestReport, record: InstanceRecord | None) -> None:
        """Keep the outputs, references, data hashes and skip reasons for results.json, and take
        them off the report: JUnit and other report consumers run after this hook."""
        from pytest_medhelm.results import (
            CONTROLLER_ONLY,
            DATA_FILES_PROPERTY,
            NOT_RUN_PAID_PROPERTY,
            NOT_RUN_PROPERTY,
            OUTPUT_PROPERTY,
            REFERENCE_PROPERTY,
        )

        if report.skipped:  # a benchmark that could not run (no data, no jury): its reason
            from pytest_medhelm.plugin.outcome import NOTICE_BENCHMARK, NOTICE_REASON

            notice = dict(report.user_properties)
            if notice.get(NOTICE_BENCHMARK):
                self.skipped[str(notice[NOTICE_BENCHMARK])] = str(notice.get(NOTICE_REASON, ""))
        props = {name: value for name, value in report.user_properties if name in CONTROLLER_ONLY}
        if not props:
            return
        if record is not None and (OUTPUT_PROPERTY in props or REFERENCE_PROPERTY in props):
            self.texts[(record.benchmark, record.model, record.instance_id)] = (
                props.get(OUTPUT_PROPERTY),
                props.get(REFERENCE_PROPERTY),
            )
        if NOT_RUN_PROPERTY in props and report.skipped:
            self.not_run += 1
            self.not_run_paid_usd += float(props.get(NOT_RUN_PAID_PROPERTY, 0.0))
        if record is not None and isinstance(props.get(DATA_FILES_PROPERTY), dict):
            self.data_files.setdefault(record.benchmark, props[DATA_FILES_PROPERTY])
        keep_text = self.settings.include_text
        drop = CONTROLLER_ONLY - ({OUTPUT_PROPERTY, REFERENCE_PROPERTY} if keep_text else set())
        report.user_properties = [p for p in report.user_properties if p[0] not in drop]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.hard_failures += 1

    def build_results(self) -> ResultsFile:
        """The run's aggregates (once): called by the run outcome (plugin/outcome.py), which
        adds the status, counts and gates, writes results.json and prints the table last."""
        if self.results is None:
            self.results = self.aggregate()
        return self.results

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # After the run outcome wrote results.json (with its status): the other outputs.
        if self.results is not None and self.results.instances:
            from pytest_medhelm.leaderboard.outputs import write_reports

            # Beside results.json, wherever the run outcome could put it (a fallback folder when
            # --medhelm-output failed).
            outcome = self.config.pluginmanager.get_plugin("medhelm-outcome")
            written = getattr(outcome, "written", None)
            folder = Path(written).parent if written else self.settings.output
            try:
                self.written = write_reports(self.results, folder, include_text=self.settings.include_text)
            except OSError as exc:
                self.report_problem = f"could not write the leaderboard's reports in {folder} ({exc.strerror or exc})"

    def aggregate(self) -> ResultsFile:
        from pytest_medhelm import __version__
        from pytest_medhelm.results import ModelInfo, aggregate

        for record in self.records:
            text = self.texts.get((record.benchmark, record.model, record.instance_id))
            if text is not None:
                record.output, record.reference = text
        notes = []
        if any(record.jury is not None for record in self.records):
            notes.append(
                "LLM jury: open-ended benchmarks are scored by the jury on their own scale "
                "(MedHELM's <benchmark>_accuracy: 1-5), normalised to 0-1 for the category means "
                "(jury_score_normalized: (s - 1) / 4 on 1-5)"
            )
        elif any(record.open_ended for record in self.records):
            why = "jury off (--medhelm-jury none)" if self.settings.jury == () else "LLM jury not configured"
            notes.append(
                f"{why}: open-ended benchmarks are scored by ROUGE-L (0-1) "
                "against the reference, not by MedHELM's 1-5 jury"
            )
        model_info = {
            m.name: ModelInfo(
                provider=m.provider,
                model=m.model,
                base_url=m.base_url,
                input_per_mtok=m.price.input_per_mtok if m.price else None,
                output_per_mtok=m.price.output_per_mtok if m.price else None,
            )
            for m in self.model_configs
        }
        shard = self.settings.shard
        budget = {}
        if self.settings.budget_usd is not None:
            spent = sum(map(spent_on, self.records)) + self.not_run_paid_usd
            holder = self.config.pluginmanager.get_plugin("medhelm-engine")
            split = bool(getattr(holder, "budget_split", False))
            budget = {
                "budget_usd": self.settings.budget_usd,
                "spent_usd": round(spent, 6),
                "stopped": self.not_run > 0,
                "not_run": self.not_run,
                "scope": "per worker" if split else "session",
            }
            if self.not_run:
                notes.append(f"budget ${self.settings.budget_usd:g} spent: {self.not_run} items were not run")
            if split:
                notes.append(
                    "budget split: the xdist workers had engines of their own (the fast path off, or workers "
                    "on other machines), so each stopped at an equal share of the budget, not at the session's "
                    "spend; with the fast path on local workers (-n N) one engine process holds the whole budget"
                )
        args = list(self.config.invocation_params.args) if self.config is not None else []
        return aggregate(
            self.records,
            dict(self.errors),
            self.models,
            notes,
            plugin_version=__version__,
            command_line=[Path(sys.argv[0]).name, *args],
            started=self.started,
            finished=_now(),
            shard=f"{shard[0]}/{shard[1]}" if shard else None,
            model_info=model_info,
            data_files=dict(sorted(self.data_files.items())),
            skipped=dict(sorted(self.skipped.items())),
            budget=budget,
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.results is None:
            return
        if self.report_problem:
            terminalreporter.write_line(f"medhelm: {self.report_problem}", red=True)
        if self.results.budget.get("stopped"):
            terminalreporter.write_line(
                f"medhelm: budget ${self.results.budget['budget_usd']:g} spent (${self.results.budget['spent_usd']:.4f}):"
                f" {self.not_run} items were not run",
                red=True,
                bold=True,
            )


def spent_on(record: InstanceRecord) -> float:
    """What an item cost this run: its model's answer and its judges' replies, unless from the cache."""
    judges = (record.jury or {}).get("judges", {}).values()
    jury = sum(float(j.get("cost_usd", 0.0)) for j in judges if not j.get("cached"))
    return (0.0 if record.cached else record.cost_usd) + jury


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths)), *(fmt.format(*row) for row in rows)]


def summary_lines(results: ResultsFile) -> list[str]:
    from pytest_medhelm.leaderboard.build import OVERALL
    from pytest_medhelm.leaderboard.markdown import NOT_SIGNIFICANT, fmt_interval, not_significant_vs_best

    models = results.models
    lines = ["", "=" * 20 + " MedHELM results " + "=" * 20]
    rows = []
    for benchmark_id, result in results.benchmarks.items():
        _, tied = not_significant_vs_best(result)
        cells = []
        for model in models:
            score = result.scores.get(model)
            mark = f" {NOT_SIGNIFICANT}" if model in tied else ""
            cells.append(f"{score.score:.3f}{mark} (n={score.n}){fmt_interval(score.interval)}" if score else "-")
        name = benchmark_id + (" (custom)" if result.group == "custom" else "")
        rows.append([name, result.metric, *cells])
    lines += _table(["benchmark", "metric", *models], rows)
    if len(models) > 1:
        lines.append(
            f"{NOT_SIGNIFICANT}: not significantly different from the benchmark's best model "
            f"(paired test, p >= {results.uncertainty.alpha:g})"
        )
    by_source: dict[str, list[str]] = {}
    for benchmark_id, result in results.benchmarks.items():
        if result.prompt_source:
            by_source.setdefault(result.prompt_source, []).append(benchmark_id)
    lines += [f"prompts {source}: {', '.join(ids)}" for source, ids in sorted(by_source.items())]

    taxonomy = load_taxonomy()
    names = {c.id: c.name for c in taxonomy.categories}
    group_rows = []
    overall = results.win_rates.get(OVERALL, {})
    if len(models) > 1 and overall:
        group_rows.append(
            [
                "mean win rate",
                *(_fmt(overall[m].value) + fmt_interval(overall[m].interval) if m in overall else "-" for m in models),
            ]
        )
    for category_id, per_model in results.categories.items():
        intervals = results.category_intervals.get(category_id, {})
        group_rows.append(
            [
                names.get(category_id, category_id),
                *(_fmt(per_model.get(m)) + fmt_interval(intervals.get(m)) for m in models),
            ]
        )
        for sub in (s for c in taxonomy.categories if c.id == category_id for s in c.subcategories):
            if sub.name in results.subcategories:
                sub_scores = results.subcategories[sub.name]
                group_rows.append(["  " + sub.name, *(_fmt(sub_scores.get(m)) for m in models)])
    group_rows.append(
        [
            "macro average",
            *(_fmt(results.totals[m].macro_average) + fmt_interval(results.totals[m].macro_interval) for m in models),
        ]
    )
    if results.custom:
        group_rows.append(["custom (not in MedHELM's means)", *(_fmt(results.custom.get(m)) for m in models)])
    lines += ["", "category and subcategory means (scores normalised to 0-1):"]
    lines += _table(["group", *models], group_rows)

    total_rows = [
        [
            m,
            str(t.instances),
            str(t.errors),
            str(t.cached),
            str(t.input_tokens),
            str(t.output_tokens),
            f"${t.benchmark_cost_usd:.4f}",
            f"${t.jury_cost_usd:.4f}",
            "-" if t.usd_per_point is None else f"${t.usd_per_point:.4f}",
        ]
        for m, t in results.totals.items()
    ]
    lines += [""] + _table(
        ["model", "items", "errors", "cached", "input tok", "output tok", "benchmark cost", "jury cost", "per point"],
        total_rows,
    )
    if results.skipped:
        lines.append(f"skipped benchmarks: {len(results.skipped)} (reasons in results.json)")
    jury_rows = []
    for benchmark_id, result in results.benchmarks.items():
        for model, stats in (result.jury or {}).items():
            icc = (stats.get("icc") or {}).get("ICC(3,1)")
            jury_rows.append(
                [
                    benchmark_id,
                    model,
                    _fmt(stats.get("score_repaired")),
                    "-" if stats.get("failed_share") is None else f"{stats['failed_share']:.1%}",
                    _fmt(stats.get("krippendorff_alpha")),
                    _fmt(icc),
                    str(stats["input_tokens"] + stats["output_tokens"]),
                    f"${stats['cost_usd']:.4f}",
                ]
            )
    if jury_rows:
        lines += ["", "LLM jury (repaired score on the benchmark's scale; failed judgements; agreement across judges):"]
        lines += _table(
            ["benchmark", "model", "repaired", "failed", "alpha", "ICC(3,1)", "jury tok", "jury cost"], jury_rows
        )
    lines += [f"note: {note}" for note in results.notes]
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
