"""HELM's released package as upstream data: MedHELM's own strings, read from the crfm-helm wheel.

The narrow interface the rest of pytest-medhelm uses:

* :func:`locate` -- the verified :class:`HelmPackage` for a mirror folder (or the download
  cache), or None when there is no wheel (prompts then use our own wording, and say so); a wheel
  with the wrong sha256 raises :class:`HelmPackageError` naming the file and both hashes;
* :meth:`HelmPackage.module` -- the strings of any ``.py`` file in the wheel (module and class
  assignments, function locals, calls with their keyword arguments, argument defaults), e.g. a
  scenario's instance template or an annotator's ``PROMPT_TEMPLATE`` and ``ANNOTATION_CRITERIA``;
* :func:`use` / :func:`active` / :func:`source` -- the package this process uses for prompts
  (chosen once with the data mirror), and ``helm-0.5.16`` or ``own``;
  :func:`scenario_value` -- a scenario's string for a suite module, None without the package;
* :func:`adapter_strings` -- one run spec's instructions, nouns, max tokens, temperature and
  stop sequences;
* :func:`scenario` / :func:`annotator` -- shorthands for ``helm/benchmark/scenarios/<name>.py``
  and ``helm/benchmark/annotation/<name>.py``; :func:`judges` -- ``judges.yaml``, parsed.
"""

from __future__ import annotations

from typing import Any

from pytest_medhelm.helm.extract import Call, Expr, Field, ModuleStrings, Template
from pytest_medhelm.helm.prompts import active, scenario_value, source, use
from pytest_medhelm.helm.runspecs import AdapterStrings, adapter_strings
from pytest_medhelm.helm.wheel import (
    HELM_VERSION,
    PROMPT_SOURCE,
    WHEEL_NAME,
    WHEEL_SHA256,
    HelmPackage,
    HelmPackageError,
    download_wheel,
    find_wheel,
    locate_wheel,
    verify,
)

OWN_SOURCE = "own"
JUDGES_FILE = "helm/benchmark/scenarios/medhelm/judges.yaml"

locate = locate_wheel


def scenario(package: HelmPackage, name: str) -> ModuleStrings:
    """``helm/benchmark/scenarios/<name>.py``, e.g. ``scenario(p, "race_based_med_scenario")``."""
    return package.module(f"helm/benchmark/scenarios/{name}.py")


def annotator(package: HelmPackage, name: str) -> ModuleStrings:
    """``helm/benchmark/annotation/<name>.py``, e.g. ``annotator(p, "aci_bench_annotator")``."""
    return package.module(f"helm/benchmark/annotation/{name}.py")


def judges(package: HelmPackage) -> Any:
    """MedHELM's default jury (``judges.yaml``), parsed."""
    import yaml

    return yaml.safe_load(package.read_text(JUDGES_FILE))


__all__ = [
    "HELM_VERSION",
    "JUDGES_FILE",
    "OWN_SOURCE",
    "PROMPT_SOURCE",
    "WHEEL_NAME",
    "WHEEL_SHA256",
    "AdapterStrings",
    "Call",
    "Expr",
    "Field",
    "HelmPackage",
    "HelmPackageError",
    "ModuleStrings",
    "Template",
    "active",
    "adapter_strings",
    "annotator",
    "download_wheel",
    "find_wheel",
    "judges",
    "locate",
    "locate_wheel",
    "scenario",
    "scenario_value",
    "source",
    "use",
    "verify",
]
