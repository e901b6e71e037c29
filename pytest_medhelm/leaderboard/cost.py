"""Cost: the dry-run estimate (``--medhelm-estimate``); the spending limit is the engine's
(:mod:`pytest_medhelm.engine.budget`).

Actual cost is the provider-reported input and output tokens of every call times the registry's
prices (``ModelConfig.cost``); a cached answer costs nothing. The estimate follows the method
behind the MedHELM paper's dollar figures (spec 5): the prompt's tokens in, the benchmark's full
output budget out (4,000 tokens for reasoning models), at list prices: an upper bound.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# No tokenizer is installed for every provider: about four characters a token for English text.
CHARS_PER_TOKEN = 4


@dataclass
class EstimateRow:
    model: str
    benchmark: str
    items: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    priced: bool = True


def estimate(items: Iterable[tuple[Any, Any, Any]]) -> list[EstimateRow]:
    """``(benchmark, instance, model)`` triples -> expected tokens and cost per model and benchmark."""
    rows: dict[tuple[str, str], EstimateRow] = defaultdict(lambda: EstimateRow("", ""))
    for benchmark, instance, model in items:
        row = rows[(model.name, benchmark.id)]
        row.model, row.benchmark = model.name, benchmark.id
        prompt_tokens = -(-len(benchmark.render(instance)) // CHARS_PER_TOKEN)
        output_tokens = model.output_budget(benchmark.max_tokens)
        row.items += 1
        row.input_tokens += prompt_tokens
        row.output_tokens += output_tokens
        row.cost_usd += model.cost(prompt_tokens, output_tokens)
        row.priced = row.priced and (model.price is not None or model.provider == "baseline")
    return [rows[key] for key in sorted(rows)]


def estimate_lines(rows: list[EstimateRow]) -> list[str]:
    lines = [
        "",
        "=" * 20 + " MedHELM cost estimate (nothing was sent) " + "=" * 20,
        f"input: the prompt's length / {CHARS_PER_TOKEN} characters a token; output: the full max_tokens "
        "budget of every item (reasoning models: their own); registry list prices: an upper bound",
    ]
    header = ("model", "benchmark", "items", "input tok", "output tok", "USD")
    table = [header] + [
        (
            r.model,
            r.benchmark,
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
    return lines
