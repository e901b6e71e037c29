"""Every public benchmark's requests, built from HELM's wheel, against HELM's own adapter output.

HELM's code is the oracle (the ``helm_oracle`` fixture: crfm-helm 0.5.16 in its own environment):
its run spec, scenario (downloads redirected to the ../shared/data rows), downsampling, adapter
and OpenAI client produce the request bodies; ours come from the same mirror through the plugin's
loaders, prompts and provider. Every body must be byte-identical (as JSON text), instance for
instance (the comparison is of multisets: HELM numbers instances itself).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pytest_medhelm import helm
from pytest_medhelm.data import DataSettings, load
from pytest_medhelm.evaluate import request_for
from pytest_medhelm.models import ModelRegistry
from pytest_medhelm.models.providers import build_call
from pytest_medhelm.suites import all_benchmarks

pytestmark = pytest.mark.needs_shared_data
CHAT_MODEL = "gpt-4o-2024-05-13"


def test_every_public_request_is_byte_identical_to_helms(shared_data: Path, helm_oracle) -> None:
    package = helm.use(shared_data)
    assert package is not None, "the mirror's wheel must be found"
    try:
        public = {
            b.id: b for b in all_benchmarks() if b.access == "public" and (shared_data / b.id / "test.jsonl").is_file()
        }
        assert len(public) >= 14
        theirs = helm_oracle.request_bodies(
            shared_data, {i: b.helm_prompt for i, b in public.items()}, model_engine=CHAT_MODEL
        )
        model = (
            ModelRegistry.load()
            .resolve(CHAT_MODEL)
            .model_copy(update={"base_url": "http://127.0.0.1:9/v1", "params": {}})
        )
        compared = 0
        for benchmark_id, benchmark in sorted(public.items()):
            helm_side = theirs[benchmark_id]
            assert "error" not in helm_side, f"{benchmark_id}: HELM's oracle failed:\n{helm_side.get('error')}"
            loaded = load(benchmark, DataSettings(data_dir=shared_data), cap=1000)
            ours = Counter(json.dumps(build_call(model, request_for(benchmark, i)).body) for i in loaded.instances)
            expected = Counter(helm_side["bodies"])
            only_ours, only_helm = sorted((ours - expected).elements()), sorted((expected - ours).elements())
            assert not only_ours and not only_helm, (
                f"{benchmark_id}: {len(only_ours)} of our {sum(ours.values())} requests differ from HELM's; "
                f"first of ours: {only_ours[:1]!r}\nfirst of HELM's: {only_helm[:1]!r}"
            )
            compared += sum(expected.values())
        assert compared == 2041  # every instance of the mirror
    finally:
        helm.use(None)
