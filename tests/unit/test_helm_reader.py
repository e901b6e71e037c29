"""The reader of HELM's released package: finding the wheel, refusing a wrong hash, extracting strings.

Unit tests run on a small wheel built here with our own sentences; the last tests read the real
crfm-helm wheel from ../shared/data (skipped without it) and check structure, not wording.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from pytest_medhelm import helm
from pytest_medhelm.helm import HelmPackage, HelmPackageError, Template
from pytest_medhelm.helm.extract import read_module
from pytest_medhelm.helm.runspecs import ADAPTER_SPECS_FILE, RUN_SPECS_FILE

BUILDERS = """
def format_instructions(instructions):
    return instructions + "\\n" if instructions else instructions

def get_multiple_choice_joint_adapter_spec(instructions, input_noun, output_noun, max_tokens=5, **kwargs):
    return AdapterSpec(instructions=format_instructions(instructions), max_tokens=max_tokens,
                       temperature=0.0, stop_sequences=["\\n"], **kwargs)

def get_multiple_choice_adapter_spec(method, instructions, input_noun, output_noun, max_tokens=1, **kwargs):
    return get_multiple_choice_joint_adapter_spec(instructions, input_noun, output_noun, max_tokens=max_tokens)

def get_generation_adapter_spec(instructions="", input_noun=None, newline_after_input_noun=False,
                                output_noun=None, max_tokens=5, stop_sequences=None, temperature=0.0):
    if stop_sequences is None:
        stop_sequences = ["\\n"]
    return AdapterSpec(instructions=instructions, max_tokens=max_tokens, stop_sequences=stop_sequences,
                       temperature=temperature)
"""

RUN_SPECS = """
@run_spec_function("toy_choice")
def get_toy_choice_spec() -> RunSpec:
    adapter_spec = get_multiple_choice_adapter_spec(
        method=ADAPT_MULTIPLE_CHOICE_JOINT,
        instructions="Pick the fruit that is " "yellow.",
        input_noun="Basket",
        output_noun="Letter",
    )
    return RunSpec(adapter_spec=adapter_spec)


@run_spec_function("toy_notes")
def get_toy_notes_spec(colour: str) -> RunSpec:
    shade = colour.lower()
    adapter_spec = get_generation_adapter_spec(
        instructions=f"Describe a {shade} fruit in {2 + 1} words.",
        input_noun=None,
        output_noun="Description",
        max_tokens=40,
        stop_sequences=[],
    )
    return RunSpec(adapter_spec=adapter_spec)


@run_spec_function("toy_default_stop")
def get_toy_default_stop_spec() -> RunSpec:
    adapter_spec = get_generation_adapter_spec(instructions="Name a fruit.", output_noun="Fruit")
    return RunSpec(adapter_spec=adapter_spec)
"""

SCENARIO = '''
from typing import Dict, Set
import textwrap

GREETING = "Hello, " + "grocer."
CRITERIA: Dict[str, Set[str]] = {"ripeness": {"score"}, "taste": {"score"}}
TEMPLATE = """Fruit: {fruit}
Price: {price}"""
DEDENTED = textwrap.dedent("""
    first line
      second line
