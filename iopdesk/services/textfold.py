"""Accent- and case-folding for every search and filter (issue 19 item 7).

"martinez" finds "Martínez", "CHLOE" finds "Chloé", "strasse" finds "Straße": text is
case-folded and decomposed (NFKD) and the combining marks are dropped.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def contains(haystack: str, needle: str) -> bool:
    """`needle` occurs in `haystack`, ignoring case and accents."""
    return fold(needle) in fold(haystack)


def all_words_in(text: str, query: str) -> bool:
    """Every word of `query` occurs somewhere in `text` (folded)."""
    folded = fold(text)
    return all(word in folded for word in fold(query).split())
