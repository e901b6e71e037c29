"""Cost: the dry-run estimate (``--medhelm-estimate``); the spending limit is the engine's
(:mod:`pytest_medhelm.engine.budget`).

Actual cost is the provider-reported input and output tokens of every call times the registry's
prices (``ModelConfig.cost``); a cached answer costs nothing. The estimate follows the method
behind the MedHELM paper's dollar figures (spec 5): the prompt's tokens in, the benchmark's full
output budget out (4,000 tokens for reasoning models), at list prices: an upper bound. A benchmark
scored by the jury adds each judge's calls: its judge prompt (built from HELM's template as the
jury builds it, with the answer at its full output budget standing in for the answer) in, the
judge's max tokens out, at the judge's prices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

# No tokenizer is installed for every provider: about four characters a token for English text.
CHARS_PER_TOKEN = 4


@dataclass
class EstimateRow:
    """Expected tokens of one model's items on one benchmark, or of one judge's calls on them.

    Token counts and prices, not dollars, are kept: the cost is computed from the sums, so rows
    added up in any order (xdist workers' shares) give the same figure to the last digit.
    """

    model: str  # the evaluated model
    benchmark: str
    judge: str = ""  # a judge of this model's answers (its calls), or "" (the model's own calls)
    items: int = 0  # items, or the judge's calls
    input_tokens: int = 0
    output_tokens: int = 0
    # The prices of whoever answers this row's calls (None: no price in the registry); a baseline is free.
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    free: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model, self.benchmark, self.judge)

    @property
    def priced(self) -> bool:
        return self.free or self.input_per_mtok is not None

    @property
    def cost_usd(self) -> float:
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return 0.0
        return (self.input_tokens * self.input_per_mtok + self.output_tokens * self.output_per_mtok) / 1e6

    def count(self, input_tokens: int, output_tokens: int) -> None:
        self.items += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def add(self, other: EstimateRow) -> None:
        self.items += other.items
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens


def tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def _row(
    rows: dict[tuple[str, str, str], EstimateRow], model: str, benchmark: str, answerer: Any, judge: str = ""
) -> EstimateRow:
    """The row of ``model``'s items on ``benchmark`` (or of ``judge``'s calls on them), answered by ``answerer``."""
    row = rows.get((model, benchmark, judge))
    if row is None:
        price = answerer.price
        row = rows[(model, benchmark, judge)] = EstimateRow(
            model,
            benchmark,
            judge,
            input_per_mtok=price.input_per_mtok if price else None,
            output_per_mtok=price.output_per_mtok if price else None,
            free=answerer.provider == "baseline",
        )
    return row


def estimate(items: Iterable[tuple[Any, Any, Any]]) -> list[EstimateRow]:
    """``(benchmark, instance, model)`` triples -> expected tokens and cost per model and benchmark,
    and per judge when the benchmark is scored by a jury (its scorer is the jury's)."""
    from pytest_medhelm.jury.prompts import JUDGE_MAX_TOKENS
    from pytest_medhelm.jury.scoring import JuryScorer

    rows: dict[tuple[str, str, str], EstimateRow] = {}
    for benchmark, instance, model in items:
        answer_tokens = model.output_budget(benchmark.max_tokens)
        _row(rows, model.name, benchmark.id, model).count(tokens(benchmark.render(instance)), answer_tokens)
        scorer = benchmark.scorer
        if isinstance(scorer, JuryScorer):
            # Each judge reads the benchmark's judge prompt (HELM's, from its wheel) filled with the
            # question and the reference as the jury fills it, plus the answer at its longest.
            judge_input = tokens(scorer.prompt.render(instance.input, "", instance.reference)) + answer_tokens
            for judge in scorer.jury.judges:
                row = _row(rows, model.name, benchmark.id, judge.model, judge.model.name)
                row.count(judge_input, judge.model.output_budget(JUDGE_MAX_TOKENS))
    return sorted(rows.values(), key=lambda row: row.key)


def merge(parts: Iterable[EstimateRow]) -> list[EstimateRow]:
    """Rows of several processes' shares of the items, added up per model, benchmark and judge."""
    rows: dict[tuple[str, str, str], EstimateRow] = {}
    for part in parts:
        row = rows.get(part.key)
        if row is None:
            rows[part.key] = replace(part)
        else:
            row.add(part)
    return sorted(rows.values(), key=lambda row: row.key)


def estimate_lines(rows: list[EstimateRow]) -> list[str]:
    lines = [
        "",
        "=" * 20 + " MedHELM cost estimate (nothing was sent) " + "=" * 20,
        f"input: the prompt's length / {CHARS_PER_TOKEN} characters a token; output: the full max_tokens "
        "budget of every item (reasoning models: their own); registry list prices: an upper bound",
    ]
    if any(r.judge for r in rows):
        lines.append(
            "jury: every judge reads the benchmark's judge prompt with the item's question and reference, "
            "plus the answer at its full max_tokens, and writes its full max_tokens"
        )
    header = ("model", "benchmark", "items", "input tok", "output tok", "USD")
    table = [header] + [
        (
            r.model,
            f"{r.benchmark} (jury: {r.judge})" if r.judge else r.benchmark,
            str(r.items),
            str(r.input_tokens),
            str(r.output_tokens),
            f"{r.cost_usd:.4f}" if r.priced else "no price",
        )
        for r in rows
    ]
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        totals[r.model] += r.cost_usd
    table += [(model, "TOTAL", "", "", "", f"{cost:.4f}") for model, cost in totals.items()]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        lines.append(
            "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        )
    lines.append(f"expected total: ${sum(totals.values()):.4f}")
    if any(r.judge for r in rows):
        lines.append(f"of which the jury: ${sum(r.cost_usd for r in rows if r.judge):.4f}")
    return lines
