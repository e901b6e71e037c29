"""``-k`` and ``-m`` for items not yet collected: pytest's own expressions, evaluated as pytest's
mark plugin evaluates them, so that a plan honours the selection people actually type.

``-m`` matches marker names, and an instance item's markers are exactly its benchmark's (set on its
module), so the answer is pytest's. ``-k`` matches, case-insensitively and as substrings, the
names pytest gathers for an item: its own name, its markers' names, and the names of the nodes
above it (the module, the folders), and those folders' names depend on where pytest roots the
collection. So a name of the expression that only a folder could match is taken both ways, and
an item is planned only when the expression selects it either way: the plan may miss an item the
run will have (it is then asked for as usual), never add one it will not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# More uncertain names than this in one -k expression: not worth 2**n evaluations per item.
_MOST_UNCERTAIN = 6


class Unforeseeable(Exception):
    """The selection cannot be evaluated ahead of collection (pytest would reject or treat it
    differently than this module can tell)."""


def _compile(text: str) -> Any:
    try:
        from _pytest.mark.expression import Expression

        return Expression.compile(text)
    except Exception as exc:  # noqa: BLE001 - a bad expression is reported by the collection itself
        raise Unforeseeable(str(exc)) from None


def _idents(expression: Any) -> frozenset[str]:
    """The names an expression mentions (``Expression.idents()`` where pytest has it)."""
    if callable(getattr(expression, "idents", None)):
        return frozenset(expression.idents())
    code = getattr(expression, "code", None) or getattr(expression, "_code", None)
    if code is None:
        raise Unforeseeable("this pytest's match expressions do not tell their names")
    return frozenset(name[1:] for name in code.co_names if name.startswith("$"))


class Selection:
    def __init__(self, keyword: str, markexpr: str) -> None:
        self.keyword = _compile(keyword) if keyword else None
        self.keyword_idents = _idents(self.keyword) if self.keyword is not None else frozenset()
        self.markexpr = _compile(markexpr) if markexpr else None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Selection | None:
        keyword = (config.getoption("keyword", "") or "").lstrip()
        markexpr = config.getoption("markexpr", "") or ""
        return cls(keyword, markexpr) if keyword or markexpr else None

    def selects(self, item_name: str, path: Path, markers: frozenset[str]) -> bool:
        """Is the item ``item_name`` of the file at ``path``, with these marker names, surely selected?"""
        if self.markexpr is not None and not self.markexpr.evaluate(_marker_matcher(markers)):
            return False
        if self.keyword is None:
            return True
        known = [name.lower() for name in (item_name, path.name, *markers)]
        folders = str(path).lower()  # every form pytest may give the file's and its folders' names
        uncertain = []
        for ident in self.keyword_idents:
            lowered = ident.lower()
            if not any(lowered in name for name in known) and lowered in folders:
                uncertain.append(lowered)
        if len(uncertain) > _MOST_UNCERTAIN:
            return False
        try:
            return all(
                self.keyword.evaluate(_keyword_matcher(known, dict(zip(uncertain, values))))
                for values in itertools.product((False, True), repeat=len(uncertain))
            )
        except Unforeseeable:
            return False


def _marker_matcher(markers: frozenset[str]) -> Callable[..., bool]:
    def match(name: str, /, **kwargs: Any) -> bool:
        return name in markers and not kwargs  # the benchmark markers carry no arguments

    return match


def _keyword_matcher(known: list[str], assumed: dict[str, bool]) -> Callable[..., bool]:
    def match(name: str, /, **kwargs: Any) -> bool:
        if kwargs:
            raise Unforeseeable("keyword expressions take no call parameters")
        lowered = name.lower()
        if lowered in assumed:
            return assumed[lowered]
        return any(lowered in known_name for known_name in known)

    return match
