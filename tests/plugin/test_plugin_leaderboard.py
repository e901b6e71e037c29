"""The leaderboard from real sessions: outputs, no patient text outside results.json, shards merged
by ``medhelm leaderboard``, the budget stop and the estimate."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from junitparser import JUnitXml

from medhelm_sessions import Medhelm
from pytest_medhelm import cli
from pytest_medhelm.leaderboard.junit import properties_of
from pytest_medhelm.results import ResultsFile
from pytest_medhelm.testserver import TestServer

MODELS = ("--medhelm-model=baseline-extractive", "--medhelm-model=baseline-random")
PATIENT_TEXT = "Synthetic"  # every prompt of the mirror holds it


def leaderboard_part(results: ResultsFile) -> dict[str, object]:
    """What a merge must reproduce: everything computed from the instances (not times or argv)."""
    data = results.model_dump()
    keep = (
        "models",
        "benchmarks",
        "subcategories",
        "categories",
        "totals",
        "instances",
        "win_rates",
        "category_intervals",
        "subcategory_intervals",
        "custom",
        "data_files",
        "skipped",
    )
    for row in data["instances"]:
        row.pop("latency_s")  # wall time of the call: differs between any two runs
    return {key: data[key] for key in keep}


def test_two_models_write_every_output_and_patient_text_only_in_results_json(medhelm: Medhelm) -> None:
    # A model whose answers hold patient text (it repeats the note back; one token: max_tokens is 1).
    with TestServer(responder=lambda request: f"{PATIENT_TEXT}-note-repeated-back") as server:
        args = (
            f"--medhelm-model=echo@{server.url}",
            "--medhelm-model=baseline-random",
            *medhelm.ONLY_PUBMED,
            "--junitxml=junit.xml",
        )
        result = medhelm.run(*args)
    out = medhelm.path / "medhelm-results"

    results = medhelm.results()
    assert results.schema_version == 2 and results.plugin_version
    given = medhelm.args(*args)
    assert [arg for arg in results.command_line if arg in given] == given  # pytester adds --basetemp
    assert results.started and results.finished and results.started <= results.finished
    assert results.model_info["echo"].base_url == server.url.rstrip("/") and results.models == [
        "echo",
        "baseline-random",
    ]
    source = medhelm.data / "pubmed_qa" / "test.jsonl"
    assert results.data_files == {"pubmed_qa": {"test.jsonl": hashlib.sha256(source.read_bytes()).hexdigest()}}
    echoed = [row for row in results.instances if row.model == "echo"]
    assert len(echoed) == 6 and all(row.output == f"{PATIENT_TEXT}-note-repeated-back" for row in echoed)
    assert all(row.reference in {"yes", "no", "maybe"} for row in results.instances)

    overall = results.win_rates["overall"]
    assert {overall[m].value for m in results.models} <= {0.0, 0.5, 1.0}
    assert all(overall[m].interval is not None for m in results.models)
    (comparison,) = results.benchmarks["pubmed_qa"].comparisons
    assert (comparison.a, comparison.b, comparison.method) == ("echo", "baseline-random", "mcnemar_exact")
    assert 0 < comparison.p_value <= 1 and not comparison.significant  # six instances decide nothing
    echo = results.benchmarks["pubmed_qa"].scores["echo"]
    assert echo.interval is not None and echo.interval[0] <= echo.score <= echo.interval[1]

    markdown = (out / "leaderboard.md").read_text()
    assert "| rank | model | mean win rate |" in markdown and "≈" in markdown
    summary = JUnitXml.fromfile(str(out / "medhelm-summary.xml"))
    cases = {case.name: dict(properties_of(case)) for suite in summary for case in suite}
    assert set(cases) == {"pubmed_qa[echo]", "pubmed_qa[baseline-random]"}
    assert float(cases["pubmed_qa[echo]"]["score"]) == pytest.approx(echo.score)
    assert cases["pubmed_qa[echo]"]["n"] == "6"
    assert (float(cases["pubmed_qa[echo]"]["ci_low"]), float(cases["pubmed_qa[echo]"]["ci_high"])) == pytest.approx(
        echo.interval
    )

    for name in ("leaderboard.md", "report.html", "medhelm-summary.xml"):
        assert PATIENT_TEXT not in (out / name).read_text(), name
    junit = (medhelm.path / "junit.xml").read_text()
    assert PATIENT_TEXT not in junit and "medhelm.text." not in junit and "medhelm.score" in junit
    assert PATIENT_TEXT not in result.stdout.str() and server.url not in result.stdout.str()


def test_shards_merge_into_the_unsharded_result(medhelm: Medhelm, capsys: pytest.CaptureFixture[str]) -> None:
    medhelm.run(*MODELS, *medhelm.ONLY_PUBMED, "--medhelm-output=whole")
    for index in (1, 2, 3):
        medhelm.run(
            *MODELS,
            *medhelm.ONLY_PUBMED,
            f"--medhelm-output=shard{index}",
            f"--medhelm-shard={index}/3",
            f"--junitxml=shard{index}.xml",
        )
    whole = ResultsFile.read(medhelm.path / "whole" / "results.json")
    shards = [ResultsFile.read(medhelm.path / f"shard{i}" / "results.json") for i in (1, 2, 3)]
    assert [len(s.instances) for s in shards] == [4, 4, 4] and [s.shard for s in shards] == ["1/3", "2/3", "3/3"]
    ids = [{r.instance_id for r in s.instances} for s in shards]
    assert set.union(*ids) == set(medhelm.IDS) and not ids[0] & ids[1] and not ids[1] & ids[2]

    status = cli.main(
        [
            "leaderboard",
            *(str(medhelm.path / f"shard{i}" / "results.json") for i in (3, 1, 2)),
            "--output",
            str(medhelm.path / "merged"),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    merged = ResultsFile.read(medhelm.path / "merged" / "results.json")
    assert leaderboard_part(merged) == leaderboard_part(whole)
    assert "# MedHELM leaderboard" in out and (medhelm.path / "merged" / "report.html").is_file()

    # The same from the shards' per-item JUnit files (no outputs there: compare the numbers).
    status = cli.main(
        [
            "leaderboard",
            *(str(medhelm.path / f"shard{i}.xml") for i in (1, 2, 3)),
            "--output",
            str(medhelm.path / "from-junit"),
        ]
    )
    capsys.readouterr()
    assert status == 0
    from_junit = ResultsFile.read(medhelm.path / "from-junit" / "results.json")
    assert from_junit.benchmarks == whole.benchmarks and from_junit.win_rates == whole.win_rates

    # A missing shard is reported, not silently taken for the whole run.
    status = cli.main(
        ["leaderboard", str(medhelm.path / "shard1" / "results.json"), "--output", str(medhelm.path / "partial")]
    )
    _, err = capsys.readouterr()
    assert status == 1 and "mismatch: shards of 3: 2/3, 3/3 missing" in err


def test_merging_files_that_disagree_is_an_error_naming_both(
    medhelm: Medhelm, capsys: pytest.CaptureFixture[str]
) -> None:
    medhelm.run("--medhelm-model=baseline-extractive", *medhelm.ONLY_PUBMED, "--medhelm-output=a")
    medhelm.write_pubmed([(pmid, gold, "maybe") for pmid, gold, _ in medhelm.ROWS])  # other answers now
    medhelm.run("--medhelm-model=baseline-extractive", *medhelm.ONLY_PUBMED, "--medhelm-output=b", "--medhelm-no-cache")
    a, b = (str(medhelm.path / name / "results.json") for name in ("a", "b"))

    status = cli.main(["leaderboard", a, b, "--output", str(medhelm.path / "merged")])

    _, err = capsys.readouterr()
    assert status == 2
    assert re.search(
        r"pubmed_qa instance '\d+' on baseline-extractive scores [\d.]+ in .*a/results\.json and "
        r"[\d.]+ in .*b/results\.json",
        err,
    )
    assert not (medhelm.path / "merged").exists()


def test_runs_on_different_subsets_are_reported(medhelm: Medhelm, capsys: pytest.CaptureFixture[str]) -> None:
    medhelm.run("--medhelm-model=baseline-extractive", *medhelm.ONLY_PUBMED, "--medhelm-output=a")
    medhelm.run(
        "--medhelm-model=baseline-random", *medhelm.ONLY_PUBMED, "--medhelm-output=b", "--medhelm-max-instances=3"
    )

    status = cli.main(
        [
            "leaderboard",
            *(str(medhelm.path / n / "results.json") for n in "ab"),
            "--output",
            str(medhelm.path / "merged"),
        ]
    )

    _, err = capsys.readouterr()
    assert status == 1
    assert (
        "mismatch: pubmed_qa: the models were run on different instances (baseline-extractive 6, "
        "baseline-random 3; 3 shared)" in err
    )
    merged = ResultsFile.read(medhelm.path / "merged" / "results.json")
    assert any(note.startswith("mismatch: pubmed_qa") for note in merged.notes)
    assert merged.benchmarks["pubmed_qa"].comparisons[0].n == 3


def test_a_bad_file_is_named(medhelm: Medhelm, capsys: pytest.CaptureFixture[str]) -> None:
    bad = medhelm.path / "results.json"
    bad.write_text('{"schema_version": 2, "models": []}')
    assert cli.main(["leaderboard", str(bad)]) == 2
    assert f"{bad}: not a results.json file" in capsys.readouterr().err
    assert cli.main(["leaderboard", str(medhelm.path / "absent.json")]) == 2
    assert "absent.json: no such file" in capsys.readouterr().err


PRICED = """\
models:
  - name: priced
    provider: openai
    model: priced-1
    price: {input_per_mtok: 1000.0, output_per_mtok: 2000.0, as_of: "2026-01-01"}
