"""What a benchmark is: declarations, not machinery.

A suite module builds one :class:`Benchmark` from a data :class:`~pytest_medhelm.data.Source`,
a ``to_instance`` function, a :class:`Prompt` and a scorer. Everything that runs it (loading,
sampling, the model engine, aggregation, pytest items) lives elsewhere in the package.
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

if TYPE_CHECKING:
    from pytest_medhelm.data.sources import Source
    from pytest_medhelm.helm import AdapterStrings, Template

Access = Literal["public", "gated", "private"]
LETTERS = string.ascii_uppercase


@dataclass(frozen=True, slots=True)
class Instance:
    """One evaluation item, as HELM's scenario would build it.

    ``input`` is the instance's own text (HELM's ``Input.text``): the prompt builder wraps it in
    instructions and cues, and the jury shows it to the judges as-is.
    """

    id: str
    input: str
    reference: str = ""
    choices: tuple[str, ...] = ()
    correct: int | None = None
    split: str = "test"
    # Benchmarks scored as the mean of several HELM runs (CLEAR conditions, MedDialog subsets,
    # EHRSHOT tasks, N2C2 criteria) tag each instance with its run.
    run: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gold(self) -> str:
        """The correct answer text: the correct option for multiple choice, else the reference."""
        if self.choices and self.correct is not None:
            return self.choices[self.correct]
        return self.reference

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(LETTERS[: len(self.choices)])


@dataclass(frozen=True, slots=True)
class Prompt:
    """HELM's single-string prompt layout (spec 7.5): no chat template, no system prompt.

    ``input_noun=""`` really produces ``": "`` before the input, as in HELM; ``None`` produces
    nothing. For multiple choice the options follow as ``A. text`` lines, and the newline before
    them is dropped when ``input_noun`` is ``None`` (HELM's MC adapter). ``instructions`` may be a
    template (HELM builds CLEAR's from the run's condition): its fields are filled from the
    instance's ``extra``.
    """

    instructions: str | Template = ""
    input_noun: str | None = None
    output_noun: str | None = None
    newline_after_input_noun: bool = False
    multiple_choice: bool = False

    def render(self, instance: Instance) -> str:
        if self.input_noun is None:
            prefix, suffix = "", "" if self.multiple_choice else "\n"
        else:
            prefix = f"{self.input_noun}:" + ("\n" if self.newline_after_input_noun else " ")
            suffix = "\n"
        block = prefix + instance.input + suffix
        if self.multiple_choice:
            block += "".join(f"{letter}. {text}\n" for letter, text in zip(LETTERS, instance.choices))
        if self.output_noun is not None:
            block += f"{self.output_noun}: ".rstrip()
        instructions = self.instructions
        if not isinstance(instructions, str):
            instructions = instructions.fill(instance.extra)
        if instructions:
            return f"{instructions}\n\n{block}"
        return block

    @classmethod
    def from_helm(cls, adapter: AdapterStrings) -> Prompt:
        """The prompt layout of one HELM run spec (see :func:`pytest_medhelm.helm.adapter_strings`)."""
        return cls(
            instructions=adapter.instructions,
            input_noun=adapter.input_noun,
            output_noun=adapter.output_noun,
            newline_after_input_noun=adapter.newline_after_input_noun,
            multiple_choice=adapter.multiple_choice,
        )


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """How one benchmark asks: the prompt builder, the request's parameters, and where the words come from.

    ``source`` is ``helm-0.5.16`` when the prompt is HELM's (read from its package), ``own`` when
    it is our fallback wording (no package found), or ``user`` for a ``*.medhelm.yaml`` benchmark.
    """

    prompt: PromptBuilder
    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    source: str = "own"

    def render(self, instance: Instance) -> str:
        return self.prompt.render(instance) if isinstance(self.prompt, Prompt) else self.prompt(instance)


@dataclass(frozen=True, slots=True)
class ScoreContext:
    """What a scorer may need beyond the instance and the output."""

    data_dir: Path | None = None
    # The jury (a later addition) reaches the engine through here.
    engine: Any = None
    model: Any = None
    # What a scorer leaves for the results row beyond its metrics (the jury's judgement: "jury").
    extras: dict[str, Any] = field(default_factory=dict)


Metrics = Mapping[str, float]
Scorer = Callable[[Instance, str, ScoreContext], Union[Metrics, Awaitable[Metrics]]]
PromptBuilder = Union[Prompt, Callable[[Instance], str]]


@dataclass(frozen=True)
class Benchmark:
    """A MedHELM benchmark: where its data is, how an instance is asked, how it is scored.

    Each fact is declared once: the place in the taxonomy comes from ``taxonomy.yaml`` (by id);
    ``open_ended=True`` brings the open-ended defaults (ROUGE-L under ``rouge_l`` until a jury is
    configured, pass at 0.2, and the jury metric ``<id>_accuracy``); ``helm_prompt`` names HELM's
    run spec, whose instructions, nouns and request parameters are read from HELM's package at run
    time, with ``prompt`` and ``max_tokens`` as our own fallback when the package is absent.
    """

    id: str
    name: str
    access: Access
    source: Source
    to_instance: Callable[[Mapping[str, Any]], Instance | None]
    # Our own wording: used only when HELM's package is not available (results say ``own``).
    prompt: PromptBuilder
    max_tokens: int
    scorer: Scorer | None = None
    main_metric: str = ""
    # HELM's run-spec name (``@run_spec_function("...")`` in medhelm_run_specs.py).
    helm_prompt: str | None = None
    category: str = ""
    subcategory: str = ""
    # An item passes when its main metric is at least this value (default 1.0; 0.2 open-ended).
    pass_at: float = None  # type: ignore[assignment]
    open_ended: bool = False
    # MedHELM's jury metric for open-ended benchmarks (``aci_bench_accuracy``); until a jury is
    # configured they are scored by ``scorer`` (ROUGE) under ``main_metric`` instead.
    jury_metric: str | None = None
    # No reference answer exists (NoteExtract): only the jury can score it, so without a jury the
    # benchmark is skipped before any model call is paid for.
    requires_jury: bool = False
    # 1-5 for the jury; used to put scores on one 0-1 scale for category means.
    scale: tuple[float, float] = (0.0, 1.0)
    # HELM's per-run-entry cap (CLEAR: 100 per condition); None means the session's cap.
    max_instances: int | None = None
    # Splits that count towards the leaderboard (MedQA samples valid+test, scores test only).
    scored_splits: tuple[str, ...] = ("test",)
    # HELM keys some benchmarks' instances by prompt in a dict (RaceBias, SHC): a repeated id then
    # replaces the earlier instance in place (first position, last label) instead of being numbered.
    collapse_duplicates: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        def default(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if not self.category or not self.subcategory:
            from pytest_medhelm.taxonomy import load_taxonomy

            place = load_taxonomy().place(self.id)
            if place is None:
                raise ValueError(
                    f"benchmark {self.id!r} is not placed in taxonomy.yaml (nor given a category and subcategory)"
                )
            default("category", place[0].id)
            default("subcategory", place[1].name)
        if self.open_ended:
            if self.scorer is None:
                from pytest_medhelm import scorers

                default("scorer", scorers.rouge_l)
                default("main_metric", self.main_metric or "rouge_l")
            if self.jury_metric is None and self.helm_prompt is not None:
                default("jury_metric", f"{self.id}_accuracy")
        if self.pass_at is None:
            default("pass_at", 0.2 if self.open_ended else 1.0)
        if self.scorer is None or not self.main_metric:
            raise ValueError(f"benchmark {self.id!r}: a closed-ended benchmark needs a scorer and a main_metric")

    def plan(self) -> RequestPlan:
        """How this benchmark asks now: HELM's prompt when its package is here, else our own."""
        from pytest_medhelm.helm.prompts import request_plan

        return request_plan(self)

    @property
    def prompt_source(self) -> str:
        return self.plan().source

    def render(self, instance: Instance) -> str:
        return self.plan().render(instance)

    @property
    def closed_ended(self) -> bool:
        return not self.open_ended

    async def score(self, instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
        result = self.scorer(instance, output, ctx)
        if inspect.isawaitable(result):
            result = await result
        metrics = {name: float(value) for name, value in result.items()}
        if self.main_metric not in metrics:
            raise KeyError(f"{self.id}: scorer returned no {self.main_metric!r} (got {sorted(metrics)})")
        return metrics

    def normalized(self, score: float) -> float:
        """The score on a 0-1 scale, so 1-5 jury scores and accuracies can share a mean."""
        low, high = self.scale
        return (score - low) / (high - low)
