"""CDI-QA: answer the verification questions of Clinical Documentation Integrity (CDI) reviews from
the earlier notes. Stanford Health Care data.

A / B multiple choice over the owner's CSV; the shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-CDI-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_cdi_med",
    name="CDI-QA",
    file="medhelm-CDI-dataset_filtered.csv",
    helm_scenario=("shc_cdi_scenario", "SHCCDIMedScenario.create_benchmark"),
    template=(
        "Answer the following {question} using this context: {context} , Reply either 'A' for yes "
        "or 'B' for no, with no other detail or explanation: just A or B."
    ),
)
