"""--medhelm-estimate in real sessions: one figure, printed once, in one process or under xdist,
with the jury's expected calls beside the model's; nothing is ever sent."""

from __future__ import annotations

import pytest

from medhelm_sessions import Medhelm
from pytest_medhelm.jury.prompts import JUDGE_MAX_TOKENS
from pytest_medhelm.testserver import TestServer
from test_plugin_budget import NOTES, PRICED, write_notes

JUDGES = (
    PRICED
    + """\
  - name: judge2
    provider: openai
    model: judge-2
    price: {input_per_mtok: 300.0, output_per_mtok: 400.0, as_of: "2026-01-01"}
"""
)


def estimate_block(result: pytest.RunResult) -> list[str]:
    """The estimate's lines as printed, from its title to the end of its totals."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "MedHELM cost estimate (nothing was sent)" in line)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("expected total:"))
    return lines[start : end + 2]


def run_estimate(medhelm: Medhelm, server: TestServer, *extra: str) -> pytest.RunResult:
    result = medhelm.run_subprocess(
        f"--medhelm-models-file={medhelm.models_file(JUDGES)}",
        f"--medhelm-model=priced@{server.url}",
        "notes.medhelm.yaml",
        "--medhelm-estimate",
        *extra,
        timeout=120,
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    return result


def test_the_estimate_under_xdist_is_one_process_estimate_with_the_jury_and_nothing_is_sent(
    medhelm: Medhelm, server: TestServer
) -> None:
    write_notes(medhelm)
    jury = f"--medhelm-jury=judge@{server.url},judge2@{server.url}"

    one = run_estimate(medhelm, server, jury)
    two = run_estimate(medhelm, server, jury, "-n", "2")

    assert server.stats.requests == 0
    assert estimate_block(two) == estimate_block(one)
    assert sum("MedHELM cost estimate" in line for line in two.outlines) == 1  # printed once, by the controller
    rows = {(row[0], row[1]): row for row in (line.split() for line in estimate_block(one)) if len(row) == 6}
    assert rows[("priced", "note_quality")][2] == str(len(NOTES))
    model = rows[("priced", "note_quality")]
    for judge, (input_price, output_price) in {"judge": (100.0, 200.0), "judge2": (300.0, 400.0)}.items():
        # One line per judge of the jury-scored benchmark: a call per item, each reading the judge
        # prompt and the answer at its longest, and writing the judge's max tokens.
        line = next(line for line in estimate_block(one) if f"(jury: {judge})" in line)
        items, input_tokens, output_tokens, usd = line.split()[-4:]
        assert int(items) == len(NOTES) and int(output_tokens) == len(NOTES) * JUDGE_MAX_TOKENS
        assert int(input_tokens) > int(model[4])  # more than the answers alone (30 tokens each)
        expected = (int(input_tokens) * input_price + int(output_tokens) * output_price) / 1e6
        assert float(usd) == pytest.approx(expected, abs=1e-4) and float(usd) > 0
    jury_total = next(line for line in estimate_block(one) if line.startswith("of which the jury: $"))
    assert float(jury_total.rsplit("$", 1)[1]) > 0


def test_without_a_jury_the_estimate_has_no_jury_line(medhelm: Medhelm, server: TestServer) -> None:
    write_notes(medhelm)
    result = run_estimate(medhelm, server, "--medhelm-jury", "none", "-n", "2")
    block = estimate_block(result)
    assert server.stats.requests == 0
    assert any(line.startswith("priced") and "note_quality" in line for line in block)
    assert not any("jury" in line for line in block)
