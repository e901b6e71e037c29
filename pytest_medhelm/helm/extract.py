"""The strings of one HELM source file, read with :mod:`ast` (HELM itself is never imported).

A module's strings are kept as data: module- and class-level assignments, the local assignments
and argument defaults of every function (methods as ``Class.method``), the calls made in each
function that pass a string (their keyword arguments), every string constant in source order, and
the names given to ``@run_spec_function("...")``. Values are JSON-ready: str, numbers, bools,
None, lists (tuples and sets too), dicts with string keys, and two markers for what is not a
constant: a :class:`Template` (an f-string, a ``"...".format(...)`` call, or a sum of strings
with one of them) and :class:`Expr` (any other expression, kept as its source text).
"""

from __future__ import annotations

import ast
import string
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True, slots=True)
class Field:
    """One ``{...}`` of a template: its expression's source, conversion (``r``, ``s``, ``a``) and format spec."""

    expr: str
    conversion: str = ""
    spec: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    """A string with fields filled at run time, exactly as Python would fill them."""

    parts: tuple[Union[str, Field], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.expr for p in self.parts if isinstance(p, Field)))

    def fill(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> str:
        """The text with each field's expression replaced by its value (keyed by the expression's source)."""
        given = {**(values or {}), **more}
        missing = [name for name in self.fields if name not in given]
        if missing:
            raise KeyError(f"template fields without a value: {', '.join(missing)}")
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = given[part.expr]
            if part.conversion:
                value = {"r": repr, "s": str, "a": ascii}[part.conversion](value)
            out.append(format(value, part.spec))
        return "".join(out)

    def __add__(self, other: object) -> Template:
        if isinstance(other, str):
            return Template(self.parts + (other,))
        if isinstance(other, Template):
            return Template(self.parts + other.parts)
        return NotImplemented

    def __radd__(self, other: object) -> Template:
        if isinstance(other, str):
            return Template((other,) + self.parts)
        return NotImplemented

    @classmethod
    def from_format(cls, text: str) -> Template:
        """A ``str.format`` template: ``"{a} and {b!r:>4}"``; ``{{`` and ``}}`` are literal braces."""
        parts: list[Union[str, Field]] = []
        for literal, name, spec, conversion in string.Formatter().parse(text):
            if literal:
                parts.append(literal)
            if name is not None:
                parts.append(Field(name, conversion or "", spec or ""))
        return cls(tuple(parts))


@dataclass(frozen=True, slots=True)
class Expr:
    """An expression that is not a constant, as its source text (``condition.replace("_", " ")``)."""

    source: str


Value = Any  # str | int | float | bool | None | list | dict | Template | Expr


@dataclass(frozen=True, slots=True)
class Call:
    """A call that passes at least one string: ``func`` as written, its positional and keyword arguments."""

    func: str
    args: tuple[Value, ...]
    kwargs: Mapping[str, Value]


@dataclass(frozen=True)
class ModuleStrings:
    """What one source file says, as data (see the module docstring)."""

    path: str
    assignments: Mapping[str, Value] = field(default_factory=dict)
    functions: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)
    defaults: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)
    calls: Mapping[str, tuple[Call, ...]] = field(default_factory=dict)
    strings: tuple[str, ...] = ()
    run_specs: Mapping[str, str] = field(default_factory=dict)

    def function(self, name: str) -> Mapping[str, Value]:
        """The local assignments of ``name`` (``Class.method`` for a method); KeyError names the file."""
        try:
            return self.functions[name]
        except KeyError:
            raise KeyError(f"{self.path}: no function {name!r}") from None

    def assignment(self, name: str) -> Value:
        try:
            return self.assignments[name]
        except KeyError:
            raise KeyError(f"{self.path}: no module-level assignment {name!r}") from None

    def calls_to(self, function: str, callee: str) -> tuple[Call, ...]:
        """The calls in ``function`` whose callee ends with ``callee`` (``AdapterSpec`` matches ``x.AdapterSpec``)."""
        return tuple(c for c in self.calls.get(function, ()) if c.func == callee or c.func.endswith("." + callee))


