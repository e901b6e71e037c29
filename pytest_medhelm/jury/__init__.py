"""The LLM jury: MedHELM's judges, HELM's prompts and parsing, our agreement statistics.

``prompts`` (HELM's judge prompts from its wheel; a YAML rubric's), ``parse`` (HELM's parser and
our lenient one), ``core`` (the judges asked through the engine; faithful and repaired scores),
``scoring`` (a benchmark scored by the jury), ``stats`` (ICC, Krippendorff's alpha, offsets),
``agreement`` (``medhelm agreement RATINGS.csv``).
"""

from pytest_medhelm.jury.core import Judge, Jury, JuryResult, Verdict, judge_request
from pytest_medhelm.jury.prompts import JuryPrompt, JuryPromptError

__all__ = ["Judge", "Jury", "JuryPrompt", "JuryPromptError", "JuryResult", "Verdict", "judge_request"]
