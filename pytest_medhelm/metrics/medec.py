"""MedEC error-flag and error-sentence accuracy (MedHELM spec §2.3), faithful and corrected.

HELM builds the reference ``"<Error Sentence ID> <Corrected Sentence>"`` (or ``"CORRECT"``) and
then, in ``metrics/medec_metrics.py``, recovers the gold sentence id with ``int()`` on the whole
reference minus its periods. That always fails for a real reference (the corrected sentence is
still attached), so the gold id becomes -1 and ``medec_error_sentence_accuracy`` can only reward
correct ``CORRECT`` answers. ``medec_error_sentence_accuracy_corrected`` parses the leading integer.
"""

from __future__ import annotations

import re

__all__ = ["medec_reference", "medec"]

CORRECT = "CORRECT"
_LEADING_INT = re.compile(r"^(\d+)")


def _field(value: object, missing: str) -> str:
    """CSV/JSONL field as HELM's csv reader would give it (a stripped string)."""
    if value is None:  # a missing column: HELM's ``row.get(column, missing)``
        return missing
    if isinstance(value, float) and value.is_integer():  # e.g. pandas turning "-1" into -1.0
        value = int(value)
    return str(value).strip()


def _flag(value: object) -> int:
    if value is None:  # HELM: int(row.get("Error Flag", 0))
        return 0
    if isinstance(value, int):  # includes bool
        return int(value)
    text = _field(value, "0")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"Error Flag must be an integer (0 or 1), got {value!r}") from None
    if not number.is_integer():
        raise ValueError(f"Error Flag must be an integer (0 or 1), got {value!r}")
    return int(number)


def medec_reference(
    error_flag: str | int | None, error_sentence_id: str | int | None, corrected_sentence: str | None
) -> str:
    """The HELM reference: ``"<id> <corrected>"`` iff flag == 1, correction != "NA", id != "-1".

    Otherwise ``"CORRECT"`` -- including rows flagged as errors that lack a correction. Fields are
    compared after stripping, exactly as HELM does with its CSV strings; ints are accepted and
    None stands for a missing column (HELM's defaults: flag 0, id "-1", correction "").
    Raises ValueError when the flag is not an integer (HELM's ``int()`` would crash too).
    """
    flag = _flag(error_flag)
    sentence_id = _field(error_sentence_id, "-1")
    corrected = _field(corrected_sentence, "")
    if flag == 1 and corrected != "NA" and sentence_id != "-1":
        return f"{sentence_id} {corrected}"
    return CORRECT


def _prediction(output: str) -> tuple[int, int]:
    """(flag, sentence id) of a model answer: exact ``CORRECT`` -> (0, -1); else error, id or -2."""
    pred = output.strip()
    if pred == CORRECT:  # case-sensitive, "CORRECT." is an error claim
        return 0, -1
    m = _LEADING_INT.match(pred)
    return (1, int(m.group(1))) if m else (1, -2)


def _gold_faithful(reference: str) -> tuple[int, int]:
    text = reference.replace(".", "").strip()
    if text == CORRECT:
        return 0, -1
    try:
        # Quirk: int() of "<id> <sentence>" raises, so the gold id is -1 for every real reference.
        # It only succeeds when nothing but periods/whitespace follows the id (e.g. "5 .").
        return 1, int(text)
    except ValueError:
        return 1, -1


def _gold_corrected(reference: str) -> tuple[int, int]:
    flag, _ = _gold_faithful(reference)
    if flag == 0:
        return 0, -1
    m = _LEADING_INT.match(reference.strip())
    return 1, (int(m.group(1)) if m else -1)


def _sentence_accuracy(gold: tuple[int, int], pred: tuple[int, int]) -> float:
    (g_flag, g_id), (p_flag, p_id) = gold, pred
    if g_flag == 1 and p_flag == 1:
        return float(g_id == p_id)
    return float(g_flag == 0 and p_flag == 0)


def medec(output: str, reference: str) -> dict[str, float]:
    """Score one MedEC answer against a :func:`medec_reference` string.

    Keys: ``medec_error_flag_accuracy`` (main metric; only the exact string ``CORRECT`` means "no
    error"), ``medec_error_sentence_accuracy`` (faithful, gold id -1 for real references) and
    ``medec_error_sentence_accuracy_corrected`` (gold id = leading integer of the reference).
    """
    pred = _prediction(output)
    gold = _gold_faithful(reference)
    return {
        "medec_error_flag_accuracy": float(pred[0] == gold[0]),
        "medec_error_sentence_accuracy": _sentence_accuracy(gold, pred),
        "medec_error_sentence_accuracy_corrected": _sentence_accuracy(_gold_corrected(reference), pred),
    }
