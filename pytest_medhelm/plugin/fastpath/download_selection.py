"""Could ``-k`` or ``-m`` select any item of a benchmark module? Asked before its data is
downloaded (``--medhelm-download``), so a run narrowed to one benchmark fetches only that one.

pytest deselects after collection, and collecting a benchmark means reading its data. A module's
markers are its items' markers, so ``-m`` is answered exactly. For ``-k``, a name that matches the
module (its file, folders, markers) matches every item; a name that matches only the session's
vocabulary elsewhere (another benchmark's id, a category, a marker) matches none; any other name
(an instance id, a model) may match some items, so it is tried both ways: only an expression
false for every choice rules the module out.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

# More unknown names than this in one -k expression: do not enumerate, assume it may select.
_MAX_UNKNOWN = 10


def may_select(node: pytest.Collector) -> bool:
    config = node.config
    try:
        from _pytest.mark import KeywordMatcher, MarkMatcher
        from _pytest.mark.expression import Expression

        keyword = (config.option.keyword or "").lstrip()
        if keyword and not _could_hold(
            Expression.compile(keyword),
            KeywordMatcher.from_item(node),  # type: ignore[arg-type]
            _vocabulary(config),
        ):
            return False
        markexpr = config.option.markexpr
        if markexpr and not Expression.compile(markexpr).evaluate(MarkMatcher.from_markers(node.iter_markers())):
            return False
    except Exception:  # noqa: BLE001  (pytest's internals moved, or a bad expression pytest reports itself)
        return True
    return True


def _vocabulary(config: pytest.Config) -> list[str]:
    """Every registered marker name (benchmark ids, categories, subcategories, access levels)."""
    return [line.split(":", 1)[0].split("(", 1)[0].strip().lower() for line in config.getini("markers")]


def _could_hold(expression: Any, matcher: Any, vocabulary: list[str]) -> bool:
    idents = getattr(expression, "idents", None)  # pytest 9; before it, the compiled code's names
    if callable(idents):
        idents = idents()
    if idents is None:
        code = getattr(expression, "code", None) or expression._code
        idents = [name[1:] for name in code.co_names if name.startswith("$")]
    names = sorted(set(idents))
    known = {name: True for name in names if matcher(name)}
    known.update(
        {name: False for name in names if name not in known and any(name.lower() in word for word in vocabulary)}
    )
    unknown = [name for name in names if name not in known]
    if len(unknown) > _MAX_UNKNOWN:
        return True
    for values in itertools.product((False, True), repeat=len(unknown)):
        chosen = {**known, **dict(zip(unknown, values))}

        def match(name: str, /, **_: Any) -> bool:
            return chosen[name]

        if expression.evaluate(match):
            return True
    return False
