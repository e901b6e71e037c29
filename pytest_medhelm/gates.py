"""Release gates: score floors, and significance-aware comparisons with a baseline run.

A gate judges one target (a benchmark, a MedHELM category, or ``overall``, the macro average) for
one model, on 0-1 scores (jury scores normalised), with up to two checks:

* ``min_score``: the score must be at least the floor;
* baseline: against a previous run's ``results.json``, on the instances both runs scored. It
  fails only when the drop is larger than the allowance (``max_drop``, default 0.02) AND
  significant under the leaderboard's paired test (McNemar's exact test for 0/1 scores, else the
  paired bootstrap; ``alpha`` default 0.05), so noise never fails a release and a real drop does.
  Instances scored in one run only are excluded and reported.

Thresholds come from ``[tool.medhelm.gates]`` in pyproject.toml or ``gates:`` in medhelm.yaml::

    [tool.medhelm.gates]
    max_drop = 0.02            # defaults for every gate (the command line's flags win over these)
    alpha = 0.05
    overall = {min_score = 0.5}
    [tool.medhelm.gates.categories]
    clinical_decision_support = {min_score = 0.4}
    [tool.medhelm.gates.benchmarks]
    medcalc_bench = {min_score = 0.3, max_drop = 0.05}

With a baseline, every benchmark scored in both runs gets a baseline gate, and so does every
configured category and ``overall``. No pytest here: :mod:`pytest_medhelm.plugin.gates` makes the
verdicts test items.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pytest_medhelm.results import InstanceRecord, ResultsFile

if TYPE_CHECKING:
    import numpy as np  # imported where the statistics are computed: a session without a baseline needs none

DEFAULT_MAX_DROP = 0.02
DEFAULT_ALPHA = 0.05
OVERALL = "overall"
SEED = 0


class GateConfigError(ValueError):
    """A gates file that cannot be used; the message names the file and the field."""


class TargetThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_score: float | None = Field(None, ge=0, le=1, description="floor on the 0-1 score")
    max_drop: float | None = Field(None, ge=0, le=1, description="allowed drop from the baseline")
    alpha: float | None = Field(None, gt=0, lt=1, description="significance level of the paired test")
    baseline: bool = Field(True, description="compare with --medhelm-baseline when one is given")


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_drop: float | None = Field(None, ge=0, le=1)
    alpha: float | None = Field(None, gt=0, lt=1)
    overall: TargetThresholds | None = None
    categories: dict[str, TargetThresholds] = Field(default_factory=dict)
    benchmarks: dict[str, TargetThresholds] = Field(default_factory=dict)


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    with path.open("rb") as handle:
        return tomllib.load(handle)


def _parse(data: Any, source: str) -> GateConfig:
    try:
        return GateConfig.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise GateConfigError(f"{source}: {problems}") from None


def load_gate_config(rootdir: Path, path: Path | None = None) -> tuple[GateConfig, str | None]:
    """The gates of a project: ``path`` if given, else ``[tool.medhelm.gates]`` in the rootdir's
    pyproject.toml, else ``gates:`` in its medhelm.yaml. Returns the config and where it came from."""
    candidates = (
        [path] if path is not None else [rootdir / "pyproject.toml", rootdir / "medhelm.yaml", rootdir / "medhelm.yml"]
    )
    for candidate in candidates:
        if candidate is None or not candidate.is_file():
            if path is not None:
                raise GateConfigError(f"{path}: no such gates file")
            continue
        try:
            if candidate.suffix == ".toml":
                data = _read_toml(candidate)
                section = data.get("tool", {}).get("medhelm", {}).get("gates", data.get("gates"))
                where = f"{candidate} [tool.medhelm.gates]"
            else:
                import yaml

                data = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
                section = data.get("gates") if isinstance(data, dict) else None
                where = f"{candidate} (gates:)"
        except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError and yaml.YAMLError are ValueErrors
            raise GateConfigError(f"{candidate}: {exc}") from None
        except Exception as exc:  # noqa: BLE001  (yaml.YAMLError is not a ValueError)
            raise GateConfigError(f"{candidate}: {exc}") from None
        if section is not None:
            return _parse(section, where), where
        if path is not None:
            raise GateConfigError(f"{path}: no gates section ([tool.medhelm.gates] or gates:)")
    return GateConfig(), None


# -- verdicts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """New against old on the instances both runs scored."""

    old: float
    new: float
    difference: float  # new - old
    low: float
    high: float
    p_value: float
    method: str
    paired: int
    excluded: tuple[str, ...]  # "benchmark/instance" keys scored in one run only

    @property
    def drop(self) -> float:
        return self.old - self.new


@dataclass
class Check:
    kind: str  # "min_score" or "baseline"
    passed: bool
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class GateVerdict:
    name: str  # the item's name: target, or target[model] when the run has several models
    target: str
    kind: str  # benchmark, category or overall
    model: str
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def nodeid(self) -> str:
        return f"medhelm::gate::{self.name}"

    def message(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"gate {self.name} ({self.kind} {self.target}, model {self.model}): {verdict}"]
        lines += [f"  {'ok' if check.passed else 'FAIL'} {check.kind}: {check.text}" for check in self.checks]
        return "\n".join(lines)

    def as_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "model": self.model,
            "passed": self.passed,
            "message": self.message(),
            "checks": [{"kind": c.kind, "passed": c.passed, "text": c.text, **c.numbers} for c in self.checks],
        }


Scores = dict[tuple[str, str, str], InstanceRecord]  # (benchmark, run, instance id) -> row


def _rows(results: ResultsFile, model: str) -> Scores:
    return {(r.benchmark, r.run, r.instance_id): r for r in results.instances if r.model == model}


def _members(target: str, kind: str, rows: Iterable[InstanceRecord]) -> set[str]:
    """The benchmarks a target averages over."""
    if kind == "benchmark":
        return {target}
    if kind == "category":
        return {r.benchmark for r in rows if r.category == target}
    return {r.benchmark for r in rows}


def _benchmark_arrays(new: Scores, old: Scores, benchmark: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import numpy as np

    keys = sorted(k for k in new if k[0] == benchmark and k in old)
    return (
        np.array([new[k].normalized for k in keys], dtype=float),
        np.array([old[k].normalized for k in keys], dtype=float),
        [k[1] for k in keys],
    )


def compare(
    new: Scores, old: Scores, benchmarks: Iterable[str], *, seed: int = SEED, resamples: int = 2000
) -> Comparison | None:
    """New against old over ``benchmarks`` (the target's score is the mean of their scores; a
    benchmark's is the mean of its runs' means): difference, 95% interval and p-value."""
    import numpy as np

    from pytest_medhelm.leaderboard import stats

    wanted = set(benchmarks)
    excluded = sorted(f"{k[0]}/{k[2]}" + (f" ({k[1]})" if k[1] else "") for k in set(new) ^ set(old) if k[0] in wanted)
    arrays = {}
    for benchmark in sorted(wanted):
        a, b, runs = _benchmark_arrays(new, old, benchmark)
        if len(a):
            arrays[benchmark] = (a, b, runs if any(runs) else None)
    if not arrays:
        return None
    if len(arrays) == 1:
        ((a, b, runs),) = arrays.values()
        test = stats.paired_test(a, b, runs, seed=seed)
        interval = stats.paired_bootstrap(a, b, runs, seed=seed, resamples=resamples).interval
        assert interval is not None
        old_score, new_score = stats.score_of(b, runs), stats.score_of(a, runs)
        return Comparison(
            old_score,
            new_score,
            new_score - old_score,
            interval.low,
            interval.high,
            test.p_value,
            test.method,
            len(a),
            tuple(excluded),
        )
    # Several benchmarks: the mean of per-benchmark differences, each benchmark's instances
    # resampled on their own (benchmarks are independent samples).
    replicates = np.mean(
        [
            stats.bootstrap_replicates(a - b, runs, resamples=resamples, seed=stats.derive_seed(seed, name))[:, 0]
            for name, (a, b, runs) in arrays.items()
        ],
        axis=0,
    )
    new_score = float(np.mean([stats.score_of(a, runs) for a, _, runs in arrays.values()]))
    old_score = float(np.mean([stats.score_of(b, runs) for _, b, runs in arrays.values()]))
    observed = new_score - old_score
    constant = all(np.allclose(a - b, (a - b)[0]) for a, b, _ in arrays.values())
    if constant:
        p_value = 1.0 if abs(observed) < 1e-12 else 0.0
    else:
        extreme = int(np.sum(np.abs(replicates - observed) >= abs(observed) - 1e-12))
        p_value = (extreme + 1) / (len(replicates) + 1)
    interval = stats.percentile_interval(replicates)
    return Comparison(
        old_score,
        new_score,
        observed,
        interval.low,
        interval.high,
        float(p_value),
        "paired_bootstrap",
        sum(len(a) for a, _, _ in arrays.values()),
        tuple(excluded),
    )


def _excluded_text(excluded: Sequence[str]) -> str:
    if not excluded:
        return ""
    shown = ", ".join(excluded[:5]) + (f" and {len(excluded) - 5} more" if len(excluded) > 5 else "")
    return f"; {len(excluded)} instance(s) scored in one run only, excluded: {shown}"


def baseline_check(comparison: Comparison | None, *, max_drop: float, alpha: float, baseline_model: str) -> Check:
    if comparison is None:
        return Check(
            "baseline",
            False,
            f"no instance scored in both this run and the baseline ({baseline_model}): nothing to compare",
        )
    c = comparison
    significant = c.p_value < alpha
    too_far = c.drop > max_drop + 1e-12
    passed = not (too_far and significant)
    if passed and c.difference >= 0:
        why = "no drop"
    elif passed and not too_far:
        why = f"the drop {c.drop:.3f} is within the allowed {max_drop:.3f}"
    elif passed:
        why = f"the drop {c.drop:.3f} exceeds the allowed {max_drop:.3f} but is within noise (p >= {alpha:g})"
    else:
        why = f"the drop {c.drop:.3f} exceeds the allowed {max_drop:.3f} and is significant (p < {alpha:g})"
    text = (
        f"{c.old:.3f} -> {c.new:.3f} against {baseline_model}: difference {c.difference:+.3f} "
        f"(95% CI {c.low:+.3f} to {c.high:+.3f}), p = {c.p_value:.4g} ({c.method}, {c.paired} paired "
        f"instances): {why}{_excluded_text(c.excluded)}"
    )
    numbers = {
        "old": c.old,
        "new": c.new,
        "difference": c.difference,
        "ci_low": c.low,
        "ci_high": c.high,
        "p_value": c.p_value,
        "method": c.method,
        "paired": c.paired,
        "excluded": list(c.excluded),
        "max_drop": max_drop,
        "alpha": alpha,
        "baseline_model": baseline_model,
    }
    return Check("baseline", passed, text, numbers)


def _target_score(results: ResultsFile, target: str, kind: str, model: str) -> float | None:
    if kind == "benchmark":
        score = results.benchmarks.get(target)
        return None if score is None or model not in score.scores else score.scores[model].normalized
    if kind == "category":
        return results.categories.get(target, {}).get(model)
    totals = results.totals.get(model)
    return None if totals is None else totals.macro_average


def evaluate(
    results: ResultsFile,
    config: GateConfig,
    *,
    baseline: ResultsFile | None = None,
    selected: Mapping[str, str] | None = None,
    max_drop: float | None = None,
    alpha: float | None = None,
    unscored: Mapping[str, str] | None = None,
) -> list[GateVerdict]:
    """Every gate of the run, in order: benchmarks, categories, overall.

    ``selected`` maps each benchmark the run selected to its category (a configured gate whose
    target was not selected, e.g. left out by ``-k``, is not judged); ``unscored`` says why a
    selected benchmark has no score (no data, errors). ``max_drop``/``alpha`` are the command
    line's, which win over the file's defaults; a target's own thresholds win over both.
    """
    selected = dict(selected) if selected is not None else {r.benchmark: r.category for r in results.instances}
    unscored = dict(unscored or {})
    models = list(results.models) or sorted({r.model for r in results.instances})
    targets: dict[tuple[str, str], TargetThresholds] = {}
    for benchmark, thresholds in config.benchmarks.items():
        if benchmark in selected:
            targets[("benchmark", benchmark)] = thresholds
    if baseline is not None:
        in_baseline = {r.benchmark for r in baseline.instances}
        for benchmark in sorted(set(selected) & in_baseline):
            targets.setdefault(("benchmark", benchmark), TargetThresholds())
    for category, thresholds in config.categories.items():
        if category in selected.values():
            targets[("category", category)] = thresholds
    if config.overall is not None and selected:
        targets[("overall", OVERALL)] = config.overall
    order = {"benchmark": 0, "category": 1, "overall": 2}

    verdicts = []
    for (kind, target), thresholds in sorted(targets.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        for model in models:
            checks = []
            score = _target_score(results, target, kind, model)
            if thresholds.min_score is not None:
                if score is None:
                    reason = unscored.get(target, "no item of it was scored in this run")
                    checks.append(Check("min_score", False, f"not scored: {reason}"))
                else:
                    ok = score >= thresholds.min_score - 1e-12
                    checks.append(
                        Check(
                            "min_score",
                            ok,
                            f"{score:.3f} {'>=' if ok else '<'} {thresholds.min_score:.3f}",
                            {"score": score, "min_score": thresholds.min_score},
                        )
                    )
            if baseline is not None and thresholds.baseline:
                checks.append(
                    _baseline(
                        results, baseline, target, kind, model, thresholds, config, max_drop=max_drop, alpha=alpha
                    )
                )
            if checks:
                name = target if len(models) == 1 else f"{target}[{model}]"
                verdicts.append(GateVerdict(name, target, kind, model, checks))
    return verdicts


def _baseline(
    results: ResultsFile,
    baseline: ResultsFile,
    target: str,
    kind: str,
    model: str,
    thresholds: TargetThresholds,
    config: GateConfig,
    *,
    max_drop: float | None,
    alpha: float | None,
) -> Check:
    baseline_models = list(baseline.models) or sorted({r.model for r in baseline.instances})
    # A release replaces one model by another: a single-model baseline is every model's reference.
    old_model = baseline_models[0] if len(baseline_models) == 1 else model
    if old_model not in baseline_models:
        return Check("baseline", False, f"model {model} is not in the baseline (it has {', '.join(baseline_models)})")
    new, old = _rows(results, model), _rows(baseline, old_model)
    members = _members(target, kind, list(new.values()) + list(old.values()))
    allowed = _first(thresholds.max_drop, max_drop, config.max_drop, DEFAULT_MAX_DROP)
    level = _first(thresholds.alpha, alpha, config.alpha, DEFAULT_ALPHA)
    if kind != "benchmark":
        # A category or the overall mean compares the benchmarks both runs scored.
        both = {b for b in members if any(k[0] == b for k in new) and any(k[0] == b for k in old)}
        members = both or members
    return baseline_check(compare(new, old, members), max_drop=allowed, alpha=level, baseline_model=old_model)


def _first(*values: float | None) -> float:
    return next(v for v in values if v is not None)


def unscored_reasons(unavailable: Iterable[tuple[str, str]], errors: Mapping[str, int]) -> dict[str, str]:
    """Why selected benchmarks have no score: (benchmark, reason) pairs and error counts."""
    reasons: dict[str, str] = defaultdict(str)
    for benchmark, reason in unavailable:
        reasons[benchmark] = reason
    for benchmark, count in errors.items():
        reasons.setdefault(benchmark, f"{count} item(s) errored")
    return dict(reasons)
