"""Agreement statistics: intraclass correlations, Krippendorff's alpha, judge offsets.

Our own short code on numpy and scipy's F distribution rather than ``pingouin`` (which brings
pandas, statsmodels and matplotlib into every install for six formulas) or ``krippendorff``; both
are the test suite's oracles (``tests/unit/test_jury_stats.py``: equal to 1e-6).

ICC forms follow McGraw & Wong (1996) and Shrout & Fleiss (1979) from the two-way ANOVA of a
complete targets x raters table, with pingouin's confidence intervals:

* ``ICC(1,1)``/``ICC(1,k)``: one-way random;
* ``ICC(2,1)``/``ICC(2,k)`` (pingouin ``ICC(A,1)``/``ICC(A,k)``): two-way random, absolute agreement;
* ``ICC(3,1)``/``ICC(3,k)`` (pingouin ``ICC(C,1)``/``ICC(C,k)``): two-way mixed, consistency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

import numpy as np

ICC_FORMS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")
PINGOUIN_NAMES = {
    "ICC(1,1)": "ICC(1,1)",
    "ICC(2,1)": "ICC(A,1)",
    "ICC(3,1)": "ICC(C,1)",
    "ICC(1,k)": "ICC(1,k)",
    "ICC(2,k)": "ICC(A,k)",
    "ICC(3,k)": "ICC(C,k)",
}


@dataclass(frozen=True)
class ICC:
    form: str
    value: float
    ci95: tuple[float, float]
    f: float
    df1: int
    df2: int
    p: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "icc": self.value,
            "ci95": list(self.ci95),
            "F": self.f,
            "df1": self.df1,
            "df2": self.df2,
            "p": self.p,
        }


def icc(table: Sequence[Sequence[float]] | np.ndarray, *, alpha: float = 0.05) -> dict[str, ICC]:
    """Every ICC form of a complete ``targets x raters`` table (rows: items, columns: raters)."""
    # scipy.special's F distribution functions: the same numbers as scipy.stats.f, without
    # importing scipy.stats (about a second, at the end of every session that has a jury).
    from scipy.special import fdtrc, fdtri

    x = np.asarray(table, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError("ICC needs at least 2 items rated by at least 2 raters (a complete table)")
    if not np.isfinite(x).all():
        raise ValueError("ICC needs a complete table: every item rated by every rater")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((x - grand) ** 2).sum()
    ss_err = ss_total - ss_rows - ss_cols
    df_rows, df_cols, df_err = n - 1, k - 1, (n - 1) * (k - 1)
    msb, msj, mse = ss_rows / df_rows, ss_cols / df_cols, ss_err / df_err
    msw = (ss_cols + ss_err) / (df_cols + df_err)

    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    icc1k = (msb - msw) / msb
    icc2k = (msb - mse) / (msb + (msj - mse) / n)
    icc3k = (msb - mse) / msb

    f1 = msb / msw
    df1w = n * (k - 1)
    f3 = msb / mse
    p1, p3 = float(fdtrc(df_rows, df1w, f1)), float(fdtrc(df_rows, df_err, f3))
    q = 1 - alpha / 2
    f1l, f1u = f1 / fdtri(df_rows, df1w, q), f1 * fdtri(df1w, df_rows, q)
    f3l, f3u = f3 / fdtri(df_rows, df_err, q), f3 * fdtri(df_err, df_rows, q)
    fj = msj / mse
    vn = df_err * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = df_rows * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    f2u, f2l = fdtri(n - 1, v, q), fdtri(v, n - 1, q)
    l2 = n * (msb - f2u * mse) / (f2u * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (f2l * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f2l * msb)

    rows = [
        ("ICC(1,1)", icc1, ((f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)), f1, df1w, p1),
        ("ICC(2,1)", icc2, (l2, u2), f3, df_err, p3),
        ("ICC(3,1)", icc3, ((f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)), f3, df_err, p3),
        ("ICC(1,k)", icc1k, (1 - 1 / f1l, 1 - 1 / f1u), f1, df1w, p1),
        ("ICC(2,k)", icc2k, (l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))), f3, df_err, p3),
        ("ICC(3,k)", icc3k, (1 - 1 / f3l, 1 - 1 / f3u), f3, df_err, p3),
    ]
    return {
        form: ICC(form, float(value), (float(ci[0]), float(ci[1])), float(fv), df_rows, int(df2), p)
        for form, value, ci, fv, df2, p in rows
    }


def krippendorff_alpha(units: Sequence[Sequence[float | None]]) -> float | None:
    """Krippendorff's alpha, interval metric; ``units`` are items, each a list of ratings (None:
    not rated). Only items with two or more ratings are pairable. None when undefined."""
    pairable = [[float(v) for v in unit if v is not None and np.isfinite(v)] for unit in units]
    pairable = [unit for unit in pairable if len(unit) >= 2]
    values = np.array([v for unit in pairable for v in unit])
    n = len(values)
    if n < 2:
        return None
    observed = 0.0
    for unit in pairable:
        u = np.asarray(unit)
        observed += ((u[:, None] - u[None, :]) ** 2).sum() / (len(u) - 1)
    observed /= n
    expected = ((values[:, None] - values[None, :]) ** 2).sum() / (n * (n - 1))
    if expected == 0:
        return None
    return float(1 - observed / expected)


def zscore(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    sd = x.std(ddof=1)
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


# -- the jury's own agreement, per benchmark ---------------------------------------------------------


def jury_agreement(items: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    """Agreement across judges from per-item judge scores (judge -> that judge's mean criterion
    score): Krippendorff's alpha over every item, ICC over the items every judge scored, and each
    judge's mean offset from the jury (its score minus the mean of the judges on the same item)."""
    judges = sorted({judge for item in items for judge in item})
    out: dict[str, Any] = {"judges": judges, "items": len(items)}
    out["krippendorff_alpha"] = krippendorff_alpha([[item.get(j) for j in judges] for item in items])
    complete = [[item[j] for j in judges] for item in items if all(j in item for j in judges)]
    out["icc_items"] = len(complete)
    try:
        with np.errstate(all="ignore"):  # identical scores everywhere: no variance, no ICC
            forms = icc(complete)
        values = {form: forms[form].value for form in ("ICC(2,1)", "ICC(3,1)", "ICC(2,k)", "ICC(3,k)")}
        out["icc"] = values if all(np.isfinite(v) for v in values.values()) else None
    except (ValueError, ZeroDivisionError, FloatingPointError):
        out["icc"] = None
    offsets: dict[str, list[float]] = {j: [] for j in judges}
    for item in items:
        if len(item) >= 2:
            centre = fmean(item.values())
            for judge, score in item.items():
                offsets[judge].append(score - centre)
    out["judge_offsets"] = {j: (fmean(v) if v else None) for j, v in offsets.items()}
    return out