""")


class ToyScenario(Scenario):
    name = "toy"
    PREAMBLE = "Read the label. "

    def build(self, row):
        prompt = f"Is {row['fruit']!r} ripe?\\n{row['note']:>5}"
        formatted = "{a} and {b}".format(a=1, b=2)
        return Input(text=prompt, prefix="Label: ")

    def nothing(self, limit: int = 3, *, mode: str = "fast"):
        return limit
'''

JUDGES = "judges:\n  - name: first\n    model: lab/model-one\n  - name: second\n    model: lab/model-two\n"


def build_wheel(folder: Path, name: str = helm.WHEEL_NAME, extra: dict[str, str] | None = None) -> tuple[Path, str]:
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(ADAPTER_SPECS_FILE, BUILDERS)
        archive.writestr(RUN_SPECS_FILE, RUN_SPECS)
        archive.writestr("helm/benchmark/scenarios/toy_scenario.py", SCENARIO)
        archive.writestr(helm.JUDGES_FILE, JUDGES)
        for member, text in (extra or {}).items():
            archive.writestr(member, text)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def toy(tmp_path: Path) -> HelmPackage:
    path, digest = build_wheel(tmp_path)
    return HelmPackage.open(path, expected_sha256=digest, cache_dir=tmp_path / "cache")


def test_a_wheel_with_another_hash_is_refused_naming_file_and_both_hashes(tmp_path: Path) -> None:
    path, digest = build_wheel(tmp_path)
    with pytest.raises(HelmPackageError) as refused:
        HelmPackage.open(path)  # the pinned hash of the real crfm-helm 0.5.16 wheel
    message = str(refused.value)
    assert str(path) in message and digest in message and helm.WHEEL_SHA256 in message


def test_locate_refuses_a_mirror_wheel_with_another_hash(tmp_path: Path) -> None:
    (tmp_path / "helm").mkdir()
    path, digest = build_wheel(tmp_path / "helm")
    with pytest.raises(HelmPackageError, match=digest):
        helm.locate(tmp_path)


def test_no_wheel_anywhere_means_no_package(tmp_path: Path) -> None:
    assert helm.find_wheel(tmp_path) is None
    assert helm.locate(tmp_path) is None


def test_the_mirror_is_searched_before_the_download_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "helm").mkdir(parents=True)
    cached, _ = build_wheel(home / "helm")
    monkeypatch.setenv("MEDHELM_HOME", str(home))
    assert helm.find_wheel(None) == cached
    (tmp_path / "mirror" / "helm").mkdir(parents=True)
    mirrored, _ = build_wheel(tmp_path / "mirror" / "helm")
    assert helm.find_wheel(tmp_path / "mirror") == mirrored


def test_run_spec_of_a_multiple_choice_benchmark(toy: HelmPackage) -> None:
    spec = helm.adapter_strings(toy, "toy_choice")
    assert spec.multiple_choice and spec.function == "get_toy_choice_spec"
    assert spec.instructions == "Pick the fruit that is yellow."  # implicit concatenation joined
    assert (spec.input_noun, spec.output_noun) == ("Basket", "Letter")
    # The outer builder's default (1) wins over the joint builder's (5); the AdapterSpec constants apply.
    assert (spec.max_tokens, spec.temperature, spec.stop_sequences) == (1, 0.0, ("\n",))


def test_run_spec_of_a_generation_benchmark_with_an_f_string(toy: HelmPackage) -> None:
    spec = helm.adapter_strings(toy, "toy_notes")
    assert not spec.multiple_choice
    assert isinstance(spec.instructions, Template)
    assert spec.instructions.fields == ("shade", "2 + 1")
    assert spec.instructions.fill({"shade": "green", "2 + 1": 3}) == "Describe a green fruit in 3 words."
    assert (spec.input_noun, spec.output_noun, spec.max_tokens, spec.stop_sequences) == (None, "Description", 40, ())
    assert helm.adapter_strings(toy, "toy_default_stop").stop_sequences == ("\n",)  # the builder's None -> ["\n"]


def test_an_unknown_run_spec_names_the_file_and_the_known_ones(toy: HelmPackage) -> None:
    with pytest.raises(KeyError, match="no run spec 'toy_missing'.*toy_choice"):
        helm.adapter_strings(toy, "toy_missing")


def test_a_template_fill_without_every_field_says_which(toy: HelmPackage) -> None:
    with pytest.raises(KeyError, match="shade"):
        helm.adapter_strings(toy, "toy_notes").instructions.fill({"2 + 1": 3})


def test_scenario_strings(toy: HelmPackage) -> None:
    module = helm.scenario(toy, "toy_scenario")
    assert module.assignment("GREETING") == "Hello, grocer."
    assert module.assignment("CRITERIA") == {"ripeness": ["score"], "taste": ["score"]}
    assert module.assignment("ToyScenario.PREAMBLE") == "Read the label. "
    assert module.assignment("DEDENTED") == "\nfirst line\n  second line\n"
    assert Template.from_format(module.assignment("TEMPLATE")).fill(fruit="fig", price=2) == "Fruit: fig\nPrice: 2"
    prompt = module.function("ToyScenario.build")["prompt"]
    assert prompt.fill({"row['fruit']": "fig", "row['note']": "ok"}) == "Is 'fig' ripe?\n   ok"
    assert module.function("ToyScenario.build")["formatted"].fields == ("a", "b")
    (call,) = module.calls_to("ToyScenario.build", "Input")
    assert call.kwargs["prefix"] == "Label: "
    assert module.defaults["ToyScenario.nothing"] == {"limit": 3, "mode": "fast"}
    assert "Read the label. " in module.strings
    with pytest.raises(KeyError, match="toy_scenario.py: no function 'ToyScenario.missing'"):
        module.function("ToyScenario.missing")


def test_judges_and_raw_files(toy: HelmPackage) -> None:
    assert [j["name"] for j in helm.judges(toy)["judges"]] == ["first", "second"]
    with pytest.raises(HelmPackageError, match="no file helm/nowhere.py"):
        toy.module("helm/nowhere.py")


def test_extraction_is_cached_by_the_wheels_hash(tmp_path: Path) -> None:
    path, digest = build_wheel(tmp_path)
    cache = tmp_path / "cache"
    first = HelmPackage.open(path, expected_sha256=digest, cache_dir=cache).module(RUN_SPECS_FILE)
    (entry,) = cache.glob(f"{digest}-v*/*.json")
    assert json.loads(entry.read_text())["run_specs"]["toy_choice"] == "get_toy_choice_spec"
    # A second package object reads the cache, not the zip: prove it by editing the cached entry.
    data = json.loads(entry.read_text())
    data["run_specs"]["from_cache"] = "x"
    entry.write_text(json.dumps(data))
    again = HelmPackage.open(path, expected_sha256=digest, cache_dir=cache).module(RUN_SPECS_FILE)
    assert "from_cache" in again.run_specs and again.functions == first.functions
    # A damaged entry is rebuilt from the wheel.
    entry.write_text("{not json")
    rebuilt = HelmPackage.open(path, expected_sha256=digest, cache_dir=cache).module(RUN_SPECS_FILE)
    assert "from_cache" not in rebuilt.run_specs and rebuilt.run_specs == first.run_specs


def test_read_module_reports_a_syntax_error_with_the_file_name() -> None:
    with pytest.raises(SyntaxError) as error:
        read_module("helm/broken.py", "def (:\n")
    assert error.value.filename == "helm/broken.py"


def test_download_wheel_pins_the_hash(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    _, digest = build_wheel(
        index,
        extra={
            "crfm_helm-0.5.16.dist-info/METADATA": "Metadata-Version: 2.1\nName: crfm-helm\nVersion: 0.5.16\n",
            "crfm_helm-0.5.16.dist-info/WHEEL": "Wheel-Version: 1.0\n",
            "crfm_helm-0.5.16.dist-info/RECORD": "",
        },
    )
    offline = ("--no-index", "--find-links", str(index))
    with pytest.raises(HelmPackageError, match=f"sha256 is {digest}"):
        helm.download_wheel(tmp_path / "refused", pip_args=offline)
    assert not list((tmp_path / "refused").glob("*.whl"))  # nothing unverified is left behind
    fetched = helm.download_wheel(tmp_path / "mirror" / "helm", expected_sha256=digest, pip_args=offline)
    assert fetched.name == helm.WHEEL_NAME and hashlib.sha256(fetched.read_bytes()).hexdigest() == digest
    with pytest.raises(HelmPackageError, match="failed"):
        helm.download_wheel(tmp_path / "none", pip_args=("--no-index", "--find-links", str(tmp_path / "empty")))


# --- the real wheel ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(shared_data: Path) -> HelmPackage:
    package = helm.locate(shared_data)
    if package is None:
        pytest.skip(f"needs HELM's wheel in {shared_data / 'helm'}")
    return package


def test_real_wheel_every_medhelm_run_spec_reads(real: HelmPackage) -> None:
    names = real.module(RUN_SPECS_FILE).run_specs
    assert len(names) >= 37
    for name in names:
        if name == "medhelm_configurable_benchmark":
            continue  # the user's own benchmark: its prompt comes from the user's config
        spec = helm.adapter_strings(real, name)
        assert spec.max_tokens >= 1
        assert isinstance(spec.instructions, (str, Template))


def test_real_wheel_serves_scenarios_annotators_and_judges(real: HelmPackage) -> None:
    race = helm.scenario(real, "race_based_med_scenario").function("RaceBasedMedScenario.create_benchmark")
    assert race["prompt"].fields == ("question", "response")
    criteria = helm.annotator(real, "aci_bench_annotator").assignment("ANNOTATION_CRITERIA")
    assert criteria and all("score" in keys for keys in criteria.values())
    assert set(
        Template.from_format(helm.annotator(real, "aci_bench_annotator").assignment("PROMPT_TEMPLATE")).fields
    ) >= {"QUESTION", "RESPONSE"}
    assert len(helm.judges(real)["judges"]) == 3
