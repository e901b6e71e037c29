"""Which words are sent: HELM's (read from its package) by default, our own only as a fallback,
and each suite module declares each fact once.

The tests that need HELM's real wheel read it from ../shared/data/helm (skipped without it); the
others run with no wheel anywhere (the isolated MEDHELM_HOME), which is the fallback.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import pytest_medhelm
from pytest_medhelm import Benchmark, Instance, Prompt, Source, helm, scorers
from pytest_medhelm.evaluate import request_for
from pytest_medhelm.helm import Template, adapter_strings
from pytest_medhelm.models import ModelRegistry
from pytest_medhelm.models.providers import ModelRequest, build_call
from pytest_medhelm.suites import SUITES_DIR, all_benchmarks, load_benchmark, suite_files
from pytest_medhelm.taxonomy import load_taxonomy

SAMPLE = Instance(id="s1", input="Synthetic question?", choices=("one", "two"), correct=0)


@pytest.fixture
def no_helm() -> None:
    helm.use(None)  # no mirror, and the test's MEDHELM_HOME holds no wheel
    yield
    helm.use(None)


@pytest.fixture
def real_helm(shared_data: Path) -> helm.HelmPackage:
    package = helm.use(shared_data)
    if package is None:
        pytest.skip(f"needs HELM's wheel in {shared_data / 'helm'}")
    yield package
    helm.use(None)


# --- one place for each fact ---------------------------------------------------------------------


def test_suite_modules_import_only_public_names() -> None:
    public = set(pytest_medhelm.__all__) | {"scorers", "metrics", "helm"}
    for path in suite_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pytest_medhelm"):
                assert node.module == "pytest_medhelm", f"{path.name}: imports from {node.module}"
                assert {a.name for a in node.names} <= public, f"{path.name}: {[a.name for a in node.names]}"
    for name in pytest_medhelm.__all__:
        assert getattr(pytest_medhelm, name) is not None


def test_suite_modules_declare_no_taxonomy_place_and_no_open_ended_defaults() -> None:
    for path in suite_files():
        text = path.read_text()
        for declared in ("category=", "subcategory=", "jury_metric=", "scorer=scorers.rouge_l", "sys._getframe"):
            assert declared not in text, f"{path.name} declares {declared}"


def test_every_benchmark_is_placed_by_the_taxonomy_and_its_suite_folder() -> None:
    taxonomy = load_taxonomy()
    for path in suite_files():
        benchmark = load_benchmark(path)
        category, subcategory = taxonomy.place(benchmark.id)
        assert (benchmark.category, benchmark.subcategory) == (category.id, subcategory.name)
        assert path.parent.name == benchmark.category, f"{path} is not in its category's folder"


def test_open_ended_is_one_declaration() -> None:
    for benchmark in all_benchmarks():
        if benchmark.open_ended:
            assert benchmark.jury_metric == f"{benchmark.id}_accuracy"
            if not benchmark.requires_jury:
                assert (benchmark.scorer, benchmark.main_metric, benchmark.pass_at) == (scorers.rouge_l, "rouge_l", 0.2)
        else:
            assert benchmark.jury_metric is None and benchmark.pass_at <= 1.0


def _toy(**kwargs) -> Benchmark:
    fields = dict(
        id="aci_bench",
        name="Toy",
        access="public",
        source=Source(upstream="nowhere", how_to_get="nowhere"),
        to_instance=lambda r: None,
        prompt=Prompt(),
        max_tokens=5,
    )
    return Benchmark(**{**fields, **kwargs})


def test_a_benchmark_outside_the_taxonomy_must_say_where_it_belongs() -> None:
    with pytest.raises(ValueError, match="'toy_new' is not placed in taxonomy.yaml"):
        _toy(id="toy_new", scorer=scorers.exact, main_metric="exact_match")
    placed = _toy(id="toy_new", category="custom", subcategory="Mine", scorer=scorers.exact, main_metric="exact_match")
    assert (placed.category, placed.subcategory, placed.pass_at) == ("custom", "Mine", 1.0)


def test_a_closed_ended_benchmark_without_a_scorer_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a scorer and a main_metric"):
        _toy()


def test_instance_caches_follow_the_suite_module_not_the_shared_helper() -> None:
    from pytest_medhelm.suites import declaring_module

    for path in suite_files():
        benchmark = load_benchmark(path)
        module = declaring_module(benchmark)
        assert module is not None and Path(module.__file__).resolve() == path.resolve()
    assert SUITES_DIR.is_dir()


# --- the fallback: no HELM package ---------------------------------------------------------------


def test_without_the_wheel_every_benchmark_uses_its_own_wording_and_says_so(no_helm: None) -> None:
    assert helm.source() == "own"
    for benchmark in all_benchmarks():
        assert benchmark.helm_prompt, f"{benchmark.id} names no HELM run spec"
        plan = benchmark.plan()
        assert (plan.source, plan.prompt, plan.max_tokens) == ("own", benchmark.prompt, benchmark.max_tokens)
        assert benchmark.prompt_source == "own"


def test_a_wheel_with_another_hash_stops_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "helm").mkdir()
    (tmp_path / "helm" / helm.WHEEL_NAME).write_bytes(b"not the wheel")
    with pytest.raises(helm.HelmPackageError, match=f"expected {helm.WHEEL_SHA256}"):
        helm.use(tmp_path)


# --- HELM's words by default ---------------------------------------------------------------------


def test_with_the_wheel_every_benchmark_asks_in_helms_words(real_helm: helm.HelmPackage) -> None:
    for benchmark in all_benchmarks():
        adapter = adapter_strings(real_helm, benchmark.helm_prompt)
        plan = benchmark.plan()
        assert plan.source == "helm-0.5.16" and benchmark.prompt_source == "helm-0.5.16"
        assert plan.prompt == Prompt.from_helm(adapter)
        assert plan.max_tokens == adapter.max_tokens == benchmark.max_tokens, benchmark.id
        assert plan.temperature == 0.0
        # HELM's multiple-choice adapter sends no stop sequences; its MedHELM generation specs ask for none.
        assert plan.stop == ()
        if isinstance(adapter.instructions, str) and adapter.instructions:
            instance = Instance(id="x", input="Synthetic.", choices=("a", "b"), correct=0)
            assert request_for(benchmark, instance).prompt.startswith(adapter.instructions + "\n\n")


def test_helm_instruction_templates_fill_from_the_instance(real_helm: helm.HelmPackage) -> None:
    clear = adapter_strings(real_helm, "clear")
    assert isinstance(clear.instructions, Template) and clear.instructions.fields == ("condition_display",)
    prompt = Prompt.from_helm(clear)
    text = prompt.render(
        Instance(
            id="c",
            input="Synthetic note.",
            choices=("a", "b", "c"),
            correct=0,
            extra={"condition_display": "synthetic condition"},
        )
    )
    assert "synthetic condition" in text.split("\n\n")[0]


def test_race_based_med_instance_text_is_helms_template(real_helm: helm.HelmPackage) -> None:
    from pytest_medhelm.suites.medical_research import test_race_based_med as race

    record = {"Question": "Synthetic Q?", "Response": "Synthetic R.", "True/False": "True"}
    with_helm = race.to_instance(record)
    template = helm.scenario(real_helm, "race_based_med_scenario").function("RaceBasedMedScenario.create_benchmark")[
        "prompt"
    ]
    assert with_helm.input == template.fill(question="Synthetic Q?", response="Synthetic R.")
    helm.use(None)
    own = race.to_instance(record)
    assert own.input != with_helm.input and own.id == with_helm.id  # the id does not depend on the wording


# --- the request body ----------------------------------------------------------------------------


def test_openai_body_has_helms_fields_in_helms_order() -> None:
    registry = ModelRegistry.load()
    chat = registry.resolve("gpt-4o-2024-05-13").model_copy(update={"base_url": "http://127.0.0.1:9/v1", "params": {}})
    body = build_call(chat, ModelRequest(prompt="P", max_tokens=7)).body
    assert list(body) == [
        "model",
        "messages",
        "temperature",
        "top_p",
        "n",
        "stop",
        "max_tokens",
        "presence_penalty",
        "frequency_penalty",
    ]
    assert json.dumps({k: body[k] for k in list(body)[2:]}) == (
        '{"temperature": 0.0, "top_p": 1, "n": 1, "stop": null, "max_tokens": 7, '
        '"presence_penalty": 0, "frequency_penalty": 0}'
    )
    assert build_call(chat, ModelRequest(prompt="P", max_tokens=7, stop=("\n",))).body["stop"] == ["\n"]
    o3 = registry.resolve("o3-mini").model_copy(update={"base_url": "http://127.0.0.1:9/v1", "params": {}})
    body = build_call(o3, ModelRequest(prompt="P", max_tokens=7)).body
    assert body == {
        "model": o3.model,
        "messages": [{"role": "user", "content": "P"}],
        "n": 1,
        "max_completion_tokens": 4000,
    }
