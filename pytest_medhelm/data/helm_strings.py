"""The sentences of HELM's scenario modules that go inside an instance's text (SHC templates and
the like), read from HELM's released package at run time and never typed into our source.

The package is the one chosen for prompts (``pytest_medhelm.helm``); without it, a suite module
falls back to its own wording, and its prompts are then reported as ``own``.
"""

from __future__ import annotations

from typing import Any


def scenario_string(module: str, qualname: str | None, name: str) -> Any:
    """``name`` in HELM's ``helm/benchmark/scenarios/<module>.py``: a local of function ``qualname``
    (``Class.method``), or a module or class assignment when ``qualname`` is None; None without
    HELM's package. A :class:`~pytest_medhelm.helm.Template` comes back for an f-string."""
    try:
        from pytest_medhelm.helm.prompts import scenario_value  # the package the session chose
    except ImportError:
        from pytest_medhelm.helm import locate, scenario

        package = locate(None)  # the download cache
        if package is None:
            return None
        strings = scenario(package, module)
        return strings.assignment(name) if qualname is None else strings.function(qualname)[name]
    return scenario_value(module, qualname, name)
