"""Run inside a Python environment where crfm-helm 0.5.16 is installed: HELM's own requests.

``python helm_requests.py JOB.json OUT.json``. The job names the local mirror (``../shared/data``
layout), a scratch folder, a model engine and the benchmarks as ``{id, run_spec}``. For each one
this builds HELM's run spec, its scenario (every download redirected to the mirror's rows,
written back in the upstream file format the scenario reads), HELM's downsampling and adapter,
and the body HELM's OpenAI client would send; it writes ``{id: {"bodies": [json text, ...]}}`` or
``{id: {"error": "..."}}``. Nothing here is imported by pytest-medhelm: it is the oracle.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import sys
import traceback
import types
from pathlib import Path
from typing import Any

# HELM's gpu_utils imports torch at module level, only to name a device for metrics we never run.
_gpu = types.ModuleType("helm.common.gpu_utils")
_gpu.get_torch_device_name = lambda: "cpu"  # type: ignore[attr-defined]
_gpu.is_cuda_available = lambda: False  # type: ignore[attr-defined]
sys.modules["helm.common.gpu_utils"] = _gpu

from helm.benchmark.adaptation.adapters.adapter_factory import AdapterFactory  # noqa: E402
from helm.benchmark.run_spec import get_run_spec_function  # noqa: E402
from helm.benchmark.runner import downsample_eval_instances  # noqa: E402
from helm.benchmark.scenarios.scenario import create_scenario, with_instance_ids  # noqa: E402
from helm.benchmark.window_services import window_service_factory  # noqa: E402
from helm.clients.openai_client import OpenAIClient  # noqa: E402

import helm.benchmark.run_specs.medhelm_run_specs  # noqa: E402,F401  (registers the run specs)


class _WideWindow:
    """A context window that fits every prompt: MedHELM's models take 128k tokens and more, so
    HELM never truncates these; the real window services need tokenizer downloads."""

    def fits_within_context_window(self, text: str, expected_completion_token_length: int = 0) -> bool:
        return True

    def truncate_from_right(self, text: str, expected_completion_token_length: int = 0) -> str:
        return text


window_service_factory.WindowServiceFactory.get_window_service = staticmethod(lambda *a, **k: _WideWindow())


def _rows(mirror: Path, benchmark: str) -> list[dict[str, Any]]:
    with open(mirror / benchmark / "test.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_csv(path: str, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


class _Dataset(dict):
    """What ``datasets.load_dataset`` returns, enough for the scenarios: splits of row dicts."""


def _redirect(module: types.ModuleType, benchmark: str, mirror: Path, rows: list[dict[str, Any]]) -> None:
    """Point the scenario module's downloads at the mirror's rows."""

    def ensure_file_downloaded(source_url: str, target_path: str, unpack: bool = False, **_: Any) -> None:
        name = os.path.basename(target_path)
        os.makedirs(os.path.dirname(target_path) or ".", exist_ok=True)
        if benchmark == "pubmed_qa":
            with open(target_path, "w", encoding="utf-8") as handle:
                json.dump({row["pmid"]: {k: v for k, v in row.items() if k != "pmid"} for row in rows}, handle)
        elif benchmark == "med_qa":
            folder = Path(target_path) / "data_clean" / "questions" / "US" / "4_options"
            folder.mkdir(parents=True, exist_ok=True)
            for split in ("train", "dev", "test"):
                chosen = rows if split == "test" else []
                (folder / f"phrases_no_exclude_{split}.jsonl").write_text(
                    "".join(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}) + "\n" for r in chosen),
                    encoding="utf-8",
                )
        elif benchmark == "aci_bench":
            source = os.path.basename(source_url)
            chosen = [{k: v for k, v in r.items() if k != "_source_file"} for r in rows if r["_source_file"] == source]
            with open(target_path, "w", encoding="utf-8") as handle:
                json.dump({"data": chosen}, handle)
        elif benchmark in ("medec", "medbullets"):
            _write_csv(target_path, rows)
        elif benchmark == "ehr_sql":
            if name == "eicu.sqlite":
                shutil.copy(mirror / "ehr_sql" / "eicu.sqlite", target_path)
            elif name == "eicu.sql":
                shutil.copy(mirror / "ehr_sql" / "eicu_schema.txt", target_path)
            else:
                split = name[len("ehrsql_") : -len(".json")]
                with open(target_path, "w", encoding="utf-8") as handle:
                    json.dump([r for r in rows if r.get("split", "test") == split], handle)
        elif benchmark == "medication_qa":
            import pandas as pd  # the spreadsheet, read back by the scenario's own pandas.read_excel

            pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]).to_excel(
                target_path, index=False
            )
        else:
            raise RuntimeError(f"{benchmark}: unexpected download of {source_url}")

    def load_dataset(*args: Any, split: str | None = None, **kwargs: Any) -> Any:
        data = [dict(r) for r in rows]
        if benchmark == "head_qa":
            data = [{**r, "image": r.get("image") or None} for r in data]
        if benchmark == "medcalc_bench":
            data = [{**r, "Row Number": r.get("Row Number", r.get("Unique ID"))} for r in data]
        return data if split is not None else _Dataset(test=data)

    if hasattr(module, "ensure_file_downloaded"):
        module.ensure_file_downloaded = ensure_file_downloaded  # type: ignore[attr-defined]
    if hasattr(module, "load_dataset"):
        module.load_dataset = load_dataset  # type: ignore[attr-defined]


def _prepare(scenario: Any, benchmark: str, rows: list[dict[str, Any]], output_path: str) -> None:
    """Files a scenario reads before it would download anything."""
    os.makedirs(output_path, exist_ok=True)
    if benchmark == "race_based_med":
        _write_csv(
            os.path.join(output_path, "race_based.csv"),
            [{"Question": r["Question"], "Response": r["Response"], "True/False": r["True/False"]} for r in rows],
        )
    if benchmark in ("mtsamples_replicate", "mtsamples_procedures"):
        for row in rows:
            Path(output_path, row["file_name"]).write_text(row["text"], encoding="utf-8")
        names = [row["file_name"] for row in rows]
        scenario.fetch_file_list = lambda: list(names)


def helm_bodies(job: dict[str, Any], benchmark: str, run_spec_name: str) -> list[str]:
    mirror = Path(job["mirror"])
    rows = _rows(mirror, benchmark)
    run_spec = get_run_spec_function(run_spec_name)()
    scenario = create_scenario(run_spec.scenario_spec)
    _redirect(sys.modules[type(scenario).__module__], benchmark, mirror, rows)
    output_path = os.path.join(job["scratch"], benchmark)
    _prepare(scenario, benchmark, rows, output_path)
    instances = with_instance_ids(scenario.get_instances(output_path))
    instances = downsample_eval_instances(instances, job["max_eval_instances"], ["valid", "test"])
    engine = job["model_engine"]
    adapter_spec = dataclasses.replace(
        run_spec.adapter_spec, model=f"openai/{engine}", model_deployment=f"openai/{engine}"
    )
    adapter = AdapterFactory.get_adapter(adapter_spec, None)
    states = adapter.adapt(instances, parallelism=1)
    client = types.SimpleNamespace(_get_model_for_request=lambda request: request.model_engine, reasoning_effort=None)
    return [json.dumps(OpenAIClient._make_chat_raw_request(client, state.request)) for state in states]


def main(job_path: str, out_path: str) -> int:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for entry in job["benchmarks"]:
        try:
            found[entry["id"]] = {"bodies": helm_bodies(job, entry["id"], entry["run_spec"])}
        except Exception:  # noqa: BLE001  (one benchmark's failure is reported, the others still run)
            found[entry["id"]] = {"error": traceback.format_exc()}
    Path(out_path).write_text(json.dumps(found), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