def _run_mean(pairs: Sequence[tuple[str, float]]) -> float | None:
    """MedHELM's benchmark mean: the unweighted mean of per-run means (one run: the plain mean)."""
    by_run: dict[str, list[float]] = {}
    for run, value in pairs:
        by_run.setdefault(run, []).append(value)
    return fmean(fmean(v) for v in by_run.values()) if by_run else None


def benchmark_jury_stats(records: Sequence[Any]) -> dict[str, Any]:
    """One benchmark's jury figures for one model, from its result rows (``InstanceRecord``):
    ``score_repaired`` (mean, on the benchmark's scale), ``failed_share`` (judgements HELM drops,
    of all asked), ``repaired_share`` (of those, the ones our repair recovered), judge agreement
    (``krippendorff_alpha``, ``icc`` across judges, on each judge's mean criterion score per item),
    ``judge_means`` and ``judge_offsets`` (a judge's mean score minus the jury's, same items), and
    the jury's own ``input_tokens``, ``output_tokens`` and ``cost_usd``."""
    judged = [r for r in records if r.jury is not None and r.jury.get("judged")]
    asked = failed = recovered = 0
    per_item: list[dict[str, float]] = []
    for record in judged:
        item: dict[str, float] = {}
        for key, verdict in record.jury["judges"].items():
            asked += 1
            if not verdict["usable"]:
                failed += 1
                recovered += verdict.get("repaired_scores") is not None
            elif verdict["scores"]:
                item[key] = fmean(verdict["scores"].values())
        per_item.append(item)
    agreement = jury_agreement([item for item in per_item if item])
    judge_means = {
        j: fmean(values) for j in agreement["judges"] if (values := [item[j] for item in per_item if j in item])
    }
    repaired = [(r.run, r.metrics["jury_score_repaired"]) for r in records if "jury_score_repaired" in r.metrics]
    return {
        "items": len(records),
        "judged": len(judged),
        "empty_answers": len(records) - len(judged),
        "score_repaired": _run_mean(repaired),
        "failed_share": failed / asked if asked else None,
        "repaired_share": recovered / failed if failed else None,
        "krippendorff_alpha": agreement["krippendorff_alpha"],
        "icc": agreement["icc"],
        "icc_items": agreement["icc_items"],
        "judge_means": judge_means,
        "judge_offsets": agreement["judge_offsets"],
        "input_tokens": sum(r.jury_input_tokens for r in records),
        "output_tokens": sum(r.jury_output_tokens for r in records),
        "cost_usd": round(sum(r.jury_cost_usd for r in records), 6),
    }
