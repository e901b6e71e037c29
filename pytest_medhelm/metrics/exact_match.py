"""Exact-match family (MedHELM spec §2.1).

Reproduces HELM's ``metrics/evaluate_reference_metrics.py`` as used by MedHELM:

* every prediction is ``completion.strip()`` before scoring, and an empty prediction scores 0;
* multiple-choice outputs are looked up *verbatim* in the letter -> option-text map, so ``"A."``,
  ``"(A)"``, ``"a"`` or ``"Answer: A"`` are unmapped and score 0 on every variant;
* a mapped letter is replaced by its option text, which is compared with the gold option text
  (so two options with identical text are interchangeable, exactly as in HELM).

``exact_match_corrected`` is *not* a HELM metric: it is an opt-in, lenient variant that extracts the
chosen letter from common answer spellings before doing the same option-text comparison.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

__all__ = [
    "normalize_text",
    "exact_match",
    "quasi_exact_match",
    "prefix_exact_match",
    "quasi_prefix_exact_match",
    "multiple_choice",
    "extract_choice_letter",
    "generation_exact_match",
    "option_letter",
]

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_text(s: str) -> str:
    """HELM/QuAC normalisation: lowercase, drop ``string.punctuation``, articles -> space, squeeze.

    The order matters and is HELM's: punctuation is removed *before* articles, so ``"the-end"``
    becomes ``"theend"`` (no article left to remove), and an article is replaced by a space rather
    than deleted, which only matters before whitespace collapsing.
    """
    lowered = s.lower()
    no_punct = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punct)
    return " ".join(no_articles.split())


def _clean_pred(pred: str | None) -> str:
    # HELM strips every completion before scoring; an unmapped MC answer arrives as None.
    return "" if pred is None else pred.strip()


def exact_match(gold: str, pred: str | None) -> float:
    """1.0 iff the stripped prediction is non-empty and equals the stripped gold."""
    p = _clean_pred(pred)
    if not p:
        return 0.0
    return 1.0 if gold.strip() == p else 0.0


def quasi_exact_match(gold: str, pred: str | None) -> float:
    """1.0 iff the prediction is non-empty and both sides are equal after :func:`normalize_text`.

    Quirk kept: a non-empty prediction made only of punctuation/articles normalises to ``""`` and
    therefore matches a gold that also normalises to ``""``.
    """
    p = _clean_pred(pred)
    if not p:
        return 0.0
    return 1.0 if normalize_text(gold) == normalize_text(p) else 0.0


def prefix_exact_match(gold: str, pred: str | None) -> float:
    """1.0 iff the stripped prediction is non-empty and starts with the stripped gold."""
    p = _clean_pred(pred)
    if not p:
        return 0.0
    return 1.0 if p.startswith(gold.strip()) else 0.0


def quasi_prefix_exact_match(gold: str, pred: str | None) -> float:
    """1.0 iff the prediction is non-empty and its normalisation starts with the gold's.

    Quirk kept: a gold that normalises to ``""`` is a prefix of every non-empty prediction.
    """
    p = _clean_pred(pred)
    if not p:
        return 0.0
    return 1.0 if normalize_text(p).startswith(normalize_text(gold)) else 0.0


def _em_family(gold: str, pred: str | None) -> dict[str, float]:
    return {
        "exact_match": exact_match(gold, pred),
        "quasi_exact_match": quasi_exact_match(gold, pred),
        "prefix_exact_match": prefix_exact_match(gold, pred),
        "quasi_prefix_exact_match": quasi_prefix_exact_match(gold, pred),
    }


def option_letter(index: int) -> str:
    """Letter HELM's multiple-choice-joint adapter gives option ``index`` (A for 0, B for 1, ...)."""
    return chr(ord("A") + index)


def generation_exact_match(gold: str, output: str) -> dict[str, float]:
    """EM family for plain generation (MedHallu, gold ``"0"``/``"1"``): no mapping, no extraction.

    The model must output exactly the gold after whitespace stripping; ``"0."`` or
    ``"Judgment: 1"`` score 0 on ``exact_match`` (the prefix/quasi variants are reported as HELM does).
    """
    return _em_family(gold, output)


# --------------------------------------------------------------------------------------------
# Lenient letter extraction (exact_match_corrected only; HELM has no equivalent)
# --------------------------------------------------------------------------------------------

