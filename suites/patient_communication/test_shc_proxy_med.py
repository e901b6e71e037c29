"""ProxySender: was a patient-portal message sent by the patient or by a proxy (a parent, a spouse)?
Stanford Health Care data (doi:10.1001/jamapediatrics.2024.4438).

HELM offers three options, "A", "B" and "C", while its prompt text asks for A or B only; both are
reproduced. The shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-PROXY-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_proxy_med",
    name="ProxySender",
    file="medhelm-PROXY-dataset_filtered.csv",
    options="ABC",
    helm_scenario=("shc_proxy_scenario", "SHCPROXYMedScenario.create_benchmark"),
    template=(
        "You are reading clinical messages to decide whether a proxy user sent them. Determine the "
        "following: {question} using this context: {context} , Reply 'A' for yes or 'B' for no, "
        "with no other detail or explanation: just A or B."
    ),
)
