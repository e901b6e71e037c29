"""ClinicReferral: questions on patient referrals to Stanford's Sequoia clinic, with manually curated
answers. Stanford Health Care data.

The question column is ``question`` (not ``prompt``), and HELM starts each prompt with a space and a
running counter. The shared SHC mechanism is in ``data/shc.py``.

Owner file: ``medhelm-sequoia-dataset_filtered.csv``, Stanford Health Care's private data, available only to
its owners under their data-use approval. Differences from HELM 0.5.16, deliberate: those of
the SHC mechanism (``data/shc.py``).
"""

from pytest_medhelm import shc

BENCHMARK = shc.benchmark(
    id="shc_sequoia_med",
    name="ClinicReferral",
    file="medhelm-sequoia-dataset_filtered.csv",
    question_column="question",
    helm_scenario=("shc_sequoia_scenario", "SHCSequoiaMedScenario.create_benchmark"),
    template=(
        " {counter} Answer the following {question} using this context: {context} , Reply 'A' for "
        "yes or 'B' for no, with no other detail or explanation: just A or B."
    ),
)
