"""HospiceReferral: should this patient be referred to hospice care? Gold-standard referrals to a
Stanford Health Care specialty clinic.

A / B multiple choice over the owner's CSV; the shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-GIP-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_gip_med",
    name="HospiceReferral",
    file="medhelm-GIP-dataset_filtered.csv",
    helm_scenario=("shc_gip_scenario", "SHCGIPMedScenario.create_benchmark"),
    template=(
        "Answer the following question: {question} using this context: {context} , Reply 'A' for "
        "yes or 'B' for no, with no other detail or explanation: just A or B."
    ),
)
