"""The judge prompt of a benchmark: HELM's own (read from its wheel), or built from a YAML rubric.

A built-in benchmark's template and criteria are ``PROMPT_TEMPLATE`` and ``ANNOTATION_CRITERIA``
of ``helm/benchmark/annotation/<benchmark>_annotator.py`` in the crfm-helm 0.5.16 wheel, and the
default judges are ``helm/benchmark/scenarios/medhelm/judges.yaml``; all are read at run time
through :mod:`pytest_medhelm.helm` (never copied here). The text each judge receives is built as
``LLMAsJuryAnnotator._interpolate_prompt`` builds it (spec 3.2): the literal ``{QUESTION}``,
``{RESPONSE}`` and ``{GOLD_RESPONSE}`` become ``$QUESTION``-style names, filled with
``string.Template.substitute``; the filled text is not parsed again.

A ``*.medhelm.yaml`` benchmark's prompt is ours, in the same layout: the input, the response and
the gold answer in tagged blocks, one line per rubric criterion with its guiding question, the
JSON shape to answer in, and the rubric inside ``<rubric_criteria>`` as HELM's configurable
benchmark expects of a judge prompt file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

# What HELM sends every judge (LLMAsJuryAnnotator._annotate_with_model).
JUDGE_MAX_TOKENS = 4096
JUDGE_TEMPERATURE = 0.0
# LLMJuryMetric's default_score in every MedHELM run spec (1.0), and in the configurable benchmark (0.0).
HELM_DEFAULT_SCORE = 1.0
HELM_SCALE = (1.0, 5.0)
REQUIRED_KEYS = ("score", "explanation")


class JuryPromptError(Exception):
    """A judge prompt that cannot be built (HELM's package absent or without this benchmark)."""


@dataclass(frozen=True)
class JuryPrompt:
    """A benchmark's judge prompt template and criteria, and how its numbers are read."""

    template: str
    # criterion -> keys its object must hold (HELM's ANNOTATION_CRITERIA, sets as sorted tuples)
    criteria: Mapping[str, tuple[str, ...]]
    default_score: float = HELM_DEFAULT_SCORE
    scale: tuple[float, float] = HELM_SCALE
    source: str = ""

    def render(self, question: str, response: str, gold: str) -> str:
        text = (
            self.template.replace("{QUESTION}", "$QUESTION")
            .replace("{RESPONSE}", "$RESPONSE")
            .replace("{GOLD_RESPONSE}", "$GOLD_RESPONSE")
        )
        return Template(text).substitute({"QUESTION": question, "RESPONSE": response, "GOLD_RESPONSE": gold})


@dataclass(frozen=True)
class HelmJudge:
    """One entry of HELM's judges file: short name (the annotation key), model, deployment."""

    name: str
    model: str
    deployment: str


def _package(data_dir: Path | None) -> Any:
    from pytest_medhelm.helm import HelmPackageError, locate

    try:
        package = locate(data_dir)
    except HelmPackageError as exc:
        raise JuryPromptError(str(exc)) from None
    if package is None:
        where = f"{data_dir}/helm/ or " if data_dir is not None else ""
        raise JuryPromptError(
            "MedHELM's judge prompts are read from HELM's released package (crfm-helm 0.5.16 wheel), "
            f"which is not in {where}the download cache: put crfm_helm-0.5.16-py3-none-any.whl there "
            "(pip download crfm-helm==0.5.16 --no-deps)"
        )
    return package


def helm_prompt(benchmark_id: str, data_dir: Path | None = None, *, package: Any = None) -> JuryPrompt:
    """HELM's judge prompt for a built-in benchmark (its annotator module in the wheel)."""
    package = package if package is not None else _package(data_dir)
    member = f"helm/benchmark/annotation/{benchmark_id}_annotator.py"
    try:
        module = package.module(member)
        template = module.assignment("PROMPT_TEMPLATE")
        criteria = module.assignment("ANNOTATION_CRITERIA")
    except Exception as exc:  # noqa: BLE001 - the reader's errors name the file
        raise JuryPromptError(f"{benchmark_id}: no judge prompt in HELM's package ({exc})") from None
    if not isinstance(template, str) or not isinstance(criteria, dict):
        raise JuryPromptError(f"{member}: PROMPT_TEMPLATE or ANNOTATION_CRITERIA is not a constant")
    return JuryPrompt(
        template, {key: tuple(sorted(value)) for key, value in criteria.items()}, source=f"helm-0.5.16:{member}"
    )


def helm_judges(data_dir: Path | None = None, *, package: Any = None) -> list[HelmJudge]:
    """MedHELM's judges, in the order of HELM's judges file."""
    from pytest_medhelm.helm import judges

    package = package if package is not None else _package(data_dir)
    data = judges(package)
    return [HelmJudge(str(j["name"]), str(j["model"]), str(j["model_deployment"])) for j in data["judges"]]


# -- a user benchmark's rubric: our own words, HELM's layout ------------------------------------------


def rubric_prompt(
    rubric: Mapping[str, str], scale: tuple[float, float], *, source: str = "", default_score: float = 0.0
) -> JuryPrompt:
    low, high = (int(v) if float(v).is_integer() else v for v in scale)
    criteria_lines = "\n\n".join(f"{name} ({low}-{high})\n- {question}" for name, question in rubric.items())
    shape = json.dumps({name: {"score": low, "explanation": "Why this score."} for name in rubric}, indent=4)
    rubric_json = json.dumps({name: list(REQUIRED_KEYS) for name in rubric})
    template = (
        "You are a clinical expert grading a model's answer to a task.\n"
        "The task is given in these tags:\n<user_request>\n{QUESTION}\n</user_request>\n"
        "The model's answer is given in these tags:\n<response>\n{RESPONSE}\n</response>\n"
        "A reference answer is given in these tags:\n<gold_response>\n{GOLD_RESPONSE}\n</gold_response>\n"
        "Read the <response> against the <user_request>, and compare it with the <gold_response> where useful.\n\n"
        f"Rate the response on each criterion below from {low} (worst) to {high} (best), with a brief reason.\n\n"
        f"Criteria:\n{criteria_lines}\n\n"
        f"<rubric_criteria>\n{rubric_json}\n</rubric_criteria>\n\n"
        f"Answer with one JSON object of this shape and nothing else:\n{shape}\n"
        'Use double quotes for keys and strings, and escape any double quote inside an explanation (\\").\n'
    )
    # The criteria names may hold "$" or braces: the template must survive string.Template as is.
    template = template.replace("$", "$$")
    return JuryPrompt(
        template, {name: REQUIRED_KEYS for name in rubric}, default_score=default_score, scale=scale, source=source
    )


def repair_prompt(criteria: Sequence[str], scale: tuple[float, float], problem: str, reply: str) -> str:
    """Our one follow-up to a judge whose reply could not be used (``jury_score_repaired`` only)."""
    low, high = scale
    shape = json.dumps({name: {"score": int(low), "explanation": "..."} for name in criteria})
    return (
        f"Your evaluation below could not be read ({problem}). Return the same evaluation as a single "
        f"valid JSON object with exactly these keys, each score a whole number from {low:g} to {high:g}, "
        f"and nothing else:\n{shape}\n\nYour evaluation:\n{reply}"
    )
