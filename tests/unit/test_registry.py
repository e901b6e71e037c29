"""The model registry: the paper's models built in, names and aliases, ad-hoc local servers, a
user's file merged over the built-in one, and errors that point at the line to fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_medhelm.models import ModelConfig, ModelRegistry, RegistryError
from pytest_medhelm.models.registry import Price, read_registry_file

PAPER_MODELS = {
    "gpt-4o-2024-05-13",
    "gpt-4o-mini-2024-07-18",
    "o3-mini-2025-01-31",
    "claude-3-7-sonnet-20250219",
    "claude-3-5-sonnet-20241022",
    "gemini-1.5-pro-001",
    "gemini-2.0-flash-001",
    "llama-3.3-70b-instruct",
    "deepseek-r1",
}
# MedHELM's jury: GPT-4o, Claude 3.7 Sonnet and Llama 3.3 70B.
JUDGES = {"gpt-4o-2024-05-13", "claude-3-7-sonnet-20250219", "llama-3.3-70b-instruct"}
LOCAL = "http://127.0.0.1:8000/v1"


@pytest.fixture(scope="module")
def builtin() -> ModelRegistry:
    return ModelRegistry.load()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


# -- the built-in registry --------------------------------------------------------------------------


def test_the_builtin_registry_holds_the_papers_models_the_jury_and_the_baselines(builtin: ModelRegistry) -> None:
    assert {m.name for m in builtin if "paper" in m.roles} == PAPER_MODELS
    assert {m.name for m in builtin.judges()} == JUDGES
    assert all("judge" in m.roles for m in builtin.judges())
    assert {m.name for m in builtin if m.provider == "baseline"} == {"baseline-random", "baseline-extractive"}
    assert len(builtin.names()) == 11


def test_every_paid_model_has_an_endpoint_a_key_variable_and_a_dated_price(builtin: ModelRegistry) -> None:
    for model in builtin:
        if model.provider == "baseline":
            continue
        assert model.base_url and model.base_url.startswith("https://"), model.name
        assert model.api_key_env, model.name
        assert model.price is not None and model.price.as_of, model.name


def test_reasoning_models_get_4000_tokens_and_their_provider_quirks(builtin: ModelRegistry) -> None:
    o3, r1, gpt4o = (builtin.resolve(name) for name in ("o3-mini", "deepseek-r1", "gpt-4o-2024-05-13"))
    assert o3.reasoning is not None and o3.reasoning.openai_o_params and o3.output_budget(1) == 4000
    assert r1.reasoning is not None and r1.reasoning.strip_think and r1.output_budget(1) == 4000
    assert gpt4o.reasoning is None and gpt4o.output_budget(1) == 1


# -- resolving names ----------------------------------------------------------------------------------


def test_an_alias_resolves_to_its_model(builtin: ModelRegistry) -> None:
    assert builtin.resolve("o3-mini").name == "o3-mini-2025-01-31"
    assert builtin.resolve("claude-3.7-sonnet").name == "claude-3-7-sonnet-20250219"


def test_an_unknown_name_is_an_error_that_says_how_to_add_it(builtin: ModelRegistry) -> None:
    with pytest.raises(RegistryError, match="unknown model 'gpt-5'.*--medhelm-models-file.*NAME@http"):
        builtin.resolve("gpt-5")


def test_name_at_url_is_an_ad_hoc_openai_compatible_model(builtin: ModelRegistry) -> None:
    model = builtin.resolve(f"meta-llama/Llama-3.1-8B@{LOCAL}/")

    assert model.name == "meta-llama/Llama-3.1-8B"  # the endpoint is kept in base_url only
    assert (model.provider, model.model, model.base_url) == ("openai", "meta-llama/Llama-3.1-8B", LOCAL)
    assert model.api_key_env is None and model.price is None  # a local server: no key, no bill


def test_a_known_name_at_url_keeps_the_model_and_changes_only_the_endpoint(builtin: ModelRegistry) -> None:
    model = builtin.resolve(f"o3-mini@{LOCAL}")
    original = builtin.resolve("o3-mini")

    assert model.base_url == LOCAL and model.name == "o3-mini"
    assert model.model == original.model and model.reasoning == original.reasoning
    assert builtin.resolve("o3-mini").base_url == "https://api.openai.com/v1"  # the entry is not changed


@pytest.mark.parametrize("spec", ["llama@127.0.0.1:8000", "llama@ftp://127.0.0.1/v1"])
def test_name_at_something_not_http_is_refused(builtin: ModelRegistry, spec: str) -> None:
    with pytest.raises(RegistryError, match="NAME@http"):
        builtin.resolve(spec)


# -- a user's file --------------------------------------------------------------------------------------


def test_a_user_file_adds_models_and_overrides_builtin_ones_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        models:
          - name: gpt-4o-2024-05-13          # the paper's model, through the hospital's gateway
            provider: openai
            model: gpt-4o-2024-05-13
            base_url: https://gateway.hospital.example/v1
            api_key_env: GATEWAY_KEY
            rate_limit: {{max_concurrency: 4, requests_per_minute: 120}}
            retry: {{max_attempts: 3, base_delay_s: 0.5}}
            timeout_s: 60
          - name: llama-local
            provider: openai
            model: meta-llama/Llama-3.3-70B-Instruct
            base_url: {LOCAL}
            params: {{top_p: 1.0}}
    """,
    )

    registry = ModelRegistry.load(path)

    gateway = registry.resolve("gpt-4o-2024-05-13")
    assert (gateway.base_url, gateway.api_key_env, gateway.timeout_s) == (
        "https://gateway.hospital.example/v1",
        "GATEWAY_KEY",
        60.0,
    )
    assert (gateway.rate_limit.max_concurrency, gateway.rate_limit.requests_per_minute) == (4, 120)
    assert gateway.retry is not None and (gateway.retry.max_attempts, gateway.retry.base_delay_s) == (3, 0.5)
    assert gateway.price is None  # replaced as a whole, not merged field by field
    assert registry.resolve("llama-local").params == {"top_p": 1.0}
    assert len(registry.names()) == 12  # the other built-in models are still there
    assert registry.resolve("o3-mini").name == "o3-mini-2025-01-31"


