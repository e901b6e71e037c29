"""Offline baseline models: the floor rows of every leaderboard, with no network or key.

* ``baseline-random``: seeded chance. A random option letter for multiple choice, otherwise a
  random sentence of the input. The seed is the prompt, so a re-run gives the same answers.
* ``baseline-extractive``: for multiple choice, the option most similar (TF-IDF cosine) to the
  question and its context; for generation, the leading sentences of the input.
"""

from __future__ import annotations

import hashlib
import random
import re

from pytest_medhelm.benchmark import LETTERS
from pytest_medhelm.models.providers import ModelRequest, Usage

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _tokens(text: str) -> int:
    return len(text.split())


def random_answer(request: ModelRequest) -> str:
    rng = random.Random(hashlib.sha256(request.prompt.encode()).digest())
    if request.choices:
        return LETTERS[rng.randrange(len(request.choices))]
    sentences = _sentences(request.context or request.prompt)
    return rng.choice(sentences) if sentences else ""


def extractive_answer(request: ModelRequest) -> str:
    if request.choices:
        # Imported here: scikit-learn costs a second at import, and only this baseline needs it.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.metrics.pairwise import cosine_similarity

        query = request.context or request.prompt
        try:
            matrix = TfidfVectorizer().fit_transform([query, *request.choices])
        except ValueError:  # nothing but stop words / punctuation
            return LETTERS[0]
        similarities = cosine_similarity(matrix[0], matrix[1:])[0]
        return LETTERS[int(similarities.argmax())]
    words_left = request.max_tokens
    chosen: list[str] = []
    for sentence in _sentences(request.context or request.prompt):
        if chosen and _tokens(sentence) > words_left:
            break
        chosen.append(sentence)
        words_left -= _tokens(sentence)
        if words_left <= 0 or len(chosen) >= 3:
            break
    return " ".join(chosen)


BASELINES = {"random": random_answer, "extractive": extractive_answer}


def complete(kind: str, request: ModelRequest) -> tuple[str, Usage]:
    text = BASELINES[kind](request)
    return text, Usage(_tokens(request.prompt), _tokens(text))
