"""The private benchmarks' loaders (CLEAR, the nine SHC benchmarks, NoteExtract, PatientInstruct,
MentalHealth), reading small SYNTHETIC files in each owner's format.

Every note, message and label here is invented ("SYNTHETIC NOTE 1"); no hospital data is used.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from openpyxl import Workbook

from pytest_medhelm import Benchmark, DataError, ScoreContext
from pytest_medhelm.data import DataSettings, DataUnavailable, load
from pytest_medhelm.suites import all_benchmarks
from pytest_medhelm.suites.administration_and_workflow import test_shc_ent_med as shc_ent
from pytest_medhelm.suites.administration_and_workflow import test_shc_sequoia_med as shc_sequoia
from pytest_medhelm.suites.clinical_decision_support import test_clear as clear
from pytest_medhelm.suites.clinical_decision_support import test_shc_ptbm_med as shc_ptbm
from pytest_medhelm.suites.clinical_note_generation import test_chw_care_plan as chw
from pytest_medhelm.suites.patient_communication import test_mental_health as mental_health
from pytest_medhelm.suites.patient_communication import test_shc_proxy_med as shc_proxy
from pytest_medhelm.suites.patient_communication import test_starr_patient_instructions as starr

SHC_FILES = {
    "shc_ptbm_med": "PTBM",
    "shc_sei_med": "SEI",
    "shc_conf_med": "CONF",
    "shc_proxy_med": "PROXY",
    "shc_privacy_med": "PRIVACY",
    "shc_bmt_med": "BMT",
    "shc_gip_med": "GIP",
    "shc_cdi_med": "CDI",
    "shc_ent_med": "ENT",
    "shc_sequoia_med": "sequoia",
}
SHC = {b.id: b for b in all_benchmarks() if b.id.startswith("shc_")}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load_from(benchmark: Benchmark, data_dir: Path, cap: int = 1000):  # type: ignore[no-untyped-def]
    return load(benchmark, DataSettings(data_dir=data_dir), cap=cap)


# ------------------------------------------------------------------ SHC (shared mechanism)
def test_the_nine_shc_benchmarks_sit_in_their_taxonomy_places() -> None:
    places = {b.id: (b.category, b.subcategory, b.access) for b in SHC.values()}
    assert places == {
        "shc_ptbm_med": ("clinical_decision_support", "Providing Clinical Knowledge Support", "private"),
        "shc_sei_med": ("clinical_decision_support", "Providing Clinical Knowledge Support", "private"),
        "shc_conf_med": ("patient_communication", "Patient-Provider Messaging", "private"),
        "shc_proxy_med": ("patient_communication", "Patient-Provider Messaging", "private"),
        "shc_privacy_med": ("patient_communication", "Patient-Provider Messaging", "private"),
        "shc_bmt_med": ("medical_research", "Recording Research Processes", "private"),
        "shc_gip_med": ("administration_and_workflow", "Scheduling Resources and Staff", "private"),
        "shc_cdi_med": ("administration_and_workflow", "Care Coordination and Planning", "private"),
        "shc_ent_med": ("administration_and_workflow", "Care Coordination and Planning", "private"),
        "shc_sequoia_med": ("administration_and_workflow", "Organizing Workflow Processes", "private"),
    }


@pytest.mark.parametrize("benchmark_id", sorted(SHC_FILES))
def test_each_shc_benchmark_reads_its_named_csv(tmp_path: Path, benchmark_id: str) -> None:
    benchmark = SHC[benchmark_id]
    question = "question" if benchmark_id == "shc_sequoia_med" else "prompt"
    write_csv(
        tmp_path / benchmark_id / f"medhelm-{SHC_FILES[benchmark_id]}-dataset_filtered.csv",
        [question, "context", "label"],
        [["Synthetic question?", "SYNTHETIC NOTE 1", "B"]],
    )
    (instance,) = load_from(benchmark, tmp_path).instances
    assert "Synthetic question?" in instance.input and "SYNTHETIC NOTE 1" in instance.input
    assert instance.choices[:2] == ("A", "B") and instance.gold == "B"
    assert len(instance.choices) == (3 if benchmark_id in ("shc_ent_med", "shc_proxy_med") else 2)


def test_shc_repeated_prompt_keeps_first_position_and_last_label(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    write_csv(
        folder / "medhelm-PTBM-dataset_filtered.csv",
        ["prompt", "context", "label"],
        [
            ["Synthetic Q1?", "SYNTHETIC NOTE 1", "A"],
            ["Synthetic Q2?", "SYNTHETIC NOTE 2", "A"],
            ["Synthetic Q1?", "SYNTHETIC NOTE 1", "B"],
        ],
    )
    loaded = load(shc_ptbm.BENCHMARK, DataSettings(paths={"shc_ptbm_med": folder}), cap=1000)
    assert [("NOTE 1" in i.input, i.gold, i.extra["line"]) for i in loaded.instances] == [
        (True, "B", 4),
        (False, "A", 3),
    ]


def test_shc_prompt_layout_input_noun_empty_and_letter_options(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "shc_ptbm_med" / "medhelm-PTBM-dataset_filtered.csv",
        ["prompt", "context", "label"],
        [["Synthetic Q?", "SYNTHETIC NOTE 1", "A"]],
    )
    (instance,) = load_from(shc_ptbm.BENCHMARK, tmp_path).instances
    prompt = shc_ptbm.BENCHMARK.render(instance)
    # Without HELM's package: our own instructions, in HELM's layout.
    assert prompt == f"{shc_ptbm.BENCHMARK.prompt.instructions}\n\n: {instance.input}\nA. A\nB. B\n:"
    assert "Synthetic Q? using this context: SYNTHETIC NOTE 1 , Reply" in instance.input


def test_shc_sequoia_numbers_every_row_and_reads_the_question_column(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "shc_sequoia_med" / "medhelm-sequoia-dataset_filtered.csv",
        ["question", "context", "label"],
        [["Synthetic Q?", "SYNTHETIC NOTE 1", "A"], ["Synthetic Q?", "SYNTHETIC NOTE 1", "B"]],
    )
    instances = load_from(shc_sequoia.BENCHMARK, tmp_path).instances
    # The counter makes identical rows different prompts, so nothing collapses.
    assert [i.input[:3] for i in instances] == [" 1 ", " 2 "] and [i.gold for i in instances] == ["A", "B"]


def test_shc_ent_skips_unlabelled_rows_without_counting_them(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "shc_ent_med" / "medhelm-ENT-dataset_filtered.csv",
        ["prompt", "context", "label"],
        [
            ["Synthetic Q1?", "SYNTHETIC NOTE 1", "C"],
            ["Synthetic Q2?", "SYNTHETIC NOTE 2", ""],
            ["Synthetic Q3?", "SYNTHETIC NOTE 3", "A"],
        ],
    )
    instances = load_from(shc_ent.BENCHMARK, tmp_path).instances
    assert [(i.input.split(" ", 1)[0], i.gold) for i in instances] == [("1", "C"), ("2", "A")]
    assert "SYNTHETIC NOTE 3" in instances[1].input
    assert shc_ent.BENCHMARK.render(instances[0]).startswith(f"{shc_ent.BENCHMARK.prompt.instructions}\n\n: 1 ")


def test_shc_proxy_offers_three_letters(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "shc_proxy_med" / "export.csv",
        ["prompt", "context", "label"],
        [["Synthetic Q?", "SYNTHETIC MESSAGE 1", "C"]],
    )  # an owner's differently named export
    (instance,) = load_from(shc_proxy.BENCHMARK, tmp_path).instances
    assert instance.gold == "C" and shc_proxy.BENCHMARK.render(instance).endswith("A. A\nB. B\nC. C\n:")


def test_shc_label_outside_the_options_names_file_line_and_field(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "shc_ptbm_med" / "medhelm-PTBM-dataset_filtered.csv",
        ["prompt", "context", "label"],
        [["Synthetic Q1?", "SYNTHETIC\nMULTI-LINE NOTE", "A"], ["Synthetic Q2?", "SYNTHETIC NOTE", "yes"]],
    )
    with pytest.raises(DataError) as error:
        load_from(shc_ptbm.BENCHMARK, tmp_path)
    assert (error.value.file, error.value.line, error.value.field) == (path, 4, "label")


def test_shc_missing_column_names_file_line_and_field(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "shc_ptbm_med" / "medhelm-PTBM-dataset_filtered.csv", ["prompt", "label"], [["Synthetic Q?", "A"]]
    )
    with pytest.raises(DataError) as error:
        load_from(shc_ptbm.BENCHMARK, tmp_path)
    assert (error.value.file, error.value.line, error.value.field) == (path, 1, "context")
    assert "missing column" in str(error.value)


def test_shc_short_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "shc_ptbm_med" / "medhelm-PTBM-dataset_filtered.csv"
    path.parent.mkdir()
    path.write_text("prompt,context,label\nSynthetic Q?,SYNTHETIC NOTE,A\nSynthetic Q2?\n")
    with pytest.raises(DataError) as error:
        load_from(shc_ptbm.BENCHMARK, tmp_path)
    assert (error.value.line, error.value.field) == (3, "context")


# ------------------------------------------------------------------ CLEAR
def write_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_clear_one_run_per_condition_capped_at_100_each(tmp_path: Path) -> None:
    write_xlsx(
        tmp_path / "clear" / "homelessness.xlsx",
        ["text", "result_human"],
        [[f"SYNTHETIC NOTE {n}", n % 3] for n in range(130)],
    )
    write_xlsx(
        tmp_path / "clear" / "chronic_pain.xlsx",
        ["text", "result_human"],
        [["SYNTHETIC NOTE A", 1], [None, 1], ["SYNTHETIC NOTE B", 0.0], ["SYNTHETIC NOTE C", "2"]],
    )
    loaded = load_from(clear.BENCHMARK, tmp_path, cap=1000)  # the session's cap does not apply: CLEAR's does
    assert loaded.total == 133
    runs = [i.run for i in loaded.instances]
    assert runs.count("homelessness") == 100 and runs.count("chronic_pain") == 3
    pain = [i for i in loaded.instances if i.run == "chronic_pain"]
    # Labels 1, 0 and 2 are the first, second and third option (our wording without HELM's package).
    assert [(i.id, i.correct) for i in pain] == [("chronic_pain-2", 0), ("chronic_pain-4", 1), ("chronic_pain-5", 2)]
    assert all("chronic pain" in option for option in pain[0].choices[:2])


def test_clear_lists_its_options_twice(tmp_path: Path) -> None:
    write_xlsx(
        tmp_path / "clear" / "post_traumatic_stress_disorder.xlsx", ["text", "result_human"], [["SYNTHETIC NOTE 1", 1]]
    )
    (instance,) = load_from(clear.BENCHMARK, tmp_path).instances
    prompt = clear.BENCHMARK.render(instance)
    option_a = f"A. {instance.choices[0]}\n"
    assert "post-traumatic stress disorder (PTSD)" in option_a
    assert prompt.count(option_a) == 2 and prompt.count(f"C. {instance.choices[2]}\n") == 2
    # The instructions name the condition by its file stem, as HELM's do.
    assert "post traumatic stress disorder" in prompt.split("\n\n", 1)[0]


def test_clear_unknown_label_names_file_row_and_field(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "clear" / "unemployment.xlsx",
        ["text", "result_human"],
        [["SYNTHETIC NOTE 1", 1], ["SYNTHETIC NOTE 2", "yes"]],
    )
    with pytest.raises(DataError) as error:
        load_from(clear.BENCHMARK, tmp_path)
    assert (error.value.file, error.value.line, error.value.field) == (path, 3, "result_human")


def test_clear_missing_column_names_file_and_field(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "clear" / "unemployment.xlsx", ["note", "result_human"], [["SYNTHETIC NOTE", 1]])
    with pytest.raises(DataError) as error:
        load_from(clear.BENCHMARK, tmp_path)
    assert (error.value.file, error.value.line, error.value.field) == (path, 1, "text")


# ------------------------------------------------------------------ NoteExtract, PatientInstruct, MentalHealth
def test_chw_care_plan_loads_notes_and_skips_scoring_without_a_jury(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "chw_care_plan" / "CHW_Dataset.csv",
        ["MO Note", "other"],
        [["SYNTHETIC CARE PLAN 1: knee pain for 2 weeks", "x"], ["", "x"], ["SYNTHETIC CARE PLAN 3", "y"]],
    )
    loaded = load_from(chw.BENCHMARK, tmp_path)
    assert [i.id for i in loaded.instances] == ["line2", "line4"]
    instance = loaded.instances[0]
    assert instance.input.endswith("Clinical Note:\nSYNTHETIC CARE PLAN 1: knee pain for 2 weeks\n")
    assert chw.BENCHMARK.render(instance).startswith(
        "Follow the instructions below to convert a patient note into "
        "the given format.\n\n: \nYou are given a clinical note"
    )
    assert chw.BENCHMARK.render(instance).endswith("knee pain for 2 weeks\n\n:")
    assert chw.BENCHMARK.requires_jury  # the plugin skips it before any model call
    with pytest.raises(RuntimeError, match="no reference answer.*LLM jury"):
        asyncio.run(chw.BENCHMARK.score(instance, "Chief Complaint\nknee pain", ScoreContext()))


def test_starr_keeps_qc_true_rows_with_every_field(tmp_path: Path) -> None:
    header = ["QC", *starr.FIELDS]
    write_csv(
        tmp_path / "starr_patient_instructions" / "dataset_cases_qc.csv",
        header,
        [
            [
                "TRUE",
                "Synthetic dx",
                "Synthetic knee arthroscopy",
                "SYNTHETIC H&P",
                "SYNTHETIC OP NOTE",
                "Rest the knee.",
            ],
            ["FALSE", "dx", "proc", "hp", "op", "instr"],
            ["true", "dx2", "proc2", "hp2", "", "instr2"],
            [" true ", "dx3", "proc3", "hp3", "op3", "Keep the dressing dry."],
        ],
    )
    loaded = load_from(starr.BENCHMARK, tmp_path)
    assert [(i.id, i.reference) for i in loaded.instances] == [
        ("line2", "Rest the knee."),
        ("line5", "Keep the dressing dry."),
    ]
    prompt = starr.BENCHMARK.render(loaded.instances[0])
    assert "Synthetic dx" in prompt and "Synthetic knee arthroscopy" in prompt
    # HELM 0.5.16's input ends after the operative report: the output cue appears once (issue #16, case 2).
    cue = starr.BENCHMARK.prompt.output_noun + ":"
    assert prompt.endswith("SYNTHETIC OP NOTE\n\n\n" + cue) and prompt.count(cue) == 1


def test_starr_missing_column_names_file_line_and_field(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "starr_patient_instructions" / "dataset_cases_qc.csv", ["QC", "Diagnosis"], [["TRUE", "dx"]]
    )
    with pytest.raises(DataError) as error:
        load_from(starr.BENCHMARK, tmp_path)
    assert (error.value.file, error.value.line, error.value.field) == (path, 1, "ActualProcedure")


def test_mental_health_prompt_begins_with_newline_question(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "mental_health" / "processed_dialogues.csv",
        ["context", "gold_counselor_response", "topic", "dialogue_type"],
        [["client: SYNTHETIC worry about work", "That sounds hard.", "Workplace", "2"]],
    )
    (instance,) = load_from(mental_health.BENCHMARK, tmp_path).instances
    assert instance.input.startswith("\nQuestion: ")
    assert "Workplace" in instance.input and "client: SYNTHETIC worry about work\n" in instance.input
    assert instance.reference == "That sounds hard."
    prompt = mental_health.BENCHMARK.render(instance)
    # The instructions, a blank line, then the input's own leading newline (HELM's passage-question layout).
    assert prompt.startswith(mental_health.BENCHMARK.prompt.instructions + "\n\n\nQuestion: ")
    assert prompt.endswith("\n" + mental_health.BENCHMARK.prompt.output_noun + ":")


# ------------------------------------------------------------------ absent data
@pytest.mark.parametrize(
    ("benchmark", "needs"),
    [
        (clear.BENCHMARK, ["Private", "<condition>.xlsx", "result_human"]),
        (shc_ptbm.BENCHMARK, ["Private", "medhelm-PTBM-dataset_filtered.csv"]),
        (shc_sequoia.BENCHMARK, ["Private", "medhelm-sequoia-dataset_filtered.csv", "question"]),
        (chw.BENCHMARK, ["Private", "CHW_Dataset.csv", "MO Note"]),
        (starr.BENCHMARK, ["Private", "dataset_cases_qc.csv", "QC"]),
        (mental_health.BENCHMARK, ["Private", "processed_dialogues.csv", "gold_counselor_response"]),
    ],
    ids=lambda value: getattr(value, "id", ""),
)
def test_absent_data_is_unavailable_naming_the_owner_and_files(
    tmp_path: Path, benchmark: Benchmark, needs: list[str]
) -> None:
    assert benchmark.access == "private" and benchmark.source.fetch is None
    with pytest.raises(DataUnavailable) as error:
        load(benchmark, DataSettings(data_dir=tmp_path, paths={benchmark.id: tmp_path / "not-there"}), cap=1000)
    for text in needs:
        assert text in str(error.value)


def test_a_folder_with_other_files_is_unavailable_naming_the_missing_file(tmp_path: Path) -> None:
    write_csv(tmp_path / "mental_health" / "a.csv", ["x"], [["1"]])
    write_csv(tmp_path / "mental_health" / "b.csv", ["x"], [["1"]])
    with pytest.raises(DataUnavailable, match="has no processed_dialogues.csv"):
        load_from(mental_health.BENCHMARK, tmp_path)
