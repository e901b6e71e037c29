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
    them is dropped when ``input_noun`` is ``None`` (HELM's MC adapter).
    """

    instructions: str = ""
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
        if self.instructions:
            return f"{self.instructions}\n\n{block}"
        return block


@dataclass(frozen=True, slots=True)
class ScoreContext:
    """What a scorer may need beyond the instance and the output."""

    data_dir: Path | None = None
    # The jury (a later addition) reaches the engine through here.
    engine: Any = None
    model: Any = None


Metrics = Mapping[str, float]
Scorer = Callable[[Instance, str, ScoreContext], Union[Metrics, Awaitable[Metrics]]]
PromptBuilder = Union[Prompt, Callable[[Instance], str]]


@dataclass(frozen=True)
class Benchmark:
    """A MedHELM benchmark: where its data is, how an instance is asked, how it is scored."""

    id: str
    name: str
    category: str
    subcategory: str
    access: Access
    source: Source
    to_instance: Callable[[Mapping[str, Any]], Instance | None]
    prompt: PromptBuilder
    scorer: Scorer
    main_metric: str
    max_tokens: int
    # An item passes when its main metric is at least this value.
    pass_at: float = 1.0
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

    def render(self, instance: Instance) -> str:
        if isinstance(self.prompt, Prompt):
            return self.prompt.render(instance)
        return self.prompt(instance)

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
