"""The session's LLM jury: which judges, which prompt per benchmark, and the missing-key stop.

``--medhelm-jury`` names the judges (registry names, aliases, ``NAME@http://host/v1``), comma
separated; by default MedHELM's three, as HELM's judges file names them (resolved through the
registry's aliases, keyed by the file's short names ``gpt``, ``llama``, ``claude``);
``--medhelm-jury none`` turns the jury off. A benchmark with a jury metric is scored by the jury
(:func:`pytest_medhelm.jury.scoring.with_jury`); NoteExtract, which only a jury can score, runs.

Before any model call of a session that will judge something, every judge's API key must be set:
otherwise the session stops with one message naming the missing variables.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_medhelm.benchmark import Benchmark
    from pytest_medhelm.jury import Judge, Jury, JuryPrompt
    from pytest_medhelm.models import ModelConfig, ModelRegistry

NONE = "none"
# The collection report that carries a worker's missing-key message to the xdist controller.
MISSING_KEYS_ID = "medhelm::jury::missing-keys"


def parse_jury_option(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """``--medhelm-jury`` values -> judge names; None for the default jury, () for none."""
    if not values:
        return None
    names = tuple(dict.fromkeys(n.strip() for value in values for n in value.split(",") if n.strip()))
    if any(n.lower() == NONE for n in names):
        if len(names) > 1:
            raise pytest.UsageError("--medhelm-jury none cannot be combined with judge names")
        return ()
    return names or None


class SessionJury:
    """The judges of a session and the judge prompt of each benchmark (built on first use)."""

    def __init__(self, registry: ModelRegistry, names: tuple[str, ...] | None, data_dir: Any, env: Any = None) -> None:
        from pytest_medhelm.jury import Judge, Jury
        from pytest_medhelm.models import RegistryError

        self.registry = registry
        self.data_dir = data_dir
        self.default = names is None
        self._env = os.environ if env is None else env
        try:
            judges = (
                self._default_judges()
                if names is None
                else [Judge(key, registry.resolve(n)) for key, n in zip(judge_keys(names), names)]
            )
        except RegistryError as exc:
            raise pytest.UsageError(f"medhelm: --medhelm-jury: {exc}") from None
        self.jury: Jury = Jury(judges)
        self._prompts: dict[str, JuryPrompt | Exception] = {}
        self._user_juries: dict[tuple[str, ...], Jury] = {}

    def _default_judges(self) -> list[Judge]:
        from pytest_medhelm.jury import Judge
        from pytest_medhelm.jury.prompts import JuryPromptError, helm_judges

        try:
            return [Judge(j.name, self.registry.resolve(j.model)) for j in helm_judges(self.data_dir)]
        except (JuryPromptError, ImportError):
            # HELM's package is not here: the registry's judges stand in (the jury's benchmarks will
            # then say that HELM's prompts are missing).
            return [Judge(m.name, m) for m in self.registry.judges()]

    @property
    def judges(self) -> tuple[Judge, ...]:
        return self.jury.judges

    def missing_keys(self, models: Sequence[ModelConfig] = ()) -> dict[str, list[str]]:
        """API key variable -> the judges that need it, for every variable that is not set."""
        missing: dict[str, list[str]] = {}
        for model in [*(j.model for j in self.judges), *models]:
            if model.api_key_env and not self._env.get(model.api_key_env):
                missing.setdefault(model.api_key_env, []).append(model.name)
        return missing

    def missing_key_message(self, models: Sequence[ModelConfig] = ()) -> str | None:
        missing = self.missing_keys(models)
        if not missing:
            return None
        which = "MedHELM's default judges" if self.default else "the jury's judges"
        names = "; ".join(f"${var} (for {', '.join(dict.fromkeys(judges))})" for var, judges in missing.items())
        return (
            f"medhelm: {which} need API keys that are not set: {names}. Set them, choose other judges "
            "with --medhelm-jury NAME[,NAME...], or score open-ended benchmarks by ROUGE with --medhelm-jury none"
        )

    def prompt_for(self, benchmark: Benchmark) -> JuryPrompt:
        from pytest_medhelm.jury.prompts import helm_prompt, rubric_prompt

        cached = self._prompts.get(benchmark.id)
        if cached is None:
            user = getattr(benchmark, "jury", None)
            try:
                if user is not None:
                    cached = rubric_prompt(
                        user.rubric,
                        user.scale,
                        default_score=user.default_score,
                        source=f"rubric:{getattr(benchmark, 'definition_file', '')}",
                    )
                else:
                    cached = helm_prompt(benchmark.id, self.data_dir)
            except Exception as exc:  # noqa: BLE001 - raised again for every item of the benchmark
                cached = exc
            self._prompts[benchmark.id] = cached
        if isinstance(cached, Exception):
            raise cached
        return cached

    def jury_for(self, benchmark: Benchmark) -> Jury:
        """The session's jury, or the judges a user benchmark's YAML names."""
        from pytest_medhelm.jury import Judge, Jury

        user = getattr(benchmark, "jury", None)
        if user is None or not user.judges:
            return self.jury
        names = tuple(user.judges)
        if names not in self._user_juries:
            self._user_juries[names] = Jury(
                [Judge(key, self.registry.resolve(n)) for key, n in zip(judge_keys(names), names)]
            )
        return self._user_juries[names]

    def scored(self, benchmark: Benchmark) -> Benchmark:
        """``benchmark`` with the jury as its scorer, when it has a jury metric; else unchanged."""
        from pytest_medhelm.configurable import JURY_METRIC
        from pytest_medhelm.jury.scoring import with_jury

        user = getattr(benchmark, "jury", None)
        if benchmark.jury_metric is None and user is None:
            return benchmark
        prompt = self.prompt_for(benchmark)
        metric = benchmark.jury_metric or JURY_METRIC
        return with_jury(
            benchmark, self.jury_for(benchmark), prompt, metric=metric, main=benchmark.jury_metric is not None
        )


class JuryKeyGate:
    """Before any call: a session that will judge something needs every judge's API key.

    Checked on the collected items (every process collects the same): a single process stops with
    a usage error. Under xdist the controller collects nothing, so each worker makes no call and
    hands the message to the controller as a collection report of its own (xdist forwards it
    before the worker's collection, so before anything is scheduled); the controller stops the
    session with that one usage error, as a single process does, and the other workers' copies
    are never read. (The controller planned nothing: see the fast path's plan.)"""

    def __init__(self, plugin: Any) -> None:
        self.plugin = plugin

    @pytest.hookimpl(tryfirst=True)  # before xdist's worker sends its collection to the controller
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return  # nothing will be called
        if self.plugin.settings.jury == () or not any(
            needs_jury(benchmark)
            for item in session.items
            if (benchmark := getattr(item, "benchmark", None)) is not None and hasattr(item, "instance")
        ):
            return
        jury = self.plugin.jury
        message = jury.missing_key_message() if jury is not None else None
        if message is None:
            return
        if not hasattr(self.plugin.config, "workerinput"):
            raise pytest.UsageError(message)
        from pytest_medhelm.engine import FatalModelError

        self.plugin.engine.fatal = FatalModelError(message.removeprefix("medhelm: "))  # no call, whatever comes
        report = pytest.CollectReport(MISSING_KEYS_ID, "failed", message, [])
        session.config.hook.pytest_collectreport(report=report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """The xdist controller: the first worker's missing-key report stops the session."""
        if report.nodeid == MISSING_KEYS_ID and not hasattr(self.plugin.config, "workerinput"):
            raise pytest.UsageError(str(report.longrepr))


def judge_keys(names: Sequence[str]) -> list[str]:
    """A judge's key in results: its name, without the ``@URL`` part unless two judges share it."""
    short = [name.partition("@")[0] for name in names]
    return [s if short.count(s) == 1 else name for s, name in zip(short, names)]


def needs_jury(benchmark: Benchmark) -> bool:
    return benchmark.jury_metric is not None or getattr(benchmark, "jury", None) is not None


__all__ = ["NONE", "SessionJury", "needs_jury", "parse_jury_option"]
