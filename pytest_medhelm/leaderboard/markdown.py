"""``leaderboard.md``: the tables a person pastes into a pull request. Scores and names only:
no prompt, output or reference (patient text) ever appears here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_medhelm.leaderboard.build import OVERALL
from pytest_medhelm.leaderboard.status import banner

if TYPE_CHECKING:
    from pytest_medhelm.results import BenchmarkResult, ResultsFile

NOT_SIGNIFICANT = "≈"


def ranked_models(results: ResultsFile) -> list[str]:
    """Models by mean win rate (then macro average), best first; models without one last."""
    overall = results.win_rates.get(OVERALL, {})

    def key(model: str) -> tuple[float, float]:
        rate = overall.get(model)
        macro = results.totals[model].macro_average if model in results.totals else None
        return (-(rate.value if rate and rate.value is not None else -1.0), -(macro if macro is not None else -1.0))

    return sorted(results.models, key=key)


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_interval(interval: tuple[float, float] | None, digits: int = 2) -> str:
    return "" if interval is None else f" [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def not_significant_vs_best(result: BenchmarkResult) -> tuple[str | None, set[str]]:
    """The best model of a benchmark and the others whose difference from it is not significant."""
    if not result.scores:
        return None, set()
    best = max(result.scores, key=lambda m: result.scores[m].score)
    tied = set()
    for comparison in result.comparisons:
        if best in (comparison.a, comparison.b) and not comparison.significant:
            tied.add(comparison.b if comparison.a == best else comparison.a)
    return best, tied


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(row) for row in rows), ""]


def render(results: ResultsFile) -> str:
    from pytest_medhelm.leaderboard.summaries import FROM_SUMMARIES

    models = ranked_models(results)
    level = int(round(results.uncertainty.level * 100))
    from_summaries = results.uncertainty.method == FROM_SUMMARIES
    brackets = (
        f"{level}% intervals of the benchmark scores as the runs recorded them (rebuilt from "
        "medhelm-summary.xml, without the instances: no paired tests, no intervals of means or win "
        "rates, no costs)"
        if from_summaries
        else f"{level}% bootstrap intervals ({results.uncertainty.resamples} resamples of the instances, "
        f"seed {results.uncertainty.seed})"
    )
    lines = ["# MedHELM leaderboard", ""]
    warning = banner(results)
    if warning is not None:
        lines += [f"> **{warning}**", ""]
    lines += [
        f"Models ranked by MedHELM's mean win rate over its benchmarks (ties count half a win; a model "
        f"missing a benchmark is left out of it). Brackets: {brackets}. "
        f"Normalisation: {results.normalization}.",
        "",
    ]
    overall = results.win_rates.get(OVERALL, {})
    rows = []
    for rank, model in enumerate(models, start=1):
        totals = results.totals.get(model)
        rate = overall.get(model)
        macro = totals.macro_average if totals else None
        macro_interval = totals.macro_interval if totals else None
        rows.append(
            [
                str(rank),
                model,
                fmt(rate.value if rate else None) + fmt_interval(rate.interval if rate else None),
                fmt(macro) + fmt_interval(macro_interval),
                f"${totals.benchmark_cost_usd:.4f}" if totals and not from_summaries else "-",
                f"${totals.jury_cost_usd:.4f}" if totals and not from_summaries else "-",
                fmt(totals.usd_per_point, 4) if totals and totals.usd_per_point is not None else "-",
            ]
        )
    lines += _table(
        ["rank", "model", "mean win rate", "macro average (0-1)", "benchmark cost", "jury cost", "USD per point"], rows
    )

    if results.categories:
        lines += ["## Categories (normalised 0-1)", ""]
        rows = []
        for category, per_model in results.categories.items():
            intervals = results.category_intervals.get(category, {})
            rates = results.win_rates.get(category, {})
            rows.append([category, *(fmt(per_model.get(m)) + fmt_interval(intervals.get(m)) for m in models)])
            rows.append([f"{category} (win rate)", *(fmt(rates[m].value) if m in rates else "-" for m in models)])
        lines += _table(["category", *models], rows)

    lines += _benchmark_tables(results, models)
    return "\n".join(lines).rstrip() + "\n"


def _benchmark_tables(results: ResultsFile, models: list[str]) -> list[str]:
    lines: list[str] = []
    for group, title in (
        ("medhelm", "Benchmarks"),
        ("custom", "Custom benchmarks (not in MedHELM's means or win rates)"),
    ):
        chosen = {b: r for b, r in results.benchmarks.items() if r.group == group}
        if not chosen:
            continue
        lines += [
            f"## {title}",
            "",
            f"Bold: the best score. {NOT_SIGNIFICANT}: not significantly different from the best "
            f"(paired test, p >= {results.uncertainty.alpha:g}).",
            "",
        ]
        rows = []
        for benchmark_id, result in chosen.items():
            best, tied = not_significant_vs_best(result)
            cells = []
            for model in models:
                score = result.scores.get(model)
                if score is None:
                    cells.append("-")
                    continue
                text = fmt(score.score)
                text = f"**{text}**" if model == best and len(result.scores) > 1 else text
                text += (f" {NOT_SIGNIFICANT}" if model in tied else "") + fmt_interval(score.interval)
                cells.append(text + f" (n={score.n})")
            rows.append([benchmark_id, result.metric, *cells])
        lines += _table(["benchmark", "metric", *models], rows)
        if group == "custom" and results.custom:
            lines += _table(
                ["custom mean (0-1)", *models], [["all custom", *(fmt(results.custom.get(m)) for m in models)]]
            )
        comparisons = [(b, c) for b, r in chosen.items() for c in r.comparisons]
        if comparisons:
            lines += [f"### Paired tests ({title.split(' (')[0].lower()})", ""]
            lines += _table(
                ["benchmark", "model A", "model B", "A - B", "p", "test", "significant"],
                [
                    [
                        b,
                        c.a,
                        c.b,
                        f"{c.difference:+.3f}",
                        f"{c.p_value:.3g}",
                        c.method,
                        "yes" if c.significant else "no",
                    ]
                    for b, c in comparisons
                ],
            )
    return lines
