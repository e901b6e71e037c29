from pytest_medhelm import shc
"""HospiceReferral: should this patient be referred to hospice care? Gold-standard referrals to a
Stanford Health Care specialty clinic.

A / B multiple choice over the owner's CSV; the shared SHC mechanism is in ``data/shc.py``.
"""


BENCHMARK = shc.benchmark(
    id="shc_gip_med",
    name="HospiceReferral",
    file="medhelm-GIP-dataset_filtered.csv",
    helm_scenario=("shc_gip_scenario", "SHCGIPMedScenario.create_benchmark"),
    template=("Answer the following question: {question} using this context: {context} , Reply 'A' for "
              "yes or 'B' for no, with no other detail or explanation: just A or B."),
)