# Markdown emphasis / code / heading characters a chat model wraps around its answer.
_MARKDOWN = re.compile(r"[*_`#]+")
# Entire answer is one letter, optionally bracketed and/or followed by "." or ":" ("A.", "(a)", "[C]").
_BARE = re.compile(r"^[\(\[\{]?\s*([A-Za-z])\s*[\)\]\}]?\s*[.:]?$")
# Answer opens with a letter followed by a closing delimiter ("B) text", "B. text", "(B) text", "B: x").
_LEADING = re.compile(r"^[\(\[]?([A-Za-z])\s*[\)\].:]")
# A letter named after a cue word: "Answer: A", "The answer is C", "correct option is (B)", "Choice D".
_CUE = re.compile(
    r"\b(?:answer|option|choice)\b"
    r"(?:\s+(?:is|would\s+be|should\s+be|will\s+be))?"
    r"\s*[:=\-]?\s*[\(\[]?\s*([A-Za-z])(?P<after>.?)",
    re.IGNORECASE,
)
# A parenthesised letter anywhere, e.g. "... so (B).".
_PAREN = re.compile(r"\(([A-Z])\)")
# Two capital letters joined as alternatives ("A or B", "A/B", "(A) and (C)"): ambiguity evidence.
_PAIR = re.compile(r"\b([A-Z])\)?\s*(?:,|/|&|\bor\b|\band\b)\s*\(?([A-Z])\b")


def extract_choice_letter(output: str | None, num_choices: int) -> str | None:
    """Best-effort extraction of the option letter a free-text answer names, or None.

    Recognised forms (letters outside the first ``num_choices`` of A, B, ... are ignored):

    * the whole answer is one letter, any case, optionally bracketed and followed by ``.``/``:``
      (``"A."``, ``"(A)"``, ``"a"``, ``"**B**"`` once markdown is removed);
    * a leading letter with a closing delimiter (``"B) text"``, ``"C. text"``);
    * a letter after the cue words answer/option/choice (``"Answer: A"``, ``"The answer is C"``);
      after a cue a lowercase letter counts only when nothing but punctuation follows it, so
      ``"the answer is a drug"`` names no letter;
    * a parenthesised capital letter anywhere (``"... so (B)"``);
    * capital letters given as alternatives (``"A or B"``, ``"A/B"``).

    If these forms name two *different* in-range letters the answer is ambiguous and None is
    returned, so hedging never scores.
    """
    if output is None:
        return None
    valid = {option_letter(i) for i in range(max(num_choices, 0))}
    text = _MARKDOWN.sub("", output).strip()
    if not text:
        return None

    bare = _BARE.match(text)
    if bare:
        letter = bare.group(1).upper()
        return letter if letter in valid else None

    found: set[str] = set()
    leading = _LEADING.match(text)
    if leading:
        found.add(leading.group(1).upper())
    for m in _CUE.finditer(text):
        letter, after = m.group(1), m.group("after")
        if letter.isupper():
            if not (after.isalnum() or after == "_"):
                found.add(letter)
        elif after == "" or after in ".,;:!?)]":
            found.add(letter.upper())
    for m in _PAREN.finditer(text):
        found.add(m.group(1))
    for m in _PAIR.finditer(text):
        found.update((m.group(1), m.group(2)))

    in_range = found & valid
    if len(in_range) == 1:
        return next(iter(in_range))
    return None


def multiple_choice(choices: Sequence[str], correct: int, output: str) -> dict[str, float]:
    """Score one multiple-choice answer the way HELM's MC-joint adapter + EM metrics do.

    ``pred = output.strip()`` is looked up verbatim (case-sensitive) in ``{"A": choices[0], ...}``;
    an unmapped pred scores 0 on all four EM variants, a mapped one is compared (as option text) with
    ``choices[correct]``. ``exact_match_corrected`` does the same comparison after lenient letter
    extraction (:func:`extract_choice_letter`).
    """
    if not 0 <= correct < len(choices):
        raise ValueError(f"correct index {correct} out of range for {len(choices)} choices")
    gold = choices[correct]
    mapping = {option_letter(i): text for i, text in enumerate(choices)}
    mapped = mapping.get(output.strip())  # None when unmapped -> scores 0 everywhere
    scores = _em_family(gold, mapped)

    letter = extract_choice_letter(output, len(choices))
    corrected_pred = mapping.get(letter) if letter is not None else None
    scores["exact_match_corrected"] = exact_match(gold, corrected_pred)
    return scores
