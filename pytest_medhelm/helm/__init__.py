"""HELM's released package as upstream data: MedHELM's own strings, read from the crfm-helm wheel.

The narrow interface the rest of pytest-medhelm uses:

* :func:`locate` -- the verified :class:`HelmPackage` for a mirror folder (or the download
  cache), or None when there is no wheel (prompts then use our own wording, and say so); a wheel
  with the wrong sha256 raises :class:`HelmPackageError` naming the file and both hashes;
* :meth:`HelmPackage.module` -- the strings of any ``.py`` file in the wheel (module and class
  assignments, function locals, calls with their keyword arguments, argument defaults), e.g. a
  scenario's instance template or an annotator's ``PROMPT_TEMPLATE`` and ``ANNOTATION_CRITERIA``;
* :func:`adapter_strings` -- one run spec's instructions, nouns, max tokens, temperature and
  stop sequences;
* :func:`scenario` / :func:`annotator` -- shorthands for ``helm/benchmark/scenarios/<name>.py``
  and ``helm/benchmark/annotation/<name>.py``; :func:`judges` -- ``judges.yaml``, parsed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_medhelm.helm.extract import Call, Expr, Field, ModuleStrings, Template
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
    verify,
)

OWN_SOURCE = "own"
JUDGES_FILE = "helm/benchmark/scenarios/medhelm/judges.yaml"

_opened: dict[tuple[str, ...], HelmPackage | None] = {}


def locate(data_dir: Path | str | None = None) -> HelmPackage | None:
    """The pinned wheel from ``data_dir/helm/`` or the download cache, opened once per process."""
    path = find_wheel(Path(data_dir) if data_dir is not None else None)
    key = (str(data_dir), str(path))
    if key not in _opened:
        _opened[key] = HelmPackage.open(path) if path is not None else None
    return _opened[key]


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
    "HELM_VERSION", "JUDGES_FILE", "OWN_SOURCE", "PROMPT_SOURCE", "WHEEL_NAME", "WHEEL_SHA256",
    "AdapterStrings", "Call", "Expr", "Field", "HelmPackage", "HelmPackageError", "ModuleStrings", "Template",
    "adapter_strings", "annotator", "download_wheel", "find_wheel", "judges", "locate", "scenario", "verify",
]
