"""How both stores rank a name search (``CIFilter.name_contains``): the one definition.

A search matches every CI whose name contains the text, ignoring case, and orders them:

1. by how the name matches: the exact name (0), then names starting with the text (1),
   then names where a word starts with it (2: after a space or punctuation, so ``srv-01``
   is a word of ``ssh 22/tcp on srv-01.example``), then any other match (3);
2. within a tier, by the class's search rank (``cmdb.domain.classes.search_rank``):
   services, applications and hosts before ports and packages;
3. then by the lower-cased name, then by id, so the order is total and pages are stable.

The pagination cursor stays the id of the last CI given: each store recomputes that CI's
sort key to know where the next page starts (so a CI renamed between two pages moves, as
any keyset pagination moves a row whose key changes).
"""

from __future__ import annotations

import re
from functools import lru_cache

from cmdb.domain.classes import search_rank
from cmdb.domain.errors import InvalidInput

EXACT, PREFIX, WORD, SUBSTRING = 0, 1, 2, 3

# A word of a name starts at its beginning or after one of these. Spelled out (rather than
# "any character that is not a letter or digit") so both stores test it the same way:
# Neo4j with substring look-ups, SQLite through ``starts_a_word`` on the rows its filter
# kept (it has no regular expressions of its own).
WORD_SEPARATORS: tuple[str, ...] = tuple(" \t-_./:;,@()[]{}<>'\"&+=|#~*!?")

# The rank of a class the model does not know (a CI written by a newer version).
UNKNOWN_CLASS_RANK = search_rank("ConfigurationItem")


def tier(name: str, text: str) -> int:
    """The match tier of ``name`` for ``text`` (already lower-cased), as the stores rank it.

    The stores compute this in their query language; this is the reference both are
    tested against.
    """
    low = name.lower()
    if low == text:
        return EXACT
    if low.startswith(text):
        return PREFIX
    if starts_a_word(low, text):
        return WORD
    return SUBSTRING


@lru_cache(maxsize=64)
def _after_separator(text: str) -> re.Pattern[str]:
    seps = "".join(re.escape(s) for s in WORD_SEPARATORS)
    return re.compile(f"[{seps}]{re.escape(text)}")


def starts_a_word(low: str, text: str) -> bool:
    """Whether ``text`` follows a separator somewhere in ``low`` (both lower-cased)."""
    return _after_separator(text).search(low) is not None


def sort_key(name: str, ci_class: str, ci_id: str, text: str) -> tuple[int, int, str, str]:
    """The order a search gives (``text`` lower-cased): tier, class rank, name, id."""
    try:
        rank = search_rank(ci_class)
    except InvalidInput:  # a class this version does not declare
        rank = UNKNOWN_CLASS_RANK
    return tier(name, text), rank, name.lower(), ci_id
