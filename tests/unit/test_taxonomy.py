"""MedHELM's taxonomy (spec 6) and where the 37 built-in benchmarks sit in it.

The expected ids and places are typed in from the spec's table 1a, independently of
``taxonomy.yaml``, so a typo in either shows up here.
"""

from __future__ import annotations

from collections import Counter

import pytest

from pytest_medhelm.suites import SUITES_DIR, load_benchmark, suite_files
from pytest_medhelm.taxonomy import load_taxonomy, slug

# Spec table 1a: benchmark group -> (category id, subcategory).
SPEC_PLACES: dict[str, tuple[str, str]] = {
    "medcalc_bench": ("clinical_decision_support", "Supporting Diagnostic Decisions"),
    "clear": ("clinical_decision_support", "Supporting Diagnostic Decisions"),
    "mtsamples_replicate": ("clinical_decision_support", "Planning Treatments"),
    "medec": ("clinical_decision_support", "Planning Treatments"),
    "ehrshot": ("clinical_decision_support", "Predicting Patient Risks and Outcomes"),
    "head_qa": ("clinical_decision_support", "Providing Clinical Knowledge Support"),
    "medbullets": ("clinical_decision_support", "Providing Clinical Knowledge Support"),
    "med_qa": ("clinical_decision_support", "Providing Clinical Knowledge Support"),
    "med_mcqa": ("clinical_decision_support", "Providing Clinical Knowledge Support"),
    "medalign": ("clinical_decision_support", "Providing Clinical Knowledge Support"),
    "shc_ptbm_med": ("clinical_decision_support", "Providing Clinical Knowledge Support"),
    "shc_sei_med": ("clinical_decision_support", "Providing Clinical Knowledge Support"),
    "dischargeme": ("clinical_note_generation", "Documenting Patient Visits"),
    "aci_bench": ("clinical_note_generation", "Documenting Patient Visits"),
    "mimic_bhc": ("clinical_note_generation", "Documenting Patient Visits"),
    "mtsamples_procedures": ("clinical_note_generation", "Recording Procedures"),
    "mimic_rrs": ("clinical_note_generation", "Documenting Diagnostic Reports"),
    "chw_care_plan": ("clinical_note_generation", "Documenting Care Plans"),
    "medication_qa": ("patient_communication", "Providing Patient Education Resources"),
    "starr_patient_instructions": ("patient_communication", "Delivering Personalized Care Instructions"),
    "med_dialog": ("patient_communication", "Patient-Provider Messaging"),
    "shc_conf_med": ("patient_communication", "Patient-Provider Messaging"),
    "shc_proxy_med": ("patient_communication", "Patient-Provider Messaging"),
    "shc_privacy_med": ("patient_communication", "Patient-Provider Messaging"),
    "medi_qa": ("patient_communication", "Enhancing Patient Understanding and Accessibility in Health Communication"),
    "mental_health": ("patient_communication", "Facilitating Patient Engagement and Support"),
    "pubmed_qa": ("medical_research", "Conducting Literature Research"),
    "ehr_sql": ("medical_research", "Analyzing Clinical Research Data"),
    "shc_bmt_med": ("medical_research", "Recording Research Processes"),
    "race_based_med": ("medical_research", "Ensuring Clinical Research Quality"),
    "medhallu": ("medical_research", "Ensuring Clinical Research Quality"),
    "n2c2_ct_matching": ("medical_research", "Managing Research Enrollment"),
    "shc_gip_med": ("administration_and_workflow", "Scheduling Resources and Staff"),
    "mimiciv_billing_code": ("administration_and_workflow", "Overseeing Financial Activities"),
    "shc_cdi_med": ("administration_and_workflow", "Care Coordination and Planning"),
    "shc_ent_med": ("administration_and_workflow", "Care Coordination and Planning"),
    "shc_sequoia_med": ("administration_and_workflow", "Organizing Workflow Processes"),
}
# Spec 0 and 1a: 16 public, 7 gated, 14 private today.
SPEC_ACCESS = {"public": 16, "gated": 7, "private": 14}


