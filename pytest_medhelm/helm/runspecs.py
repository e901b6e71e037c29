"""What a MedHELM run spec asks of the adapter, read from ``medhelm_run_specs.py`` (never run).

A run-spec function calls one adapter-spec builder (``get_generation_adapter_spec`` or
``get_multiple_choice_adapter_spec``) with keyword arguments; the builders' own defaults and the
constants they pass to ``AdapterSpec(...)`` (temperature, stop sequences) come from
``common_adapter_specs.py`` in the same wheel.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from pytest_medhelm.helm.extract import Expr, Template

if TYPE_CHECKING:
    from pytest_medhelm.helm.wheel import HelmPackage

RUN_SPECS_FILE = "helm/benchmark/run_specs/medhelm_run_specs.py"
ADAPTER_SPECS_FILE = "helm/benchmark/adaptation/common_adapter_specs.py"
GENERATION = "get_generation_adapter_spec"
MULTIPLE_CHOICE = "get_multiple_choice_adapter_spec"
# get_multiple_choice_adapter_spec hands the joint method to this builder, which builds the AdapterSpec.
_MULTIPLE_CHOICE_JOINT = "get_multiple_choice_joint_adapter_spec"


@dataclass(frozen=True)
class AdapterStrings:
    """The adapter settings of one run spec: the prompt's words and the request's parameters.

    ``instructions`` is a :class:`Template` when HELM builds it from the run's arguments (CLEAR's
    condition); fill it with :meth:`Template.fill`.
    """

    run_spec: str
    function: str
    multiple_choice: bool
    instructions: Union[str, Template]
    input_noun: str | None
    output_noun: str | None
    newline_after_input_noun: bool
    newline_after_output_noun: bool
    max_tokens: int
    temperature: float
    stop_sequences: tuple[str, ...]
    kwargs: Mapping[str, Any]


def _builder_call(function: str, calls: tuple[Any, ...], run_spec: str) -> Any:
    for call in calls:
        if call.func in (GENERATION, MULTIPLE_CHOICE):
            return call
    raise KeyError(
        f"{RUN_SPECS_FILE}: run spec {run_spec!r} ({function}) calls neither {GENERATION} nor {MULTIPLE_CHOICE}"
    )


def adapter_strings(package: HelmPackage, run_spec: str) -> AdapterStrings:
    specs = package.module(RUN_SPECS_FILE)
    if run_spec not in specs.run_specs:
        raise KeyError(f"{RUN_SPECS_FILE}: no run spec {run_spec!r} (known: {', '.join(sorted(specs.run_specs))})")
    function = specs.run_specs[run_spec]
    call = _builder_call(function, specs.calls.get(function, ()), run_spec)
    builders = package.module(ADAPTER_SPECS_FILE)
    multiple_choice = call.func == MULTIPLE_CHOICE
    builder = _MULTIPLE_CHOICE_JOINT if multiple_choice else call.func
    given = dict(call.kwargs)
    if multiple_choice:
        method = given.get("method")
        if not (isinstance(method, Expr) and method.source.endswith("ADAPT_MULTIPLE_CHOICE_JOINT")):
            raise ValueError(
                f"{RUN_SPECS_FILE}: run spec {run_spec!r} uses method {method!r}; only the joint "
                f"multiple-choice method is supported"
            )
    # The outer builder's defaults win: it passes them on to the joint builder.
    settings = {**builders.defaults.get(builder, {}), **builders.defaults.get(call.func, {}), **given}
    # The constants the builder passes to AdapterSpec(...) (temperature, stop sequences), unless
    # the run spec sets them; a parameter defaulting to None may be replaced in the builder's body.
    spec_call = builders.calls_to(builder, "AdapterSpec")
    constants = {k: v for c in spec_call for k, v in c.kwargs.items() if not isinstance(v, Expr)}
    for name, value in list(settings.items()):
        if value is None and isinstance(builders.functions.get(builder, {}).get(name), list):
            settings[name] = builders.functions[builder][name]
    for name in ("temperature", "stop_sequences"):
        if name not in given and name in constants:
            settings[name] = constants[name]
    unresolved = [
        k for k in ("instructions", "input_noun", "output_noun", "max_tokens") if isinstance(settings.get(k), Expr)
    ]
    if unresolved:
        raise ValueError(f"{RUN_SPECS_FILE}: run spec {run_spec!r}: {', '.join(unresolved)} is not a constant")
    return AdapterStrings(
        run_spec=run_spec,
        function=function,
        multiple_choice=multiple_choice,
        instructions=settings.get("instructions", ""),
        input_noun=settings.get("input_noun"),
        output_noun=settings.get("output_noun"),
        newline_after_input_noun=bool(settings.get("newline_after_input_noun", False)),
        newline_after_output_noun=bool(settings.get("newline_after_output_noun", False)),
        max_tokens=int(settings["max_tokens"]),
        # As written in the run spec (an int 0 is sent as 0, not 0.0).
        temperature=settings.get("temperature", 0.0),
        stop_sequences=tuple(settings.get("stop_sequences") or ()),
        kwargs=given,
    )


# -- run names: what HELM calls a run's directory (benchmark_output/runs/<suite>/<name>/) --------


def run_entry_name(package: HelmPackage, run_spec: str, run: str = "") -> str:
    """The name HELM gives the run spec ``run_spec`` (``@run_spec_function`` key): the ``name=`` its
    function passes to ``RunSpec(...)``, filled with the function's defaults, and ``run`` for the
    one field without a default (MedDialog's subset, CLEAR's condition)."""
    specs = package.module(RUN_SPECS_FILE)
    if run_spec not in specs.run_specs:
        raise KeyError(f"{RUN_SPECS_FILE}: no run spec {run_spec!r}")
    function = specs.run_specs[run_spec]
    names = [call.kwargs["name"] for call in specs.calls_to(function, "RunSpec") if "name" in call.kwargs]
    if len(names) != 1:
        raise ValueError(f"{RUN_SPECS_FILE}: {function} does not pass one name to RunSpec")
    name = names[0]
    local = specs.functions.get(function, {})
    if isinstance(name, Expr) and name.source.isidentifier() and name.source in local:
        name = local[name.source]  # name=run_spec_name, assigned above the call
    values = dict(specs.defaults.get(function, {}))
    fields = name.fields if isinstance(name, Template) else _names_in(name)
    free = [field for field in fields if field not in values]
    if len(free) > 1 or (free and not run):
        raise ValueError(f"{RUN_SPECS_FILE}: run spec {run_spec!r} names its runs by {', '.join(free)}")
    if free:
        values[free[0]] = run
    elif run:
        raise ValueError(f"{RUN_SPECS_FILE}: run spec {run_spec!r} has one run, not {run!r}")
    if isinstance(name, Template):
        return name.fill(values)
    if isinstance(name, Expr):
        return str(_evaluate(ast.parse(name.source, mode="eval").body, values, name.source))
    return str(name)


def model_run_name(name: str, model: str) -> str:
    """HELM's model run expander (``ModelRunExpander.replace_model_in_run_spec``): the run's name,
    ``,`` or ``:``, then ``model=`` and the model's last two ``/`` parts with ``/`` as ``_``."""
    model_name = "/".join(model.split("/")[-2:])
    return f"{name}{',' if ':' in name else ':'}model={model_name.replace('/', '_')}"


