"""ADHD-MedEffects: does a primary-care note of a child on ADHD medication document side-effect
monitoring, as guidelines recommend? Stanford Health Care data (doi:10.1542/peds.2024-067223).

A / B multiple choice over the owner's CSV; the shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-SEI-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_sei_med",
    name="ADHD-MedEffects",
    file="medhelm-SEI-dataset_filtered.csv",
    helm_scenario=("shc_sei_scenario", "SHCSEIMedScenario.create_benchmark"),
    template=(
        "You are reading a clinical note from the health record of a child with attention deficit "
        "hyperactivity disorder (ADHD). Definitions: Side Effects Inquiry (SEI) is explicit "
        "documentation that the clinician asked about current side effects of the ADHD medication "
        "the child takes, or documentation of specific side effects the patient has had. SEI does "
        "*not* cover future monitoring, such as listing possible side effects, planning to follow "
        "the patient for them, or explaining them: that is a plan or an explanation, not monitoring "
        "that took place. No Side Effects Inquiry (NSEI) means no evidence of side-effect "
        "monitoring. Answer the following question: {question} using this context: {context} , "
        "Reply 'A' for yes or 'B' for no, with no other detail or explanation: just A or B."
    ),
)
