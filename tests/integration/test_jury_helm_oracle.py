"""The jury against HELM 0.5.16's own code: the same answers and the same judge replies give the same
requests (prompt byte for byte, temperature, max tokens, no stop sequences, one completion) and the
same MedHELM score, for every jury benchmark. HELM runs in its own environment (the
``helm_oracle`` fixture's) running ``helm_jury_oracle.py``; our side reads HELM's prompts from the wheel in the data mirror.

Answers, questions and judge replies are our own made-up text.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_medhelm.engine import Completion, ModelError
from pytest_medhelm.jury import Judge, Jury
from pytest_medhelm.jury.prompts import helm_judges, helm_prompt
from pytest_medhelm.models import ModelRegistry

pytestmark = pytest.mark.needs_shared_data

ORACLE = Path(__file__).with_name("helm_jury_oracle.py")
JURY_BENCHMARKS = (
    "aci_bench",
    "chw_care_plan",
    "dischargeme",
    "med_dialog",
    "medalign",
    "medi_qa",
    "medication_qa",
    "mental_health",
    "mimic_bhc",
    "mimic_rrs",
    "mtsamples_procedures",
    "mtsamples_replicate",
    "starr_patient_instructions",
)


def obj(**scores: Any) -> dict[str, Any]:
    return {name: {"score": score, "explanation": f"{name}: because"} for name, score in scores.items()}


def replies_for(criteria: list[str], variant: int) -> dict[str, str | None]:
    a, b, c = criteria
    good = json.dumps(obj(**{a: 4, b: 3, c: 5}))
    variants = [
        {"gpt": good, "llama": json.dumps(obj(**{a: 2, b: 2, c: 3})), "claude": "```json\n" + good + "\n```"},
        # truncated object (HELM appends one brace), a trailing comma (HELM drops it), a failed call
        {"gpt": good[:-1], "llama": good.replace("}}", "},}"), "claude": None},
        # non-integer and string scores, a copied 0 placeholder, an extra key
        {
            "gpt": json.dumps(obj(**{a: 3.9, b: "4", c: 0})),
            "llama": json.dumps({**obj(**{a: 5, b: 5, c: 5}), "overall": {"score": 1}}),
            "claude": "Scores: " + json.dumps(obj(**{a: 1, b: 1, c: 2})) + " -- done",
        },
        # nothing usable: HELM's default
        {"gpt": "I cannot grade this.", "llama": json.dumps(obj(**{a: 4, b: 4})), "claude": None},
    ]
    return variants[variant % len(variants)]


ANSWERS = [
    "Assessment: likely viral URI. Plan: fluids, rest; return if $symptoms worsen.",
    "Patient reports {pain} 7/10 — café visit; “quotes” and \\backslashes\\ kept.",
    "   ",  # whitespace only: not judged
    "Line one.\n\nLine two with ${braces} and $$ signs.",
]


class ScriptedEngine:
    """Answers each judge with its scripted reply and records what it was asked (no HTTP here:
    the wire format is tested against the test server elsewhere)."""

    def __init__(self, replies: dict[str, str | None], keys: dict[str, str]) -> None:
        self.replies, self.keys, self.requests = replies, keys, []

    async def complete(self, model: Any, request: Any, *, budgeted: bool = False) -> Completion:
        self.requests.append((self.keys[model.name], request))
        reply = self.replies.get(self.keys[model.name])
        if reply is None:
            raise ModelError("scripted failure")
        return Completion(model.name, reply, 10, 10, 0.0, False, 0.0)


def test_requests_and_scores_equal_helms_annotator_and_metric(shared_data: Path, helm_oracle: Any) -> None:
    python = helm_oracle.python
    helm_judge_list = helm_judges(shared_data)
    registry = ModelRegistry.load()
    jury = Jury([Judge(j.name, registry.resolve(j.model)) for j in helm_judge_list], repair=False)
    keys = {judge.model.name: judge.key for judge in jury.judges}
    assert [j.key for j in jury.judges] == ["gpt", "llama", "claude"]

    cases, ours = [], []
    for index, benchmark in enumerate(JURY_BENCHMARKS):
        prompt = helm_prompt(benchmark, shared_data)
        criteria = sorted(prompt.criteria)
        for offset, answer in enumerate(ANSWERS):
            replies = replies_for(criteria, index + offset)
            question = f"Case {index}: dialogue with $QUESTION-like text and {{GOLD_RESPONSE}} braces."
            gold = "" if benchmark == "chw_care_plan" and offset % 2 else f"Reference for case {index}."
            cases.append(
                {"benchmark": benchmark, "question": question, "answer": answer, "gold": gold, "replies": replies}
            )
            engine = ScriptedEngine(replies, keys)
            result = asyncio.run(jury.judge(engine, prompt, question=question, answer=answer, gold=gold))
            ours.append((result, engine.requests))

    done = subprocess.run(
        [str(python), str(ORACLE)], input=json.dumps(cases), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    helm = json.loads(done.stdout)
    assert len(helm) == len(cases)
    for case, theirs, (result, requests) in zip(cases, helm, ours):
        label = f"{case['benchmark']} answer={case['answer'][:20]!r}"
        assert len(requests) == len(theirs["requests"]), label
        for (key, request), sent in zip(requests, theirs["requests"]):
            judge = next(j for j in helm_judge_list if j.name == key)
            assert sent["model"] == judge.model, label
            assert request.prompt.encode() == sent["prompt"].encode(), label  # byte for byte
            assert (request.max_tokens, request.temperature) == (sent["max_tokens"], sent["temperature"]), label
            assert request.stop == tuple(sent["stop_sequences"]) and sent["num_completions"] == 1, label
        assert result.score == pytest.approx(theirs["score"], abs=1e-12), label
        assert sorted(v.judge for v in result.verdicts if v.usable) == theirs["kept"], label
