"""MIMIC-IV billing-code precision / recall / F1 (MedHELM spec §2.5), faithful and corrected.

HELM (``metrics/mimiciv_billing_code_metrics.py``) extracts codes from the reference and from the
stripped output with one case-sensitive regex, ``\\b[A-Z]\\d{1,3}(?:\\.\\d{1,4})?\\.?\\b``, after
deleting every ``**``. Consequences kept here: undotted codes longer than four characters
(``Z87891``) are not extracted, a letter after the decimals cuts the code back to its category
(``S72.001A`` -> ``S72``), ICD-10-PCS codes (starting with a digit) are never extracted, and
``E78.5`` does not match ``E785``.

Scores are per instance (sklearn micro average over one sample, ``zero_division=0``), which is
plain set arithmetic: P = |P∩R|/|P|, R = |P∩R|/|R|, F1 = 2|P∩R|/(|P|+|R|), each 0 when undefined.
"""

from __future__ import annotations

import re

__all__ = ["extract_codes", "extract_codes_corrected", "mimiciv_billing_code"]

_HELM_CODE = re.compile(r"\b[A-Z]\d{1,3}(?:\.\d{1,4})?\.?\b")

# Corrected extractor: an ICD-10-CM category (letter, digit, digit -- or A/B for the few
# categories such as C4A, D3A, M1A, Z3A), then up to four more characters of digits or capitals,
# with or without the dot (7th-character extensions and the X placeholder included: S72.001A,
# T38.0X5A, Z87891). Case-sensitive like HELM; must not touch other letters/digits on either side.
_CM_CODE = re.compile(r"(?<![A-Za-z0-9.])[A-Z]\d[0-9AB](?:\.?[0-9A-Z]{1,4})?(?![A-Za-z0-9])")


def extract_codes(text: str) -> set[str]:
    """HELM's code set: drop ``**``, take every regex match, strip a trailing ``.``, de-duplicate."""
    if not text:
        return set()
    cleaned = text.replace("**", "")
    return {code.rstrip(".").strip() for code in _HELM_CODE.findall(cleaned)}


def extract_codes_corrected(text: str) -> set[str]:
    """Dot-insensitive ICD-10-CM code set (dots removed), also catching undotted and lettered codes.

    ``"E78.5"`` and ``"E785"`` both give ``E785``; ``"S72.001A"`` gives ``S72001A`` (the full code,
    not its category). ICD-10-PCS procedure codes are still not extracted.
    """
    if not text:
        return set()
    cleaned = text.replace("**", "")
    return {code.replace(".", "") for code in _CM_CODE.findall(cleaned)}


def _prf(pred: set[str], ref: set[str]) -> tuple[float, float, float]:
    # Equal to sklearn's precision/recall/f1_score(average="micro", zero_division=0) on one sample
    # of MultiLabelBinarizer vectors: tp = |P∩R|, fp = |P-R|, fn = |R-P|; sklearn's F-score is
    # 2tp / (2tp + fp + fn) = 2|P∩R| / (|P| + |R|). With both sets empty sklearn raises (an empty
    # label space), which would crash HELM; references always hold codes, and we return 0.
    hits = len(pred & ref)
    precision = hits / len(pred) if pred else 0.0
    recall = hits / len(ref) if ref else 0.0
    total = len(pred) + len(ref)
    f1 = 2 * hits / total if total else 0.0
    return precision, recall, f1


def mimiciv_billing_code(output: str, reference: str) -> dict[str, float]:
    """Per-instance precision, recall and F1 (HELM), plus ``mimiciv_billing_code_f1_corrected``.

    ``reference`` is the dataset's ``target`` string (codes joined with ``,``).
    """
    precision, recall, f1 = _prf(extract_codes(output.strip()), extract_codes(reference))
    _, _, f1_corrected = _prf(extract_codes_corrected(output.strip()), extract_codes_corrected(reference))
    return {
        "mimiciv_billing_code_precision": precision,
        "mimiciv_billing_code_recall": recall,
        "mimiciv_billing_code_f1": f1,
        "mimiciv_billing_code_f1_corrected": f1_corrected,
    }
