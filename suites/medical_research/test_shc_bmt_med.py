"""BMT-Status: answer questions about a patient's status after a bone marrow transplant from their
notes, against a clinician-curated gold standard. Stanford Health Care data.

A / B multiple choice over the owner's CSV; the shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-BMT-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_bmt_med",
    name="BMT-Status",
    file="medhelm-BMT-dataset_filtered.csv",
    helm_scenario=("shc_bmt_scenario", "SHCBMTMedScenario.create_benchmark"),
    template=(
        "Answer the following {question} using this context: {context} , Reply 'A' for yes or 'B' "
        "for no, with no other detail or explanation: just A or B."
    ),
)
