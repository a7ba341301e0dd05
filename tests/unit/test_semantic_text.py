"""What of a web-search query is embedded for the vector list: exclusions dropped, quotes removed."""

from __future__ import annotations

import pytest

from vidground.index.sql.search import semantic_text


@pytest.mark.parametrize(
    ("query", "embedded"),
    [
        ("a person opens a door", "a person opens a door"),
        ('"the park" at night', "the park at night"),
        ("kicks -kitchen", "kicks"),
        ('dog -"red car" on a beach', "dog on a beach"),
        ('dog -"unclosed phrase', "dog"),
        ("t-shirt well-known", "t-shirt well-known"),  # a hyphen inside a word excludes nothing
        ("dog or cat", "dog or cat"),
        ("  a   b  ", "a b"),
        ("-dog -cat", ""),  # exclusions only: nothing to look for
    ],
)
def test_semantic_text(query: str, embedded: str) -> None:
    assert semantic_text(query) == embedded
