"""A hospital's own benchmark in one YAML file: MedHELM's configurable benchmark (spec 7.9).

A file named ``<anything>.medhelm.yaml`` beside a CSV or JSONL of instances is a benchmark; pytest
collects it like a built-in suite (``pytest --medhelm-model=NAME triage.medhelm.yaml``, or put it
under a folder listed in the ini key ``medhelm_paths``)::

    name: ed_triage                      # benchmark id, snake_case: marker and results key
    display_name: ED triage urgency      # default: the name
    description: Is an emergency-department presentation urgent?
    category: clinical_decision_support  # a MedHELM category id or name, or `custom`
    subcategory: Supporting Diagnostic Decisions
    access: private                      # public | gated | private (default private)
    data: triage.csv                     # .csv (header row) or .jsonl, relative to this file
    id_column: case_id                   # optional; default: the row's line in the data file
    instructions: Answer Urgent or Routine.
    prompt: |                            # `{column}` fields; `{{` and `}}` for literal braces
      Triage note: {note}
    reference: answer                    # the gold-answer column
    metrics: [exact_match, rouge_l]      # the first is the main metric, as in MedHELM
    max_tokens: 5                        # default 1024
    pass_at: 1.0                         # an item passes at this main score (default 1.0; ROUGE, jury 0.5)

What MedHELM does, and so do we:

* Zero-shot generation, no stop sequences: the prompt is the template filled from the row, after
  the optional instructions and a blank line (HELM's generation layout with no input or output cue).
* The gold answer is the ``reference`` column or, without one, MedHELM's ``correct_answer`` column.
  MedHELM's optional ``incorrect_answers`` column (a JSON list) adds *incorrect references*, not
  options: the model is not shown them; exact match ignores them; ROUGE takes the best match over
  every reference, incorrect ones included (HELM's summarization metric does exactly this).
* Metrics: ``exact_match`` (strict match of the stripped output, with HELM's quasi and prefix
  variants), ``rouge_1``, ``rouge_2``, ``rouge_l`` (stemmed F-measure), and ``jury`` (HELM's
  ``jury_score``) with a ``rubric`` (criterion -> guiding question), optional ``judges`` (model
  names) and ``max_score`` (default 5; the scale starts at 0, and an instance no judge scored gets
  0). Until the LLM jury is configured, a benchmark whose main metric is the jury is scored by
  ROUGE-L against the reference, like the built-in open-ended benchmarks; its rubric is kept on the
  benchmark (``UserBenchmark.jury``) for the jury.

Where we differ on purpose: a template field missing from the data, or an empty gold answer, is an
error (HELM fills in "" or ``nan``), and cells are read as text (HELM's pandas turns ``007`` into
``7``). ``category: custom`` places a benchmark outside MedHELM's taxonomy: it is reported under
the category ``custom`` and the subcategory you name, which may be any text.

Every definition error names the YAML file, the line and the field; every data error names the data
file, the line (a CSV's header is line 1; a CSV row is counted as one line even when a quoted cell
spans several) and the column.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from pytest_medhelm import scorers
from pytest_medhelm.benchmark import Benchmark, Instance, Prompt, ScoreContext
from pytest_medhelm.configurable_data import MHELM_GOLD, MHELM_INCORRECT, RowReader, data_columns, to_instance
from pytest_medhelm.data.sources import DataError, Source
from pytest_medhelm.metrics import exact_match as em
from pytest_medhelm.suites import USER_BENCHMARK_SUFFIX, is_user_benchmark
from pytest_medhelm.taxonomy import load_taxonomy, slug

SUFFIX = USER_BENCHMARK_SUFFIX
CUSTOM = "custom"
ROUGE = ("rouge_1", "rouge_2", "rouge_l")
JURY_METRIC = "jury_score"
# A user benchmark id becomes a marker: it must not shadow the markers every item carries.
_RESERVED = {"medhelm", "public", "gated", "private", "open_ended", "closed_ended", CUSTOM}
# MedHELM's own key names, pointed at ours when someone brings a HELM config over.
_HINTS = {
    "dataset_file": "use `data:` (the CSV or JSONL, relative to this file)",
    "prompt_file": "use `prompt:` with the template itself",
}


class DefinitionError(DataError):
    """A ``*.medhelm.yaml`` that cannot define a benchmark; names the file, the line and the field."""


# -- schema -----------------------------------------------------------------------------------------


class MetricEntry(BaseModel):
    """One entry of ``metrics``: a bare name, or a mapping (the jury needs its rubric)."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["exact_match", "rouge_1", "rouge_2", "rouge_l", "jury"]
    rubric: dict[str, str] | None = Field(default=None, validate_default=True)
    judges: list[str] = Field(default_factory=list, validate_default=True)
    max_score: int = Field(default=5, ge=1)

    @field_validator("name", mode="before")
    @classmethod
    def _helm_name(cls, value: Any) -> Any:
        return "jury" if value == JURY_METRIC else value

    @field_validator("rubric")
    @classmethod
    def _rubric(cls, value: dict[str, str] | None, info: ValidationInfo) -> dict[str, str] | None:
        if info.data.get("name") == "jury":
            if not value:
                raise ValueError("a jury metric needs a rubric: criterion name -> guiding question")
            for criterion, question in value.items():
                if not criterion.strip() or not question.strip():
                    raise ValueError("every rubric criterion needs a name and a guiding question")
        elif value is not None:
            raise ValueError("only the jury metric takes a rubric")
        return value

    @field_validator("judges")
    @classmethod
    def _judges(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and info.data.get("name") != "jury":
            raise ValueError("only the jury metric takes judges")
        return value


class Definition(BaseModel):
    """The YAML file, validated. Semantic checks (taxonomy, data columns) follow in the loader."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="benchmark id, snake_case")
    display_name: str | None = None
    description: str = ""
    category: str
    subcategory: str = Field(min_length=1)
    access: Literal["public", "gated", "private"] = "private"
    data: str = Field(min_length=1)
    id_column: str | None = None
    prompt: str = Field(min_length=1)
    instructions: str = ""
    reference: str | None = None
    metrics: list[MetricEntry] = Field(min_length=1)
    max_tokens: int = Field(default=1024, ge=1)
    pass_at: float | None = Field(default=None, ge=0)

    @field_validator("metrics", mode="before")
    @classmethod
    def _bare_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("metrics")
    @classmethod
    def _unique(cls, value: list[MetricEntry]) -> list[MetricEntry]:
        names = [metric.name for metric in value]
        if len(set(names)) != len(names):
            raise ValueError(f"a metric is listed twice: {names}")
        return value


@dataclass(frozen=True)
class JuryConfig:
    """The jury as the YAML declares it, kept for the LLM jury (MedHELM: default score 0.0)."""

    criteria: tuple[tuple[str, str], ...]
    judges: tuple[str, ...] = ()
    scale: tuple[float, float] = (0.0, 5.0)
    default_score: float = 0.0

    @property
    def rubric(self) -> dict[str, str]:
        return dict(self.criteria)


@dataclass(frozen=True)
class UserBenchmark(Benchmark):
    """A :class:`Benchmark` defined by a ``*.medhelm.yaml`` file, with what the YAML adds."""

    definition_file: Path | None = None
    data_file: Path | None = None
    metrics: tuple[str, ...] = ()
    jury: JuryConfig | None = None


# -- YAML with line numbers -------------------------------------------------------------------------


def _line_of(root: yaml.Node, loc: Sequence[str | int]) -> int:
    """1-based line of the deepest node of ``loc`` present in the file (a key's own line)."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if match is None:
                break
            node, line = match[1], match[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _template_line(root: yaml.Node, template: str, field: str) -> int:
    """The line of ``{field}`` inside a ``prompt: |`` block; otherwise the ``prompt`` key's line."""
    line = _line_of(root, ["prompt"])
    value = (
        next((v for k, v in root.value if k.value == "prompt"), None) if isinstance(root, yaml.MappingNode) else None
    )
    if isinstance(value, yaml.ScalarNode) and value.style == "|":
        for offset, text in enumerate(template.splitlines()):
            if any(name == field for name in _fields(text, strict=False)):
                return value.start_mark.line + 2 + offset
    return line


def _compose(path: Path, text: str) -> yaml.Node:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DefinitionError(
            f"not valid YAML ({exc.problem or exc.context})", file=path, line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionError(f"not valid YAML ({exc})", file=path) from None
    if not isinstance(root, yaml.MappingNode):
        raise DefinitionError(
            "expected a mapping of keys (name:, prompt:, data:, metrics: ...)",
            file=path,
            line=root.start_mark.line + 1 if root is not None else 1,
        )
    return root


def _validate(path: Path, root: yaml.Node, data: Any) -> Definition:
    try:
        return Definition.model_validate(data)
    except ValidationError as exc:
        problems = []
        # Problems with what is written come first, in file order; missing keys after them.
        for error in sorted(exc.errors(), key=lambda e: (e["type"] == "missing", _line_of(root, e["loc"]))):
            loc = [part for part in error["loc"] if part != "[key]"]
            field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or None
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden" and loc and loc[-1] in _HINTS:
                message += f": {_HINTS[str(loc[-1])]}"
            if error["type"] == "literal_error" and loc[-1:] == ["name"]:
                message = f"unknown metric {error['input']!r}; {message[0].lower()}{message[1:]}"
            problems.append(DefinitionError(message, file=path, line=_line_of(root, loc), field=field))
        first = problems[0]
        if len(problems) > 1:
            more = "\n".join(f"  also line {p.line}, field {p.field!r}: {p.message}" for p in problems[1:])
            raise DefinitionError(f"{first.message}\n{more}", file=path, line=first.line, field=first.field)
        raise first from None


# -- data ------------------------------------------------------------------------------------------


def _fields(template: str, *, strict: bool = True) -> list[str]:
    """The ``{column}`` names of a template, in order (``{{``/``}}`` are literal braces)."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError:
        if not strict:
            return []
        raise
    return names


@dataclass(frozen=True)
class _Scorer:
    """The listed metrics; the jury stands in as ROUGE until the LLM jury is configured."""

    metrics: tuple[str, ...]

    def __call__(self, instance: Instance, output: str, ctx: ScoreContext) -> dict[str, float]:
        result: dict[str, float] = {}
        if "exact_match" in self.metrics:
            result.update(em.generation_exact_match(instance.reference, output))
        if any(m in ROUGE or m == "jury" for m in self.metrics):
            # HELM's ROUGE is the best match over every reference, the incorrect ones included.
            golds = [g for g in (instance.reference, *instance.extra.get(MHELM_INCORRECT, ())) if g]
            per_gold = [scorers.rouge_l(replace(instance, reference=g), output, ctx) for g in golds]
            result.update({m: max((s[m] for s in per_gold), default=0.0) for m in ROUGE})
        return result

    def beside_jury(self) -> _Scorer | None:
        """The metrics computed beside a configured jury: those listed besides ``jury`` itself
        (its ROUGE stand-in is not computed when the judges score)."""
        rest = tuple(m for m in self.metrics if m != "jury")
        return _Scorer(rest) if rest else None


# -- the benchmark ---------------------------------------------------------------------------------


def _place(path: Path, root: yaml.Node, spec: Definition) -> tuple[str, str]:
    """(category id, subcategory name), checked against MedHELM's taxonomy."""
    if spec.category.strip().lower() == CUSTOM:
        return CUSTOM, spec.subcategory.strip()
    taxonomy = load_taxonomy()
    wanted = spec.category.strip().lower()
    category = next((c for c in taxonomy.categories if wanted in (c.id, c.name.lower())), None)
    if category is None:
        valid = ", ".join(c.id for c in taxonomy.categories)
        raise DefinitionError(
            f"unknown category {spec.category!r}; use one of {valid}, or {CUSTOM}",
            file=path,
            line=_line_of(root, ["category"]),
            field="category",
        )
    sub = next((s for s in category.subcategories if slug(spec.subcategory) == s.id), None)
    if sub is None:
        elsewhere = next((s for s in taxonomy.subcategories if slug(spec.subcategory) == s.id), None)
        hint = (
            f"it belongs to category {elsewhere.category}"
            if elsewhere
            else "use one of: " + "; ".join(s.name for s in category.subcategories)
        )
        raise DefinitionError(
            f"{spec.subcategory!r} is not a subcategory of {category.name}: {hint}",
            file=path,
            line=_line_of(root, ["subcategory"]),
            field="subcategory",
        )
    return category.id, sub.name


def _check_name(path: Path, root: yaml.Node, name: str) -> None:
    taxonomy = load_taxonomy()
    builtin = {b for s in taxonomy.subcategories for b in s.benchmarks}
    markers = _RESERVED | {c.id for c in taxonomy.categories} | {s.id for s in taxonomy.subcategories}
    if name in builtin or name in markers:
        what = "a built-in MedHELM benchmark" if name in builtin else "a marker every item may carry"
        raise DefinitionError(
            f"{name!r} is {what}; choose another name", file=path, line=_line_of(root, ["name"]), field="name"
        )


def load_user_benchmark(path: Path) -> UserBenchmark:
    """Read and check a ``*.medhelm.yaml`` file; raises DefinitionError or DataError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"cannot read ({exc})", file=path) from None
    root = _compose(path, text)
    spec = _validate(path, root, yaml.safe_load(text))
    _check_name(path, root, spec.name)
    category, subcategory = _place(path, root, spec)

    def fail(message: str, field: str, line: int | None = None) -> DefinitionError:
        return DefinitionError(message, file=path, line=line or _line_of(root, [field]), field=field)

    data = path.parent / spec.data
    if data.suffix.lower() not in (".csv", ".jsonl"):
        raise fail(f"the data must be a .csv or .jsonl file, not {data.name!r}", "data")
    if not data.is_file():
        raise fail(f"data file not found: {data}", "data")
    columns = data_columns(data)
    try:
        fields = tuple(dict.fromkeys(_fields(spec.prompt)))
    except ValueError as exc:
        raise fail(f"malformed template ({exc}); write {{{{ and }}}} for literal braces", "prompt") from None
    for name in fields:
        if not re.fullmatch(r"[^.\[\]!:]+", name):
            raise fail(f"{{{name}}} is not a plain column name", "prompt", _template_line(root, spec.prompt, name))
        if name not in columns:
            raise fail(
                f"unknown column {{{name}}}: {data.name} has {', '.join(columns)}",
                "prompt",
                _template_line(root, spec.prompt, name),
            )
    for field in ("id_column", "reference"):
        column = getattr(spec, field)
        if column is not None and column not in columns:
            raise fail(f"unknown column {column!r}: {data.name} has {', '.join(columns)}", field)

    metrics = tuple(m.name for m in spec.metrics)
    jury_only = set(metrics) == {"jury"}
    reference = spec.reference or (MHELM_GOLD if MHELM_GOLD in columns else None)
    if reference is None and not jury_only:
        raise fail(f"no gold answer: name its column with `reference:` (or add a {MHELM_GOLD} column)", "reference")
    main = "rouge_l" if metrics[0] == "jury" else metrics[0]
    jury = next((m for m in spec.metrics if m.name == "jury"), None)
    return UserBenchmark(
        id=spec.name,
        name=spec.display_name or spec.name,
        category=category,
        subcategory=subcategory,
        access=spec.access,
        source=Source(
            upstream=f"user-defined: {data}",
            how_to_get=f"The data file named in {path} (data:).",
            read_local=RowReader(data, spec.prompt, fields, reference, spec.id_column, needs_gold=not jury_only),
            local_files=(data, path),
        ),
        to_instance=to_instance,
        prompt=Prompt(instructions=spec.instructions.strip()),
        scorer=_Scorer(metrics),
        main_metric=main,
        max_tokens=spec.max_tokens,
        pass_at=spec.pass_at if spec.pass_at is not None else (1.0 if main == "exact_match" else 0.5),
        open_ended=main != "exact_match",
        jury_metric=JURY_METRIC if metrics[0] == "jury" else None,
        description=spec.description,
        definition_file=path,
        data_file=data,
        metrics=metrics,
        jury=JuryConfig(tuple(jury.rubric.items()), tuple(jury.judges), (0.0, float(jury.max_score)))
        if jury is not None and jury.rubric
        else None,
    )


__all__ = ["DefinitionError", "JuryConfig", "SUFFIX", "UserBenchmark", "is_user_benchmark", "load_user_benchmark"]
