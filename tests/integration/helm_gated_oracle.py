"""Run HELM 0.5.16's own scenario, downsampling and adapter code on owner-format files.

Executed by a Python that has crfm-helm 0.5.16 installed (never imported by pytest-medhelm):

    python helm_gated_oracle.py JOBS.json OUT.json

Each job names a MedHELM run-spec function (``@run_spec_function("clear")``), its arguments, and
the evaluation cap; the output gives, per job, HELM's instances after ``with_instance_ids`` and
``downsample_eval_instances`` (id, input text, references with their correct tags) and the prompt
HELM's adapter builds for each. The model's context window is not applied (a stand-in window
service that fits everything): truncation to a model's window is not part of the instances.
"""

from __future__ import annotations

import json
import sys
import tempfile


class _FitsEverything:
    def fits_within_context_window(self, *args, **kwargs) -> bool:  # noqa: ANN002, ANN003
        return True

    def truncate_from_right(self, text: str, expected_completion_token_length: int = 0) -> str:
        return text


def _adapter(adapter_spec):  # noqa: ANN001, ANN202
    from helm.benchmark.adaptation.adapter_spec import ADAPT_GENERATION, ADAPT_MULTIPLE_CHOICE_JOINT
    from helm.benchmark.adaptation.adapters.generation_adapter import GenerationAdapter
    from helm.benchmark.adaptation.adapters.multiple_choice_joint_adapter import MultipleChoiceJointAdapter

    cls = {ADAPT_GENERATION: GenerationAdapter, ADAPT_MULTIPLE_CHOICE_JOINT: MultipleChoiceJointAdapter}[
        adapter_spec.method
    ]
    adapter = object.__new__(cls)  # no tokenizer service: nothing here talks to a model
    adapter.adapter_spec = adapter_spec
    adapter.window_service = _FitsEverything()
    return adapter


def run(job: dict) -> list[dict]:
    from helm.benchmark.run_spec import get_run_spec_function
    from helm.benchmark.runner import downsample_eval_instances
    from helm.benchmark.scenarios.scenario import create_scenario, with_instance_ids

    import helm.benchmark.run_specs.medhelm_run_specs  # noqa: F401  (registers the run-spec functions)

    run_spec = get_run_spec_function(job["run_spec"])(**job["args"])
    scenario = create_scenario(run_spec.scenario_spec)
    if job.get("output_path"):  # a download HELM would make, already in place
        instances = with_instance_ids(scenario.get_instances(job["output_path"]))
    else:
        with tempfile.TemporaryDirectory() as output_path:
            instances = with_instance_ids(scenario.get_instances(output_path))
    eval_splits = ["valid", "test"] if job.get("valid") else ["test"]
    chosen = downsample_eval_instances(instances, job["cap"], eval_splits)
    adapter = _adapter(run_spec.adapter_spec)
    out = []
    for instance in chosen:
        if instance.split not in eval_splits:
            continue
        request = adapter.generate_requests(instance, 0, [])[0].request
        out.append(
            {
                "id": instance.id,
                "split": instance.split,
                "input": instance.input.text,
                "references": [[r.output.text, "correct" in r.tags] for r in instance.references],
                "prompt": request.prompt,
                "max_tokens": request.max_tokens,
            }
        )
    return out


def main() -> None:
    jobs = json.loads(open(sys.argv[1], encoding="utf-8").read())
    results = {}
    for name, job in jobs.items():
        try:
            results[name] = {"instances": run(job)}
        except Exception as exc:  # reported, compared as an error by the test
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(results, handle, ensure_ascii=False)


if __name__ == "__main__":
    main()