"""


def test_the_budget_stops_new_requests_and_the_run_says_so(medhelm: Medhelm, server: TestServer) -> None:
    path = medhelm.models_file(PRICED)
    result = medhelm.run(
        f"--medhelm-models-file={path}",
        f"--medhelm-model=priced@{server.url}",
        *medhelm.ONLY_PUBMED,
        "--medhelm-budget=0.000001",
        "--medhelm-concurrency=1",
        "-rs",
    )

    results = medhelm.results()
    sent = server.stats.requests
    assert 1 <= sent < 6  # the first calls were under way before any cost was known
    assert results.budget["not_run"] == 6 - sent and len(results.instances) == sent
    assert results.budget["stopped"] is True and results.budget["spent_usd"] >= 0.000001
    assert results.budget["spent_usd"] == pytest.approx(sum(r.cost_usd for r in results.instances))
    result.assert_outcomes(
        skipped=6 - sent,
        passed=sum(r.passed for r in results.instances),
        failed=sent - sum(r.passed for r in results.instances),
    )
    result.stdout.fnmatch_lines(
        [
            f"medhelm: budget $1e-06 spent ($*): {6 - sent} items were not run",
            "SKIPPED*not run: the --medhelm-budget of $1e-06 is spent*",
        ]
    )
    # The reports open with it: their scores are not the whole selection's.
    banner = f"The --medhelm-budget of $1e-06 was spent: {6 - sent} items were not run."
    assert banner in (medhelm.path / "medhelm-results" / "leaderboard.md").read_text().split("\n\n")[1]


def test_a_zero_budget_sends_nothing(medhelm: Medhelm, server: TestServer) -> None:
    path = medhelm.models_file(PRICED)
    medhelm.run(
        f"--medhelm-models-file={path}",
        f"--medhelm-model=priced@{server.url}",
        *medhelm.ONLY_PUBMED,
        "--medhelm-budget=0",
    )
    assert server.stats.requests == 0 and medhelm.results().budget["not_run"] == 6


def test_estimate_prints_the_expected_cost_and_sends_nothing(medhelm: Medhelm, server: TestServer) -> None:
    path = medhelm.models_file(PRICED)
    result = medhelm.run(
        f"--medhelm-models-file={path}",
        f"--medhelm-model=priced@{server.url}",
        *medhelm.ONLY_PUBMED,
        "--medhelm-estimate",
    )

    assert server.stats.requests == 0 and result.ret == pytest.ExitCode.OK
    assert not medhelm.results().instances
    result.stdout.fnmatch_lines(["*MedHELM cost estimate (nothing was sent)*"])
    row = next(line.split() for line in result.outlines if line.startswith("priced ") and "pubmed_qa" in line)
    items, input_tokens, output_tokens, usd = int(row[2]), int(row[3]), int(row[4]), float(row[5])
    assert items == 6 and input_tokens > 6 * 20
    assert usd == pytest.approx((input_tokens * 1000.0 + output_tokens * 2000.0) / 1e6, abs=1e-4)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3/2", "*--medhelm-shard: expected I/N with 1 <= I <= N*got '3/2'*"),
        ("half", "*--medhelm-shard: expected I/N*got 'half'*"),
    ],
)
def test_a_bad_shard_is_a_usage_error(medhelm: Medhelm, value: str, message: str) -> None:
    result = medhelm.run(*MODELS, f"--medhelm-shard={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_xdist_tx_popen_workers_give_the_single_process_leaderboard(medhelm: Medhelm) -> None:
    # `--tx popen` stands in for `--tx ssh=user@host//python=...` (other machines): the controller
    # gathers every worker's reports and aggregates once, exactly as without xdist.
    medhelm.run(*MODELS, *medhelm.ONLY_PUBMED, "--medhelm-output=one")
    result = medhelm.run_subprocess(
        *MODELS,
        *medhelm.ONLY_PUBMED,
        "--medhelm-output=tx",
        "--tx",
        "popen",
        "--tx",
        "popen",
        "--dist",
        "load",
        timeout=120,
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    one = ResultsFile.read(medhelm.path / "one" / "results.json")
    tx = ResultsFile.read(medhelm.path / "tx" / "results.json")
    assert leaderboard_part(tx) == leaderboard_part(one)
    assert Path(medhelm.path / "tx" / "report.html").is_file()


def test_include_text_puts_outputs_in_the_report_when_asked(medhelm: Medhelm) -> None:
    with TestServer(responder=lambda request: f"{PATIENT_TEXT}-note-repeated-back") as server:
        medhelm.run(
            f"--medhelm-model=echo@{server.url}", *medhelm.ONLY_PUBMED, "--medhelm-include-text", "--junitxml=junit.xml"
        )
    assert f"{PATIENT_TEXT}-note-repeated-back" in (medhelm.path / "medhelm-results" / "report.html").read_text()
    assert f"{PATIENT_TEXT}-note-repeated-back" in (medhelm.path / "junit.xml").read_text()
