"""Scoring functions, one module per metric family."""

# The functions exact_match, medec and ehr_sql are NOT re-exported here: they share their module's
# name, and binding them on the package would shadow the submodules (``from pytest_medhelm.metrics
# import exact_match`` must keep returning the module). Use ``metrics.medec.medec`` etc.
from pytest_medhelm.metrics.billing import extract_codes, mimiciv_billing_code
from pytest_medhelm.metrics.ehr_sql import execute, extract_sql, gold_result
from pytest_medhelm.metrics.exact_match import (
    generation_exact_match,
    multiple_choice,
    normalize_text,
    prefix_exact_match,
    quasi_exact_match,
    quasi_prefix_exact_match,
)
from pytest_medhelm.metrics.medcalc import medcalc_bench
from pytest_medhelm.metrics.medec import medec_reference

__all__ = [
    "execute",
    "extract_codes",
    "extract_sql",
    "generation_exact_match",
    "gold_result",
    "medcalc_bench",
    "medec_reference",
    "mimiciv_billing_code",
    "multiple_choice",
    "normalize_text",
    "prefix_exact_match",
    "quasi_exact_match",
    "quasi_prefix_exact_match",
]
