"""Whose words a session sends, and that every output says so.

With HELM's package in the mirror (``DIR/helm/``) the requests carry HELM's prompt and its
client's body fields; without it our own wording is used and the table, results.json and JUnit say
``own``; a wheel with another hash stops the session before anything runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties

from medhelm_sessions import Medhelm
from pytest_medhelm import helm
from pytest_medhelm.benchmark import Prompt
from pytest_medhelm.testserver import TestServer


def _properties(path: Path) -> list[dict[str, str]]:
    return [
        {prop.name: prop.value for prop in case.child(Properties)}
        for suite in JUnitXml.fromfile(str(path))
        for case in suite
    ]


def test_without_helms_package_every_output_says_own_wording(medhelm: Medhelm) -> None:
    run = medhelm.run_subprocess("--medhelm-model=baseline-extractive", *medhelm.ONLY_PUBMED, "--junitxml=junit.xml")
    results = medhelm.results()
    assert results.benchmarks["pubmed_qa"].prompt_source == "own"
    assert {row.prompt_source for row in results.instances} == {"own"}
    assert any("not comparable to MedHELM" in note and "pubmed_qa" in note for note in results.notes)
    run.stdout.re_match_lines(
        [r"pubmed_qa\s+exact_match\s+", r"prompts own: pubmed_qa$", r"note: HELM's package .*not found.*pubmed_qa"]
    )
    assert {props.get("medhelm.prompt_source") for props in _properties(medhelm.path / "junit.xml")} == {"own"}


def test_with_helms_package_the_requests_are_helms(medhelm: Medhelm, shared_data: Path) -> None:
    wheel = shared_data / "helm" / helm.WHEEL_NAME
    if not wheel.is_file():
        pytest.skip(f"needs HELM's wheel at {wheel}")
    (medhelm.data / "helm").mkdir()
    shutil.copy(wheel, medhelm.data / "helm" / wheel.name)
    with TestServer() as server:
        run = medhelm.run_subprocess(
            f"--medhelm-model=local@{server.url}", *medhelm.ONLY_PUBMED, "--junitxml=junit.xml"
        )
        bodies = server.requests
    results = medhelm.results()
    assert results.benchmarks["pubmed_qa"].prompt_source == "helm-0.5.16"
    assert not any("not comparable" in note for note in results.notes)
    run.stdout.re_match_lines([r"pubmed_qa\s+exact_match\s+", r"prompts helm-0\.5\.16: pubmed_qa$"])
    assert {props.get("medhelm.prompt_source") for props in _properties(medhelm.path / "junit.xml")} == {"helm-0.5.16"}

    adapter = helm.adapter_strings(helm.HelmPackage.open(wheel), "pubmed_qa")
    assert len(bodies) == len(medhelm.IDS)
    for body in bodies:
        prompt = body["messages"][0]["content"]
        assert prompt.startswith(adapter.instructions + "\n\n")
        assert prompt.endswith("\n" + Prompt.from_helm(adapter).output_noun + ":")
        assert {
            k: body[k]
            for k in ("temperature", "top_p", "n", "stop", "max_tokens", "presence_penalty", "frequency_penalty")
        } == {
            "temperature": 0.0,
            "top_p": 1,
            "n": 1,
            "stop": None,
            "max_tokens": adapter.max_tokens,
            "presence_penalty": 0,
            "frequency_penalty": 0,
        }


def test_a_wheel_with_another_hash_stops_the_session(medhelm: Medhelm) -> None:
    (medhelm.data / "helm").mkdir()
    impostor = medhelm.data / "helm" / helm.WHEEL_NAME
    impostor.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip: not HELM's wheel
    run = medhelm.run_subprocess("--medhelm-model=baseline-extractive", *medhelm.ONLY_PUBMED)
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    err = run.stderr.str()
    assert str(impostor) in err and helm.WHEEL_SHA256 in err and "sha256 is" in err
    assert not (medhelm.path / "medhelm-results" / "results.json").exists()
