"""ADHD-Behavior: does a primary-care note of a young child with ADHD recommend parent training in
behavior management (the first-line treatment)? Stanford Health Care data (doi:10.1093/jamia/ocae001).

A / B multiple choice over the owner's CSV; the shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-PTBM-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_ptbm_med",
    name="ADHD-Behavior",
    file="medhelm-PTBM-dataset_filtered.csv",
    helm_scenario=("shc_ptbm_scenario", "SHCPTBMMedScenario.create_benchmark"),
    template=(
        "You are reading a clinical note from the health record of a child with attention deficit "
        "hyperactivity disorder (ADHD) and classifying mentions of behavioral therapy. Answer the "
        "following {question} using this context: {context} , Reply 'A' for yes or 'B' for no, "
        "with no other detail or explanation: just A or B."
    ),
)