# --- reading ---------------------------------------------------------------------------------


def _template_from_joined(node: ast.JoinedStr, source: str) -> Union[str, Template]:
    parts: list[Union[str, Field]] = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(value.value)
        elif isinstance(value, ast.FormattedValue):
            spec = ""
            if value.format_spec is not None:
                inner = _template_from_joined(value.format_spec, source)
                if isinstance(inner, Template):
                    return Template((Field(_segment(source, node)),))
                spec = inner
            conversion = "" if value.conversion == -1 else chr(value.conversion)
            parts.append(Field(_segment(source, value.value), conversion, spec))
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)  # type: ignore[arg-type]
    return Template(tuple(parts))


class _Source(str):
    """The source text with its line offsets, so a node's text is a slice (``ast.get_source_segment``
    splits the whole file on every call)."""

    offsets: list[int]

    @classmethod
    def of(cls, text: str) -> _Source:
        made = cls(text)
        made.offsets = [0]
        for line in text.splitlines(keepends=True):
            made.offsets.append(made.offsets[-1] + len(line))
        return made

    def _position(self, line: int, column: int) -> int:
        start = self.offsets[line - 1]
        text = self[start : self.offsets[line]] if line < len(self.offsets) else self[start:]
        return start + len(text.encode()[:column].decode())  # ast columns count UTF-8 bytes

    def segment(self, node: ast.AST) -> str:
        try:
            return self[
                self._position(node.lineno, node.col_offset) : self._position(node.end_lineno, node.end_col_offset)
            ]  # type: ignore[arg-type]
        except (AttributeError, IndexError, TypeError, UnicodeDecodeError):
            return ast.unparse(node)


def _segment(source: str, node: ast.AST) -> str:
    if isinstance(source, _Source):
        return source.segment(node)
    return _segment(source, node)


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ast.unparse(node)


