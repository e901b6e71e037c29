"""ENT-Referral: is this patient's referral to Ear, Nose and Throat appropriate (yes, no, or not
mentioned)? Stanford Health Care data.

HELM numbers each prompt with a running counter, skips rows with an empty label without counting
them, and offers the options "A", "B" and "C". The shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-ENT-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_ent_med",
    name="ENT-Referral",
    file="medhelm-ENT-dataset_filtered.csv",
    options="ABC",
    skip_unlabelled=True,
    helm_scenario=("shc_ent_scenario", "SHCENTMedScenario.create_benchmark"),
    template=(
        "{counter} Answer the following question: {question} using this context: {context} , Reply "
        "either 'A' for yes, 'B' for no, or 'C' for no mention, with no other detail or explanation: "
        "just A, B, or C."
    ),
)
