"""MedConfInfo: does an adolescent's clinical note hold confidential information that should be
kept from parental access? Stanford Health Care data (JAMA Pediatrics, 2024).

A / B multiple choice over the owner's CSV; the shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-CONF-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_conf_med",
    name="MedConfInfo",
    file="medhelm-CONF-dataset_filtered.csv",
    helm_scenario=("shc_conf_scenario", "SHCCONFMedScenario.create_benchmark"),
    template=(
        "Answer the following question: {question} using this context: {context} , Reply 'A' for "
        "yes or 'B' for no, with no other detail or explanation: just A or B."
    ),
)
