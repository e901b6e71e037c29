"""Collection: a suite module becomes one item per (instance, model).

Items are light ``pytest.Item`` subclasses rather than parametrized functions: a run can hold
tens of thousands of them. The model call happens in ``setup`` (so an infrastructure failure is an
ERROR) and the pass rule is checked in ``runtest`` (so a low score is a FAILURE).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_medhelm.benchmark import Benchmark, Instance
from pytest_medhelm.data import DataError, DataUnavailable, LoadedBenchmark
from pytest_medhelm.engine import Completion, FatalModelError, ModelError
from pytest_medhelm.evaluate import Outcome
from pytest_medhelm.models import ModelConfig
from pytest_medhelm.results import (
    DATA_FILES_PROPERTY,
    NOT_RUN_PAID_PROPERTY,
    NOT_RUN_PROPERTY,
    OUTPUT_PROPERTY,
    REFERENCE_PROPERTY,
    InstanceRecord,
    data_file_hashes,
)
from pytest_medhelm.taxonomy import slug

from pytest_medhelm.plugin.session import download_selector_key, plugin_key

outcome_key = pytest.StashKey[Outcome]()
# Benchmarks whose data file hashes this process has already sent to the controller.
data_files_reported_key = pytest.StashKey[set]()
_UNSAFE_ID = re.compile(r"[\s\[\]:]+")


class ScoreBelowPass(Exception):
    """The item ran; its main metric is below the benchmark's pass rule."""


def benchmark_markers(benchmark: Benchmark) -> list[pytest.MarkDecorator]:
    names = [
        "medhelm",
        benchmark.id,
        benchmark.category,
        slug(benchmark.subcategory),
        benchmark.access,
        "open_ended" if benchmark.open_ended else "closed_ended",
    ]
    return [getattr(pytest.mark, name) for name in names]


def usage_fields(completion: Completion) -> dict[str, Any]:
    """What a result row keeps of a model call: who answered, tokens, cost, latency, cache hit."""
    return {
        "model": completion.model,
        "input_tokens": completion.input_tokens,
        "output_tokens": completion.output_tokens,
        "cost_usd": round(completion.cost_usd, 8),
        "cached": completion.cached,
        "latency_s": round(completion.latency_s, 4),
    }


def below_pass_rule(benchmark_id: str, metric: str, score: float, pass_at: float) -> ScoreBelowPass:
    return ScoreBelowPass(f"{benchmark_id}: {metric} = {score:g}, below the pass rule (>= {pass_at:g})")


def jury_fields(outcome: Outcome) -> dict[str, Any]:
    """The jury's share of a result row: its tokens and cost (apart from the model's), the judges'
    scores and explanations (``jury``), and the scale of the main metric."""
    fields: dict[str, Any] = {"scale": list(outcome.benchmark.scale)}
    jury = outcome.jury
    if jury is not None:
        fields.update(
            jury_input_tokens=jury.input_tokens,
            jury_output_tokens=jury.output_tokens,
            jury_cost_usd=round(jury.cost_usd, 8),
            jury=jury.detail(),
        )
    return fields


def record_for(outcome: Outcome) -> InstanceRecord:
    benchmark = outcome.benchmark
    # Built from our own typed values: no validation needed (one per item, on the hot path).
    return InstanceRecord.model_construct(
        **jury_fields(outcome),
        benchmark=benchmark.id,
        instance_id=outcome.instance.id,
        score=outcome.score,
        metrics=outcome.metrics,
        passed=outcome.passed,
        run=outcome.instance.run,
        category=benchmark.category,
        subcategory=benchmark.subcategory,
        metric=benchmark.main_metric,
        normalized=benchmark.normalized(outcome.score),
        open_ended=benchmark.open_ended,
        prompt_source=benchmark.prompt_source,
        **usage_fields(outcome.completion),
    )


class _BracketItem(pytest.Item):
    """An item named ``base[params]`` whose node id round-trips through pytest's own parsing."""

    @classmethod
    def from_parent(cls, parent: pytest.Collector, *, name: str, **kwargs: Any) -> Any:  # type: ignore[override]
        # pytest 9 builds a custom item's id as one opaque name, while --lf and -x caches parse
        # "base[params]" back into base + params: the two never compare equal and --lf reruns
        # everything. A string id is parsed the same way as the cache's (and is what pytest 8 used).
        return super().from_parent(parent, name=name, nodeid=f"{parent.nodeid}::{name}", **kwargs)


