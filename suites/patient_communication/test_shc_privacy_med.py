"""PrivacyDetection: does a message drafted from a patient's notes leak confidential information?
Stanford Health Care data (doi:10.1001/jamapediatrics.2024.4438).

A / B multiple choice over the owner's CSV; the shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-PRIVACY-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_privacy_med",
    name="PrivacyDetection",
    file="medhelm-PRIVACY-dataset_filtered.csv",
    helm_scenario=("shc_privacy_scenario", "SHCPRIVACYMedScenario.create_benchmark"),
    template=(
        "You are reading clinical messages to decide whether any confidential information was "
        "included. Answer the following question: {question} using this context: {context} , "
        "Reply 'A' for yes or 'B' for no, with no other detail or explanation: just A or B."
    ),
)