def _names_in(value: Any) -> tuple[str, ...]:
    if not isinstance(value, Expr):
        return ()
    tree = ast.parse(value.source, mode="eval")
    return tuple(dict.fromkeys(node.id for node in ast.walk(tree) if isinstance(node, ast.Name)))


def _evaluate(node: ast.AST, values: Mapping[str, Any], source: str) -> Any:
    """The few expression forms HELM's run-spec names use: constants, names, f-strings,
    ``a if cond else b`` and comparisons with ``is``/``==``. Anything else is an error."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in values:
        return values[node.id]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                parts.append(format(_evaluate(part.value, values, source)))
            else:
                parts.append(str(_evaluate(part, values, source)))
        return "".join(parts)
    if isinstance(node, ast.IfExp):
        test = _evaluate(node.test, values, source)
        return _evaluate(node.body if test else node.orelse, values, source)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = _evaluate(node.left, values, source), _evaluate(node.comparators[0], values, source)
        operator = node.ops[0]
        if isinstance(operator, ast.Is):
            return left is right
        if isinstance(operator, ast.IsNot):
            return left is not right
        if isinstance(operator, ast.Eq):
            return left == right
        if isinstance(operator, ast.NotEq):
            return left != right
    raise ValueError(f"{RUN_SPECS_FILE}: cannot read the run name {source!r}")