def test_errors_name_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        models:
          - name: fine
            provider: openai
            model: x
          - name: wrong-provider
            provider: azure
            model: y
          - name: negative-price
            provider: openai
            model: z
            price:
              input_per_mtok: -1.0
              output_per_mtok: 2.0
              as_of: "2026-01-01"
          - name: typo
            provider: openai
            model: w
            max_concurency: 4
    """,
    )

    with pytest.raises(RegistryError) as failure:
        read_registry_file(path)

    lines = str(failure.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}, line 6, models[1], field 'provider'")
    assert lines[1].startswith(f"{path}, line 12, models[2], field 'price.input_per_mtok'")
    assert "greater than or equal to 0" in lines[1]
    assert lines[2].startswith(f"{path}, line 18, models[3], field 'max_concurency'")


def test_a_missing_field_points_at_its_entry(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        models:
          - name: ok
            provider: openai
            model: x
          - name: no-provider
            model: y
    """,
    )
    with pytest.raises(RegistryError, match=r"line 5, models\[1\], field 'provider': Field required"):
        read_registry_file(path)


def test_broken_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        models:
          - name: ok
            provider: [openai
    """,
    )
    with pytest.raises(RegistryError, match=rf"{path.name}, line \d+: not valid YAML"):
        read_registry_file(path)


def test_a_user_file_error_stops_loading(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        models:
          - name: x
            provider: openai
            model: x
            timeout_s: 0
    """,
    )
    with pytest.raises(RegistryError, match="field 'timeout_s'"):
        ModelRegistry.load(path)


# -- prices --------------------------------------------------------------------------------------------


def test_prices_per_million_tokens_give_the_cost(builtin: ModelRegistry) -> None:
    gpt4o = builtin.resolve("gpt-4o-2024-05-13")  # $5 in, $15 out per million tokens
    assert gpt4o.cost(1_000_000, 500_000) == pytest.approx(12.5)
    assert gpt4o.cost(1200, 300) == pytest.approx((1200 * 5.0 + 300 * 15.0) / 1e6)
    assert builtin.resolve("baseline-random").cost(10_000, 10_000) == 0.0


def test_a_model_without_a_price_costs_nothing() -> None:
    model = ModelConfig(name="local", provider="openai", model="m", base_url=LOCAL)
    assert model.cost(5000, 5000) == 0.0
    priced = model.model_copy(update={"price": Price(input_per_mtok=0.5, output_per_mtok=1.5, as_of="2026-01-01")})
    assert priced.cost(2_000_000, 1_000_000) == pytest.approx(2.5)
