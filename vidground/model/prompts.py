"""The prompts vidground sends with a video, and their version (recorded with every result).

The wording follows Qwen2.5-VL's video cookbook, which is how the model was shown grounding and dense
captioning (spec section 6): grounding asks ``Give the query: '...', when does the described content occur in
the video?`` and gets back ``The given query happens in 64.0 - 72.0 seconds.``; dense captioning asks for a
JSON list with ``'mm:ss.ff'`` times. vidground adds one sentence to each grounding prompt so that "it does not
happen" is a normal answer instead of an invented time range.

Change ``PROMPT_VERSION`` whenever a prompt's text changes: results made with different prompts are not
comparable.
"""

from __future__ import annotations

import re
import unicodedata

from vidground.errors import ConfigError

PROMPT_VERSION = "vg-1"

MAX_QUERY_CHARS = 500

NOT_FOUND_SENTENCE = "The given query does not occur in the video."

CAPTION_PROMPT = (
    "Localize a series of activity events in the video, output the start and end timestamp for each event, "
    "and describe each event with sentences. Provide the result in json format with 'mm:ss.ff' format "
    "for time depiction."
)

_WHITESPACE = re.compile(r"\s+")


def clean_query(query: str) -> str:
    """Normalise a user's query so it reads as one quoted phrase inside a prompt.

    Newlines, tabs and runs of spaces become one space; control characters are removed; straight quotes become
    typographic ones (``'`` → ``’``, ``"`` → ``”``) so the query cannot close the prompt's quotes early.
    For example ``"the dog's\\n  ball"`` becomes ``"the dog’s ball"``.

    Args:
        query: the text the user typed.

    Returns:
        The cleaned query (what the prompt quotes, and what results report).

    Raises:
        ConfigError: the query is empty after cleaning, or longer than ``MAX_QUERY_CHARS`` characters.
    """
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in query)
    text = _WHITESPACE.sub(" ", text).strip()
    text = text.replace("'", "\u2019").replace('"', "\u201d")
    if not text:
        raise ConfigError(f"query: expected some text, got {query!r}")
    if len(text) > MAX_QUERY_CHARS:
        raise ConfigError(f"query: expected at most {MAX_QUERY_CHARS} characters, got {len(text)}")
    return text


def grounding_prompt(query: str) -> str:
    """The prompt that asks when ``query`` happens, answered in seconds from the start of the sampled clip.

    Raises:
        ConfigError: the query is empty or too long (see :func:`clean_query`).
    """
    return (
        f"Give the query: '{clean_query(query)}', when does the described content occur in the video? "
        "Answer with its start and end time in seconds: "
        "'The given query happens in <start> - <end> seconds.'; "
        "if it happens more than once, give each time range. "
        f"If it does not occur in the video, answer '{NOT_FOUND_SENTENCE}'"
    )


def candidate_prompt(query: str) -> str:
    """The prompt of the coarse pass over a long video: every part where ``query`` may happen, generously.

    Raises:
        ConfigError: the query is empty or too long (see :func:`clean_query`).
    """
    return (
        f"Give the query: '{clean_query(query)}', "
        "in which parts of the video may the described content occur? "
        "List every possible time range in seconds: 'The given query happens in <start> - <end> seconds and "
        "<start> - <end> seconds.'. "
        f"If it does not occur in the video, answer '{NOT_FOUND_SENTENCE}'"
    )


def caption_prompt() -> str:
    """The dense captioning prompt of Qwen's cookbook (a fenced JSON list with 'mm:ss.ff' times)."""
    return CAPTION_PROMPT
