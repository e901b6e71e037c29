"""``medhelm prompts ID``: the exact text one instance would be sent, and whose words they are;
``medhelm download`` fetching HELM's package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_medhelm import cli, helm
from pytest_medhelm.helm.prompts import forget


@pytest.fixture(autouse=True)
def _fresh_choice() -> None:
    forget()
    yield
    forget()


def synthetic_mirror(root: Path) -> Path:
    record = {
        "pmid": "7001",
        "QUESTION": "Synthetic question?",
        "CONTEXTS": ["Synthetic context."],
        "LABELS": ["METHODS"],
        "final_decision": "no",
    }
    (root / "pubmed_qa").mkdir(parents=True)
    (root / "pubmed_qa" / "test.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_prompts_without_helms_package_print_our_wording_and_say_so(tmp_path: Path, capsys) -> None:
    from pytest_medhelm.suites.medical_research import test_pubmed_qa

    mirror = synthetic_mirror(tmp_path)
    status, out, _ = run(capsys, "prompts", "pubmed_qa", "--data-dir", str(mirror), "--json")
    shown = json.loads(out)
    assert status == 0 and shown["prompt_source"] == "own" and shown["instance"] == "7001"
    assert shown["prompt"].startswith(test_pubmed_qa.BENCHMARK.prompt.instructions + "\n\n")
    assert "Context: Methods. Synthetic context.\n\nQuestion: Synthetic question?\n\nA. yes" in shown["prompt"]
    status, out, _ = run(capsys, "prompts", "pubmed_qa", "--data-dir", str(mirror))
    assert status == 0 and "prompt source: own (our own wording" in out
    between = out.split("between these lines) -----\n", 1)[1].rsplit("\n----- end of prompt -----", 1)[0]
    assert between == shown["prompt"]


def test_prompts_with_the_real_mirror_show_helms_words(shared_data: Path, capsys) -> None:
    if helm.find_wheel(shared_data) is None:
        pytest.skip("needs HELM's wheel in the mirror")
    status, out, _ = run(capsys, "prompts", "med_qa", "--data-dir", str(shared_data), "--json")
    shown = json.loads(out)
    adapter = helm.adapter_strings(helm.locate(shared_data), "medhelm_med_qa")
    assert status == 0 and shown["prompt_source"] == "helm-0.5.16" and shown["helm_run_spec"] == "medhelm_med_qa"
    assert shown["prompt"].startswith(adapter.instructions + "\n\nQuestion: ")
    assert shown["prompt"].endswith(f"\n{adapter.output_noun}:")
    assert (shown["max_tokens"], shown["temperature"], shown["stop"]) == (adapter.max_tokens, 0.0, [])


def test_prompts_refuse_unknown_ids_and_a_wrong_wheel(tmp_path: Path, capsys) -> None:
    mirror = synthetic_mirror(tmp_path)
    status, _, err = run(capsys, "prompts", "no_such_benchmark", "--data-dir", str(mirror))
    assert status == 2 and "unknown benchmark 'no_such_benchmark'" in err
    status, _, err = run(capsys, "prompts", "pubmed_qa", "--data-dir", str(mirror), "--instance", "404")
    assert status == 1 and "no instance '404'" in err
    (mirror / "helm").mkdir()
    (mirror / "helm" / helm.WHEEL_NAME).write_bytes(b"not a wheel")
    status, _, err = run(capsys, "prompts", "pubmed_qa", "--data-dir", str(mirror))
    assert status == 2 and helm.WHEEL_SHA256 in err and str(mirror / "helm" / helm.WHEEL_NAME) in err


def test_download_fetches_helms_package_by_name(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Path] = []

    def fake_download(target: Path) -> Path:  # pip and the index are tested in test_helm_reader
        asked.append(target)
        if len(asked) > 1:
            raise helm.HelmPackageError("pip download crfm-helm==0.5.16 failed: no network")
        return target / helm.WHEEL_NAME

    monkeypatch.setattr(helm, "download_wheel", fake_download)
    status, out, _ = run(capsys, "download", "--to", str(tmp_path), "helm")
    assert status == 0 and asked == [tmp_path / "helm"] and str(tmp_path / "helm" / helm.WHEEL_NAME) in out
    status, _, err = run(capsys, "download", "--to", str(tmp_path), "helm")
    assert status == 1 and "helm: FAILED: pip download" in err
