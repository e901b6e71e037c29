"""MedCalc-Bench accuracy (MedHELM spec §2.2), faithful and corrected.

HELM (``metrics/medcalc_bench_metrics.py``) scores ``pred = output.strip()`` with no extraction at
all (no number parsing, no unit stripping), branching on the dataset's category string:

* ``risk`` / ``severity`` / ``diagnosis``: string equality with the reference (``"4.0" != "4"``);
* ``physical`` / ``dosage conversion``: ``float(lower) <= float(pred) <= float(upper)``;
* ``date``: a ``('<W> weeks', '<D> days')`` reference compares total days, any other reference
  compares ``%m/%d/%Y`` dates, inclusively;
* anything else -- notably ``lab test`` -- raises "Category not supported", which HELM catches
  as a ``ValueError`` and scores 0. Only ``ValueError`` is caught; every parse failure is one.

``medcalc_bench_accuracy_corrected`` differs only in scoring ``lab test`` (and the v1.0 CSV
spellings ``lab`` and ``dosage``) with the inclusive numeric range.
"""

from __future__ import annotations

import re
from datetime import datetime

__all__ = ["medcalc_bench", "parse_gestational_days"]

# HELM's pattern, used with re.match: anchored at the start only, so trailing text after the
# closing parenthesis is accepted. Exactly: "('", digits, " weeks', '", digits, " days')".
# Plural "weeks"/"days", single quotes and one space after the comma are all required.
# ``\d`` is Python's Unicode-aware digit class, as in HELM.
_GESTATIONAL = re.compile(r"\('(\d+) weeks', '(\d+) days'\)")

_STRING_CATEGORIES = frozenset({"risk", "severity", "diagnosis"})
_NUMERIC_CATEGORIES = frozenset({"dosage conversion", "physical"})
# Corrected variant: lab test is numeric too; accept the v1.0 CSV spellings of both categories.
_NUMERIC_CATEGORIES_CORRECTED = _NUMERIC_CATEGORIES | {"lab test", "lab", "dosage"}


def parse_gestational_days(text: str) -> int:
    """Total days of a ``('<W> weeks', '<D> days')`` string (7*W + D); ValueError otherwise.

    Uses ``re.match`` like HELM, so ``"('3 weeks', '4 days') roughly"`` parses but
    ``"(3 weeks, 4 days)"``, ``'("3 weeks", "4 days")'`` or ``"('1 week', '0 days')"`` do not.
    """
    m = _GESTATIONAL.match(text)
    if not m:
        raise ValueError(f"Invalid format: {text!r}")
    weeks, days = (int(g) for g in m.groups())
    return weeks * 7 + days


def _parse_date(text: str) -> datetime:
    # strptime must consume the whole string; it also accepts unpadded "1/2/2021".
    return datetime.strptime(text, "%m/%d/%Y")


def _check_date(pred: str, reference: str, lower: str, upper: str) -> int:
    if _GESTATIONAL.match(reference):
        low, high, value = (parse_gestational_days(x) for x in (lower, upper, pred))
        return int(low <= value <= high)
    value_d, low_d, high_d = _parse_date(pred), _parse_date(lower), _parse_date(upper)
    return int(low_d <= value_d <= high_d)


def _in_float_range(pred: str, lower: str, upper: str) -> int:
    # float() keeps Python's leniency: "1e1", "1_0", "  5 " and "nan" parse (nan never in range).
    return int(float(lower) <= float(pred) <= float(upper))


def _as_str(x: object) -> str:
    return x if isinstance(x, str) else str(x)


def _score(pred: str, reference: str, category: str, lower: str, upper: str, numeric: frozenset[str]) -> int:
    if category in _STRING_CATEGORIES:
        return int(pred == reference)
    try:
        if category == "date":
            return _check_date(pred, reference, lower, upper)
        if category in numeric:
            return _in_float_range(pred, lower, upper)
        raise ValueError(f"Category {category} not supported")
    except ValueError:
        return 0


def medcalc_bench(output: str, reference: str, category: str, lower_limit: str, upper_limit: str) -> dict[str, float]:
    """Score one MedCalc-Bench answer; keys ``medcalc_bench_accuracy`` and ``..._corrected``.

    ``reference``, ``lower_limit`` and ``upper_limit`` are the dataset's ``Ground Truth Answer``,
    ``Lower Limit`` and ``Upper Limit`` strings (non-strings are converted with ``str``); the
    reference is *not* stripped, as in HELM. The category is matched case-sensitively.
    """
    pred = output.strip()
    args = (pred, _as_str(reference), _as_str(category), _as_str(lower_limit), _as_str(upper_limit))
    return {
        "medcalc_bench_accuracy": float(_score(*args, numeric=_NUMERIC_CATEGORIES)),
        "medcalc_bench_accuracy_corrected": float(_score(*args, numeric=_NUMERIC_CATEGORIES_CORRECTED)),
    }
