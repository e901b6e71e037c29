"""Reading a judge's reply: HELM's parser exactly (spec 3.3), and our lenient one beside it.

:func:`parse_helm` is ``LLMAsJuryAnnotator._annotate_with_model`` after the request: the greedy
``{.*}`` extraction, ``json.loads``, one closing brace appended when (and only when) the error is
"Expecting ',' delimiter", then the check that every criterion carries every required key. A reply
that fails any step makes the judge *failed*: HELM drops it, with no partial credit.

:func:`helm_scores` is ``LLMJuryMetric``'s reading of a kept annotation: ``int(v["score"])`` for
every value of the judge's object, extra keys included, no clamping (``int`` truncates 3.9 to 3
and reads "4" as 4; a copied 0 placeholder counts as 0). Where HELM's metric would raise (a score
``int`` rejects, an extra key without a score), HELM's run would crash; we cannot, so that judge
is dropped from the faithful score and the reason is kept.

:func:`parse_lenient` is ours (``jury_score_repaired``): JSON in prose or code fences, trailing
commas, numeric strings, only the rubric's criteria, each score a number on the judge's scale.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

_GREEDY_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_HELM_REPAIRABLE = "Expecting ',' delimiter"
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


@dataclass(frozen=True)
class Parsed:
    """A judge's reply as HELM keeps it: the object, or None and why (our words)."""

    annotation: dict[str, Any] | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.annotation is not None


def helm_extract(text: str) -> str:
    """HELM's ``_sanitize_model_response``: first "{" to last "}", or the whole text."""
    match = _GREEDY_OBJECT.search(text)
    return match.group(0) if match else text


def parse_helm(text: str, criteria: Mapping[str, Collection[str]]) -> Parsed:
    body = helm_extract(text)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        if exc.msg != _HELM_REPAIRABLE:
            return Parsed(None, f"not JSON ({exc.msg})")
        try:
            data = json.loads(body + "}")
        except Exception as again:  # noqa: BLE001 - HELM catches everything here too
            return Parsed(None, f"not JSON after HELM's closing-brace repair ({getattr(again, 'msg', again)})")
    except Exception as exc:  # noqa: BLE001 - HELM's outer handler
        return Parsed(None, f"unreadable ({type(exc).__name__})")
    # HELM's _validate_annotation, inside the same try: Python's `in` on whatever json returned.
    try:
        for key, required in criteria.items():
            if key not in data:
                return Parsed(None, f"no {key!r} criterion")
            for sub in required:
                if sub not in data[key]:
                    return Parsed(None, f"criterion {key!r} has no {sub!r}")
    except Exception as exc:  # noqa: BLE001
        return Parsed(None, f"unexpected shape ({type(exc).__name__})")
    if not isinstance(data, dict):  # cannot pass the checks above with any criterion; with none, HELM keeps it
        return Parsed(None, "not a JSON object")
    return Parsed(data)


def helm_scores(annotation: Mapping[str, Any]) -> tuple[list[int], str]:
    """(HELM's integers for one judge, "" ) or ([], why HELM's metric would have raised)."""
    scores: list[int] = []
    for key, value in annotation.items():
        try:
            scores.append(int(value["score"]))
        except Exception as exc:  # noqa: BLE001
            return [], f"HELM's metric cannot read {key!r} ({type(exc).__name__}); HELM's run would stop here"
    return scores, ""


@dataclass(frozen=True)
class Lenient:
    """Our reading of a reply: criterion -> score on the scale, and the explanations."""

    scores: dict[str, float] | None
    explanations: dict[str, str] = field(default_factory=dict)
    problem: str = ""


def _first_object(text: str) -> str | None:
    """The first balanced {...} in ``text`` (strings and escapes respected)."""
    start = text.find("{")
    while start != -1:
        depth, in_string, escaped = 0, False, False
        for index in range(start, len(text)):
            char = text[index]
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return text[start : index + 1]
        start = text.find("{", start + 1)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_lenient(text: str, criteria: Collection[str], scale: tuple[float, float]) -> Lenient:
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    data: Any = None
    for candidate in candidates:
        body = _first_object(candidate) or helm_extract(candidate)
        for attempt in (body, _TRAILING_COMMA.sub(r"\1", body)):
            try:
                data = json.loads(attempt)
                break
            except ValueError:
                continue
        if isinstance(data, dict):
            break
    if not isinstance(data, dict):
        return Lenient(None, problem="no JSON object")
    scores: dict[str, float] = {}
    explanations: dict[str, str] = {}
    low, high = scale
    for criterion in criteria:
        entry = data.get(criterion)
        if entry is None:
            return Lenient(None, problem=f"no {criterion!r} criterion")
        raw = entry.get("score") if isinstance(entry, dict) else entry
        score = _number(raw)
        if score is None:
            return Lenient(None, problem=f"{criterion!r}: score {raw!r} is not a number")
        if not low <= score <= high:
            return Lenient(None, problem=f"{criterion!r}: score {score:g} is outside {low:g}-{high:g}")
        scores[criterion] = score
        if isinstance(entry, dict) and isinstance(entry.get("explanation"), str):
            explanations[criterion] = entry["explanation"]
    return Lenient(scores, explanations)


def explanations_of(annotation: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: str(value["explanation"])
        for key, value in annotation.items()
        if isinstance(value, dict) and "explanation" in value
    }
