"""Run HELM 0.5.16's own jury on given answers (executed by a Python that has crfm-helm installed).

Reads JSON cases on stdin: ``[{benchmark, question, answer, gold, replies: {judge: text}}]``. For
each, HELM's annotator class for the benchmark (``<benchmark>_annotator.py``, with the judges of
HELM's ``judges.yaml``) annotates the answer through a stand-in client that records every request
and answers with the scripted reply of that judge; then HELM's ``LLMJuryMetric`` scores the
annotation with MedHELM's default 1.0. Writes JSON on stdout: per case the requests (model,
deployment, prompt, temperature, max_tokens, stop sequences, completions) and the score.
"""

import importlib
import json
import sys

from helm.benchmark.adaptation.request_state import RequestState
from helm.benchmark.metrics.llm_jury_metrics import LLMJuryMetric
from helm.benchmark.run_specs.medhelm_run_specs import get_annotator_models_from_config
from helm.benchmark.scenarios.scenario import Input, Instance, Output, Reference
from helm.common.request import GeneratedOutput, Request, RequestResult


class ScriptedClient:
    def __init__(self, replies, names):
        self.replies, self.names, self.requests = replies, names, []

    def make_request(self, request):
        self.requests.append(
            {
                "model": request.model,
                "model_deployment": request.model_deployment,
                "prompt": request.prompt,
                "temperature": request.temperature,
                "max_tokens": request.max_tokens,
                "stop_sequences": list(request.stop_sequences),
                "num_completions": request.num_completions,
            }
        )
        reply = self.replies.get(self.names[request.model_deployment])
        if reply is None:
            return RequestResult(success=False, embedding=[], completions=[], cached=False, error="scripted failure")
        return RequestResult(success=True, embedding=[], completions=[GeneratedOutput(reply, 0.0, [])], cached=False)


def annotator_class(benchmark):
    module = importlib.import_module(f"helm.benchmark.annotation.{benchmark}_annotator")
    from helm.benchmark.annotation.model_as_judge import LLMAsJuryAnnotator

    found = [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, LLMAsJuryAnnotator) and c is not LLMAsJuryAnnotator
    ]
    assert len(found) == 1, (benchmark, found)
    return found[0]


def run(case):
    models = get_annotator_models_from_config(None)
    names = {info.model_deployment: name for name, info in models.items()}
    client = ScriptedClient(case.get("replies", {}), names)
    annotator = annotator_class(case["benchmark"])(auto_client=client, annotator_models=models)
    references = [Reference(Output(text=case["gold"]), tags=["correct"])] if case["gold"] is not None else []
    instance = Instance(input=Input(text=case["question"]), references=references, split="test", id="case")
    request = Request(model="openai/gpt-4o-2024-05-13", model_deployment="openai/gpt-4o-2024-05-13", prompt="x")
    result = RequestResult(
        success=True, embedding=[], completions=[GeneratedOutput(case["answer"], 0.0, [])], cached=False
    )
    state = RequestState(
        instance=instance,
        reference_index=None,
        request_mode=None,
        train_trial_index=0,
        output_mapping=None,
        request=request,
        result=result,
        num_train_instances=0,
        prompt_truncated=False,
    )
    annotation = annotator.annotate(state)
    state = RequestState(**{**state.__dict__, "annotations": {annotator.name: annotation}})
    metric = LLMJuryMetric(
        metric_name=f"{case['benchmark']}_accuracy",
        scenario_name=annotator.name,
        annotator_models=models,
        default_score=1.0,
    )
    stats = metric.evaluate_generation(None, state, None, "")
    return {"requests": client.requests, "score": stats[0].mean, "kept": sorted(k for k in annotation if k in models)}


if __name__ == "__main__":
    print(json.dumps([run(case) for case in json.load(sys.stdin)]))