def value_of(node: ast.AST, source: str) -> Value:
    """The value of an expression node as data; anything that is not a constant becomes :class:`Expr`."""
    if isinstance(node, ast.Constant) and not isinstance(node.value, bytes):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return _template_from_joined(node, source)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [value_of(e, source) for e in node.elts]
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
        return {k.value: value_of(v, source) for k, v in zip(node.keys, node.values)}  # type: ignore[union-attr]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = value_of(node.left, source), value_of(node.right, source)
        if isinstance(left, (str, Template)) and isinstance(right, (str, Template)):
            return left + right
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and not node.keywords
        and len(node.args) == 1
    ):
        # textwrap.dedent("""...""") and "...".strip() style helpers, on a plain constant only
        inner = value_of(node.args[0], source)
        if _name(node.func) in ("textwrap.dedent", "dedent") and isinstance(inner, str):
            return textwrap.dedent(inner)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return Template.from_format(node.func.value.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str" and not node.args:
        return ""
    return Expr(_segment(source, node))


def _targets(node: ast.AST) -> list[tuple[str, ast.AST]]:
    """(name, value) for ``x = v``, ``x: T = v`` and ``self.x = v``; tuple targets are skipped."""
    if isinstance(node, ast.Assign):
        return [(_name(t), node.value) for t in node.targets if isinstance(t, (ast.Name, ast.Attribute))]
    if (
        isinstance(node, ast.AnnAssign)
        and node.value is not None
        and isinstance(node.target, (ast.Name, ast.Attribute))
    ):
        return [(_name(node.target), node.value)]
    return []


def _has_string(node: ast.Call) -> bool:
    return any(
        isinstance(n, (ast.JoinedStr,)) or (isinstance(n, ast.Constant) and isinstance(n.value, str))
        for a in [*node.args, *(k.value for k in node.keywords)]
        for n in ast.walk(a)
    )


def _defaults(fn: ast.FunctionDef | ast.AsyncFunctionDef, source: str) -> dict[str, Value]:
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    out = {
        a.arg: value_of(d, source) for a, d in zip(positional[len(positional) - len(args.defaults) :], args.defaults)
    }
    out.update({a.arg: value_of(d, source) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    return out


def _run_spec_name(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    for decorator in fn.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and _name(decorator.func).endswith("run_spec_function")
            and decorator.args
            and isinstance(decorator.args[0], ast.Constant)
        ):
            return str(decorator.args[0].value)
    return None


def read_module(path: str, source: str) -> ModuleStrings:
    """Extract the strings of one Python source file (``path`` is only used in messages)."""
    tree = ast.parse(source, filename=path)
    source = _Source.of(source)
    assignments: dict[str, Value] = {}
    functions: dict[str, dict[str, Value]] = {}
    defaults: dict[str, dict[str, Value]] = {}
    calls: dict[str, list[Call]] = {}
    run_specs: dict[str, str] = {}

    def visit_function(fn: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str) -> None:
        local: dict[str, Value] = {}
        found: list[Call] = []
        for node in ast.walk(fn):
            if node is not fn and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # nested definitions are walked too, but their assignments count as the outer's
            for target, value in _targets(node):
                local.setdefault(target, value_of(value, source))
            if isinstance(node, ast.Call) and _has_string(node):
                found.append(
                    Call(
                        _name(node.func),
                        tuple(value_of(a, source) for a in node.args),
                        {k.arg: value_of(k.value, source) for k in node.keywords if k.arg},
                    )
                )
        functions[qualname] = local
        defaults[qualname] = _defaults(fn, source)
        calls[qualname] = found
        if (name := _run_spec_name(fn)) is not None:
            run_specs[name] = qualname

    for node in tree.body:
        for target, value in _targets(node):
            assignments[target] = value_of(value, source)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            visit_function(node, node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                for target, value in _targets(item):
                    assignments[f"{node.name}.{target}"] = value_of(value, source)
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    visit_function(item, f"{node.name}.{item.name}")
    strings = tuple(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))
    return ModuleStrings(
        path, assignments, functions, defaults, {k: tuple(v) for k, v in calls.items()}, strings, run_specs
    )


# --- JSON for the on-disk cache ------------------------------------------------------------------


def to_json(value: Value) -> Any:
    if isinstance(value, Template):
        return {"$template": [p if isinstance(p, str) else [p.expr, p.conversion, p.spec] for p in value.parts]}
    if isinstance(value, Expr):
        return {"$expr": value.source}
    if isinstance(value, Call):
        return {"$call": [value.func, to_json(list(value.args)), to_json(dict(value.kwargs))]}
    if isinstance(value, ModuleStrings):
        return {
            "path": value.path,
            "assignments": to_json(dict(value.assignments)),
            "functions": {k: to_json(dict(v)) for k, v in value.functions.items()},
            "defaults": {k: to_json(dict(v)) for k, v in value.defaults.items()},
            "calls": {k: [to_json(c) for c in v] for k, v in value.calls.items()},
            "strings": list(value.strings),
            "run_specs": dict(value.run_specs),
        }
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def from_json(data: Any) -> Value:
    if isinstance(data, dict):
        if "$template" in data:
            return Template(tuple(p if isinstance(p, str) else Field(*p) for p in data["$template"]))
        if "$expr" in data:
            return Expr(data["$expr"])
        if "$call" in data:
            func, args, kwargs = data["$call"]
            return Call(func, tuple(from_json(args)), from_json(kwargs))
        return {k: from_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [from_json(v) for v in data]
    return data


def module_from_json(data: Mapping[str, Any]) -> ModuleStrings:
    return ModuleStrings(
        path=data["path"],
        assignments=from_json(data["assignments"]),
        functions={k: from_json(v) for k, v in data["functions"].items()},
        defaults={k: from_json(v) for k, v in data["defaults"].items()},
        calls={k: tuple(from_json(c) for c in v) for k, v in data["calls"].items()},
        strings=tuple(data["strings"]),
        run_specs=dict(data["run_specs"]),
    )
