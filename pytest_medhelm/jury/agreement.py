"""``medhelm agreement RATINGS.csv``: how well the jury agrees with clinicians, and clinicians with
each other (the comparison of the MedHELM paper: jury ICC 0.47 against clinicians' 0.43).

The CSV (UTF-8, header row) has one rating a row:

============  ========  =========================================================================
column        needed    meaning
============  ========  =========================================================================
item_id       yes       the rated item (an instance id)
rater         yes       who rated it: a clinician's id, or a judge's name
rater_kind    yes       ``clinician`` or ``jury``
score         yes       the rating (a number, e.g. 1-5)
criterion     no        accuracy, completeness, clarity...: one (item, rater)'s rows are averaged
                        into its composite score
dataset       no        the benchmark the item comes from (default: one dataset)
============  ========  =========================================================================

Reported, each with its 95% confidence interval:

* **jury vs clinicians** -- two raters per item: the clinicians' mean composite and the jury's
  (the mean of its judges' composites), on the items both rated;
* **clinician vs clinician** -- per dataset, the two clinicians who rated the most items in
  common, pooled over datasets;

each by the paper's method (both raters z-scored over the items of each dataset, then ICC(3,k),
the consistency of the mean of the two) and as the plain forms on the raw scores: ICC(2,1),
ICC(3,1) and their k-rater forms ICC(2,k), ICC(3,k). With three or more clinicians rating the same
items, ICC across all of them is added (items every clinician rated).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

import numpy as np

from pytest_medhelm.jury.stats import ICC, icc, zscore

REQUIRED = ("item_id", "rater", "rater_kind", "score")
KINDS = ("clinician", "jury")
PLAIN_FORMS = ("ICC(2,1)", "ICC(3,1)", "ICC(2,k)", "ICC(3,k)")
PAPER_FORM = "ICC(3,k)"


class RatingsError(ValueError):
    """A ratings file that cannot be used; names the file, the line and the column."""


@dataclass(frozen=True)
class Rating:
    dataset: str
    item: str
    rater: str
    kind: str
    score: float


def read_ratings(path: Path) -> list[Rating]:
    path = Path(path)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise RatingsError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise RatingsError(
                f"{path}, line 1: missing column(s) {', '.join(missing)} "
                f"(needed: {', '.join(REQUIRED)}; optional: criterion, dataset)"
            )
        # Per (dataset, item, rater): the criterion scores, averaged into one composite.
        parts: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
        for line, row in enumerate(reader, start=2):
            kind = (row["rater_kind"] or "").strip().lower()
            if kind not in KINDS:
                raise RatingsError(
                    f"{path}, line {line}, column rater_kind: {row['rater_kind']!r} is not 'clinician' or 'jury'"
                )
            for column in ("item_id", "rater"):
                if not (row[column] or "").strip():
                    raise RatingsError(f"{path}, line {line}, column {column}: empty")
            try:
                score = float(row["score"])
            except (TypeError, ValueError):
                raise RatingsError(f"{path}, line {line}, column score: {row['score']!r} is not a number") from None
            if not np.isfinite(score):
                raise RatingsError(f"{path}, line {line}, column score: {row['score']!r} is not a number")
            dataset = (row.get("dataset") or "").strip()
            parts[(dataset, row["item_id"].strip(), row["rater"].strip(), kind)].append(score)
    if not parts:
        raise RatingsError(f"{path}: no ratings")
    return [Rating(d, i, r, k, fmean(v)) for (d, i, r, k), v in parts.items()]


def _paper(pairs_by_dataset: dict[str, list[tuple[float, float]]]) -> ICC | None:
    """Both raters z-scored within each dataset, pooled, ICC(3,k)."""
    table = []
    for pairs in pairs_by_dataset.values():
        if len(pairs) < 2:
            continue
        a, b = zscore([p[0] for p in pairs]), zscore([p[1] for p in pairs])
        table += list(zip(a, b))
    return _forms(table, (PAPER_FORM,)).get(PAPER_FORM)


def _forms(table: Sequence[Sequence[float]], forms: Sequence[str] = PLAIN_FORMS) -> dict[str, ICC]:
    try:
        with np.errstate(all="ignore"):
            found = icc(table)
    except ValueError:
        return {}
    return {f: found[f] for f in forms if np.isfinite(found[f].value)}


def _comparison(by_dataset: dict[str, list[tuple[float, float]]], **extra: Any) -> dict[str, Any]:
    flat = [p for ps in by_dataset.values() for p in ps]
    paper = _paper(by_dataset)
    return {
        "items": len(flat),
        **extra,
        "paper_method": paper.as_dict() if paper else None,
        "plain": {f: v.as_dict() for f, v in _forms(flat).items()},
    }


def agreement(ratings: Sequence[Rating]) -> dict[str, Any]:
    composite: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)  # (dataset, item) -> clinician -> score
    jury: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in ratings:
        if r.kind == "clinician":
            composite[(r.dataset, r.item)][r.rater] = r.score
        else:
            jury[(r.dataset, r.item)].append(r.score)

    jury_pairs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for key, scores in sorted(jury.items()):
        if composite.get(key):
            jury_pairs[key[0]].append((fmean(composite[key].values()), fmean(scores)))

    clinician_pairs: dict[str, list[tuple[float, float]]] = {}
    chosen: dict[str, list[str]] = {}
    for dataset in sorted({d for d, _ in composite}):
        items = {item: raters for (d, item), raters in composite.items() if d == dataset}
        raters = sorted({r for rs in items.values() for r in rs})
        best: tuple[int, str, str] | None = None
        for i, a in enumerate(raters):
            for b in raters[i + 1 :]:
                common = sum(1 for rs in items.values() if a in rs and b in rs)
                if best is None or common > best[0]:
                    best = (common, a, b)
        if best is not None and best[0] >= 2:
            _, a, b = best
            chosen[dataset] = [a, b]
            clinician_pairs[dataset] = [(rs[a], rs[b]) for _, rs in sorted(items.items()) if a in rs and b in rs]

    result: dict[str, Any] = {
        "ratings": len(ratings),
        "datasets": sorted({r.dataset for r in ratings}),
        "jury_vs_clinicians": _comparison(jury_pairs) if jury_pairs else None,
        "clinician_vs_clinician": _comparison(clinician_pairs, pairs=chosen) if clinician_pairs else None,
    }
    clinicians = sorted({r.rater for r in ratings if r.kind == "clinician"})
    if len(clinicians) >= 3:
        complete = [
            [raters[c] for c in clinicians] for raters in composite.values() if all(c in raters for c in clinicians)
        ]
        result["all_clinicians"] = {
            "raters": clinicians,
            "items": len(complete),
            "plain": {f: v.as_dict() for f, v in _forms(complete).items()},
        }
    return result


def _line(name: str, value: dict[str, Any] | None) -> str:
    if value is None:
        return f"  {name:<22} -"
    low, high = value["ci95"]
    return f"  {name:<22} {value['icc']:6.3f}  [{low:.3f}, {high:.3f}]"


def report_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"{result['ratings']} composite ratings; datasets: {', '.join(d or '(one)' for d in result['datasets'])}"]
    sections = [
        ("jury vs clinicians (clinicians' mean and the jury, per item)", result["jury_vs_clinicians"]),
        ("clinician vs clinician (per dataset, the pair with most items in common)", result["clinician_vs_clinician"]),
    ]
    if "all_clinicians" in result:
        sections.append((f"all clinicians ({', '.join(result['all_clinicians']['raters'])})", result["all_clinicians"]))
    for title, section in sections:
        lines += ["", title + ":"]
        if section is None:
            lines.append("  not enough items rated by both")
            continue
        lines.append(f"  items: {section['items']}" + (f"; pairs: {section['pairs']}" if section.get("pairs") else ""))
        if "paper_method" in section:
            lines.append(_line("paper: z-scored ICC(3,k)", section["paper_method"]))
        for form in PLAIN_FORMS:
            lines.append(_line(form, section["plain"].get(form)))
    return lines


def main(path: str, as_json: bool = False) -> int:
    import sys

    try:
        result = agreement(read_ratings(Path(path)))
    except RatingsError as exc:
        print(f"medhelm agreement: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(report_lines(result)))
    return 0