def test_five_categories_twenty_two_subcategories_121_tasks() -> None:
    taxonomy = load_taxonomy()

    assert len(taxonomy.categories) == 5
    assert len(taxonomy.subcategories) == 22
    assert taxonomy.tasks_total == 121
    assert [len(c.subcategories) for c in taxonomy.categories] == [4, 4, 5, 5, 4]
    # Tasks are not enumerated anywhere public; the few known ones must not exceed the total.
    assert sum(len(s.tasks) for s in taxonomy.subcategories) <= taxonomy.tasks_total


def test_the_37_benchmarks_are_each_placed_exactly_once_where_the_spec_puts_them() -> None:
    taxonomy = load_taxonomy()
    placed = Counter(b for s in taxonomy.subcategories for b in s.benchmarks)

    assert len(SPEC_PLACES) == 37
    assert sorted(placed) == sorted(SPEC_PLACES)
    assert [b for b, n in placed.items() if n != 1] == []
    for benchmark, (category, subcategory) in SPEC_PLACES.items():
        where = taxonomy.place(benchmark)
        assert where is not None
        assert (where[0].id, where[1].name) == (category, subcategory), benchmark


def test_category_sizes_match_the_spec() -> None:
    sizes = {c.id: sum(len(s.benchmarks) for s in c.subcategories) for c in load_taxonomy().categories}

    # Spec 6: CDS 12 (10 in the paper + MedQA, MedMCQA), CNG 6, PCE 8, MRA 6, A&W 5.
    assert sizes == {
        "clinical_decision_support": 12,
        "clinical_note_generation": 6,
        "patient_communication": 8,
        "medical_research": 6,
        "administration_and_workflow": 5,
    }


def test_category_lookup_by_id_or_name() -> None:
    taxonomy = load_taxonomy()

    assert taxonomy.category("medical_research") is taxonomy.category("Medical Research Assistance")
    with pytest.raises(KeyError):
        taxonomy.category("radiology")


def test_marker_names_are_unique_across_categories_subcategories_and_benchmarks() -> None:
    taxonomy = load_taxonomy()
    names = (
        [c.id for c in taxonomy.categories]
        + [s.id for s in taxonomy.subcategories]
        + [b for s in taxonomy.subcategories for b in s.benchmarks]
    )

    assert [n for n, count in Counter(names).items() if count > 1] == []
    assert all(s.id == slug(s.name) and s.id.isidentifier() for s in taxonomy.subcategories)


def test_suite_folders_are_the_category_ids() -> None:
    folders = {p.name for p in SUITES_DIR.iterdir() if p.is_dir() and not p.name.startswith("__")}

    assert folders == {c.id for c in load_taxonomy().categories}


@pytest.mark.parametrize("path", suite_files(), ids=lambda p: p.stem.removeprefix("test_"))
def test_each_suite_module_declares_its_place_in_the_taxonomy(path) -> None:
    benchmark = load_benchmark(path)
    where = load_taxonomy().place(benchmark.id)

    assert path.name == f"test_{benchmark.id}.py"
    assert where is not None, f"{benchmark.id} is not in taxonomy.yaml"
    assert (benchmark.category, benchmark.subcategory) == (where[0].id, where[1].name)
    assert path.parent.name == benchmark.category
    assert benchmark.access in SPEC_ACCESS


def test_all_37_benchmarks_are_implemented_with_the_papers_access_levels() -> None:
    benchmarks = [load_benchmark(path) for path in suite_files()]

    ids = {b.id for b in benchmarks}
    assert {"missing": sorted(set(SPEC_PLACES) - ids), "unknown": sorted(ids - set(SPEC_PLACES))} == {
        "missing": [],
        "unknown": [],
    }
    assert len(benchmarks) == 37
    assert Counter(b.access for b in benchmarks) == SPEC_ACCESS