class InstanceItem(_BracketItem):
    def __init__(
        self, *, benchmark: Benchmark, instance: Instance, model: ModelConfig, loaded: LoadedBenchmark, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.benchmark = benchmark
        self.instance = instance
        self.model = model
        self.loaded = loaded

    def setup(self) -> None:
        try:
            self.stash[outcome_key] = self.config.stash[plugin_key].outcome_for(self)
        except BaseException as exc:
            from pytest_medhelm.engine.budget import BudgetSpent

            if isinstance(exc, BudgetSpent):  # not run, and counted as such in results.json
                self.user_properties.append((NOT_RUN_PROPERTY, self.benchmark.id))
                if exc.paid_usd:
                    self.user_properties.append((NOT_RUN_PAID_PROPERTY, round(exc.paid_usd, 8)))
                pytest.skip(str(exc))
            # Identify the errored item for the controller's per-benchmark error counts.
            self.user_properties += [("medhelm.benchmark", self.benchmark.id), ("medhelm.model", self.model.name)]
            if isinstance(exc, FatalModelError):
                self.session.shouldstop = f"medhelm: {exc}"
            if isinstance(exc, Exception) and not self.config.getoption("showlocals"):
                # The message alone (pytrace=False): pytest formats setup errors as a long traceback,
                # never through repr_failure, and its frames hold the prompt (patient text) and the
                # request headers (the API key); formatting it also costs about a second an item.
                # --showlocals is the explicit request for the full traceback.
                message = (
                    str(exc)
                    if isinstance(exc, ModelError)
                    else (f"{self.benchmark.id}: {type(exc).__name__}: {exc} (--showlocals for the traceback)")
                )
                raise pytest.fail.Exception(message, pytrace=False) from None
            raise

    def runtest(self) -> None:
        outcome = self.stash[outcome_key]
        self.user_properties.extend(record_for(outcome).to_properties())
        # Patient text for results.json: the controller's reporter takes these two off the report
        # before JUnit or any other consumer sees them (unless --medhelm-include-text).
        self.user_properties += [(OUTPUT_PROPERTY, outcome.completion.text), (REFERENCE_PROPERTY, self.instance.gold)]
        reported = self.session.stash.setdefault(data_files_reported_key, set())
        if self.benchmark.id not in reported:
            reported.add(self.benchmark.id)
            self.user_properties.append((DATA_FILES_PROPERTY, data_file_hashes(self.loaded)))
        if not outcome.passed:
            raise below_pass_rule(self.benchmark.id, self.benchmark.main_metric, outcome.score, self.benchmark.pass_at)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        # Short, and never the prompt or the model's output: both may hold patient text.
        if isinstance(excinfo.value, ScoreBelowPass):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # A line number (0, the file's start) is required: a skip marker's report points at it.
        return self.path, 0, f"{self.benchmark.id} {self.instance.id} on {self.model.name}"


class NoticeItem(_BracketItem):
    """Stands in for a benchmark that cannot run: skipped (no data) or errored (bad data)."""

    def __init__(self, *, message: str, skip: bool, benchmark_id: str = "", kind: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message
        self.skip = skip
        if skip and kind:  # why this benchmark did not run, for the run's status (plugin/outcome.py)
            from pytest_medhelm.plugin.outcome import unavailable_properties

            self.user_properties.extend(unavailable_properties(kind, benchmark_id, message))
        if skip:
            # A skip marker, so that pytest reports the skip at the suite module, not at this file.
            self.add_marker(pytest.mark.skip(reason=message))

    def setup(self) -> None:
        if self.skip:
            pytest.skip(self.message)  # only without pytest's skipping plugin (-p no:skipping)
        pytest.fail(self.message, pytrace=False)  # setup errors bypass repr_failure: no traceback

    def runtest(self) -> None:
        """Never reached: setup always skips or fails."""

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, self.name


def item_name(benchmark: Benchmark, instance: Instance, model: ModelConfig) -> str:
    return f"{benchmark.id}[{_UNSAFE_ID.sub('_', instance.id)}-{model.name}]"


class BenchmarkModule(pytest.File):
    """A built-in suite module (``suites/<category>/test_<id>.py``) or a user benchmark file."""

    def load_benchmark(self) -> Benchmark:
        from pytest_medhelm.suites import load_benchmark

        return load_benchmark(self.path)

    def collect(self) -> Iterator[pytest.Item]:
        plugin = self.config.stash[plugin_key]
        # test_pubmed_qa.py -> pubmed_qa; triage.medhelm.yaml -> triage
        stem = self.path.name.split(".")[0].removeprefix("test_")
        try:
            benchmark = self.load_benchmark()
        except (DataError, TypeError, ValueError, ImportError, OSError) as exc:
            yield NoticeItem.from_parent(self, name=f"{stem}[definition]", message=str(exc), skip=False)
            return
        # On the module, once: its items inherit them for -m, -k and iter_markers() alike, and
        # six add_marker calls per item were a third of collecting 50,000 items.
        for marker in benchmark_markers(benchmark):
            self.add_marker(marker)

        def notice(suffix: str, message: str, skip: bool) -> NoticeItem:
            return NoticeItem.from_parent(
                self,
                name=f"{benchmark.id}[{suffix}]",
                message=message,
                skip=skip,
                benchmark_id=benchmark.id,
                kind=suffix,
            )

        if not plugin.models:
            yield notice("no-model", "no model given: pass --medhelm-model NAME", True)
            return
        try:
            # --medhelm-download fetches only what -k and -m may select (paths select by themselves).
            selector = self.config.stash.get(download_selector_key, None)
            loaded = plugin.load(benchmark, download=selector is None or selector(self))
        except DataUnavailable as exc:
            yield notice("data", str(exc), True)
            return
        except DataError as exc:
            yield notice("data", f"{benchmark.id}: bad data: {exc}", False)
            return
        except Exception as exc:  # noqa: BLE001  (one benchmark's broken reader must not stop the run)
            yield notice("data", f"{benchmark.id}: cannot read its data: {type(exc).__name__}: {exc}", False)
            return
        from pytest_medhelm.plugin.jury import needs_jury

        if needs_jury(benchmark) and plugin.jury is not None:
            from pytest_medhelm.jury import JuryPromptError

            try:
                benchmark = plugin.jury.scored(benchmark)
            except JuryPromptError as exc:
                yield notice("jury", f"{benchmark.id}: {exc}", False)
                return
        elif benchmark.requires_jury:
            yield notice(
                "jury",
                f"{benchmark.id} has no reference answer: only MedHELM's LLM jury can "
                "score it, and the jury is off (--medhelm-jury none)",
                True,
            )
            return
        instances = loaded.instances
        if plugin.settings.shard is not None:  # --medhelm-shard I/N: every N-th instance from the I-th
            index, count = plugin.settings.shard
            instances = instances[index - 1 :: count]
        for instance in instances:
            for model in plugin.models:
                yield InstanceItem.from_parent(
                    self,
                    name=item_name(benchmark, instance, model),
                    benchmark=benchmark,
                    instance=instance,
                    model=model,
                    loaded=loaded,
                )


class UserBenchmarkFile(BenchmarkModule):
    """A hospital's own benchmark: a ``*.medhelm.yaml`` beside its CSV or JSONL (spec 7.9)."""

    def load_benchmark(self) -> Benchmark:
        from pytest_medhelm.configurable import load_user_benchmark

        benchmark = load_user_benchmark(self.path)
        register_markers(self.config, benchmark)
        return benchmark


def register_markers(config: pytest.Config, benchmark: Benchmark) -> None:
    """Declare a user benchmark's own markers (its id; ``custom`` places) so --strict-markers passes."""
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    wanted = {
        benchmark.id: f"user-defined benchmark {benchmark.name}",
        benchmark.category: f"category {benchmark.category}",
        slug(benchmark.subcategory): f"subcategory {benchmark.subcategory}",
    }
    for name, text in wanted.items():
        if name not in known:
            config.addinivalue_line("markers", f"{name}: {text}")
