"""HELM's run names, read from a run-spec file as HELM would build them (toy run specs, our own)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from pytest_medhelm.helm import HelmPackage
from pytest_medhelm.helm.runspecs import RUN_SPECS_FILE, model_run_name, run_entry_name

RUN_SPECS = """
@run_spec_function("toy_plain")
def get_toy_plain_spec() -> RunSpec:
    return RunSpec(name="toy-plain", groups=["toy"])


@run_spec_function("toy_subset")
def get_toy_subset_spec(subset: str, jury_config_path: Optional[str] = None) -> RunSpec:
    return RunSpec(name=f"toy,subset={subset}", groups=["toy"])


@run_spec_function("toy_defaults")
def get_toy_defaults_spec(language: str = "en", kind: Union[str, None] = None) -> RunSpec:
    return RunSpec(name=f"toy:language={language},kind={kind}", groups=["toy"])


@run_spec_function("toy_versioned")
def get_toy_versioned_spec(version: Optional[str] = None) -> RunSpec:
    run_spec_name = "toy_v" if version is None else f"toy_v:version={version}"
    return RunSpec(name=run_spec_name, groups=["toy"])
"""


@pytest.fixture
def package(tmp_path: Path) -> HelmPackage:
    path = tmp_path / "toy.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(RUN_SPECS_FILE, RUN_SPECS)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return HelmPackage.open(path, expected_sha256=digest, cache_dir=tmp_path / "cache")


def test_a_constant_name(package: HelmPackage) -> None:
    assert run_entry_name(package, "toy_plain") == "toy-plain"


def test_a_run_fills_the_one_field_without_a_default(package: HelmPackage) -> None:
    assert run_entry_name(package, "toy_subset", "icliniq") == "toy,subset=icliniq"
    with pytest.raises(ValueError, match="run spec 'toy_subset' names its runs by subset"):
        run_entry_name(package, "toy_subset")


def test_defaults_fill_the_name_as_python_would(package: HelmPackage) -> None:
    assert run_entry_name(package, "toy_defaults") == "toy:language=en,kind=None"


def test_a_name_assigned_from_a_conditional(package: HelmPackage) -> None:
    assert run_entry_name(package, "toy_versioned") == "toy_v"


def test_a_run_given_to_a_single_run_spec_is_an_error(package: HelmPackage) -> None:
    with pytest.raises(ValueError, match="has one run, not 'x'"):
        run_entry_name(package, "toy_plain", "x")
    with pytest.raises(KeyError, match="no run spec 'absent'"):
        run_entry_name(package, "absent")


@pytest.mark.parametrize(
    ("name", "model", "expected"),
    [
        ("pubmed_qa", "openai/gpt-4o", "pubmed_qa:model=openai_gpt-4o"),
        ("toy:language=en", "m", "toy:language=en,model=m"),
        ("toy,subset=a", "x/y/z", "toy,subset=a:model=y_z"),  # the last two parts, as HELM keeps
    ],
)
def test_the_model_is_added_as_helms_model_run_expander_does(name: str, model: str, expected: str) -> None:
    assert model_run_name(name, model) == expected
