"""Matching configured terms (aliases, leaders, bio markers, cues) in text, the same way in SQL and Python.

A term matches case-insensitively where it stands as a whole word: on a side where the term
starts or ends with a letter/digit/underscore, the neighbouring character must not be one
(so 'Org A' does not match 'Org Army', but does match "Org A's"). A side that is punctuation or
an emoji ('#tag', '🚩') needs no boundary. Whitespace inside a term matches any run of whitespace.

Three implementations of the one rule, kept in step by tests/transforms/test_references.py:
- `contains_term` in macros.sql, used by the SQL models (no per-row regex: fast);
- `sql_pattern`: an RE2 pattern for ad-hoc SQL (stored in cfg_group_terms.pattern). RE2's `\\b`
  only knows ASCII letters ('\\bÜber' never matches), so the boundary is spelled out with
  Unicode classes;
- `python_pattern`: Python's `re` with look-arounds on its Unicode-aware `\\w`, used by the stance
  classifier to find the sentences naming the organisation.
The escaped body is shared: every ASCII punctuation character is backslash-escaped, which both
regex engines read as the literal character.
"""

from __future__ import annotations

import re

_SQL_WORD = r"\pL\pN_"


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _escaped_body(term: str) -> str:
    parts = term.split()
    return r"\s+".join(
        "".join("\\" + ch if ch.isascii() and not ch.isalnum() and ch != "_" else ch for ch in part) for part in parts
    )


def clean_term(term: str) -> str:
    """The term as stored: surrounding whitespace removed, inner whitespace folded."""
    return " ".join(term.split())


def sql_pattern(term: str) -> str:
    """An RE2 pattern (for DuckDB's regexp_matches) that finds `term` as a whole word."""
    term = clean_term(term)
    if not term:
        raise ValueError("an empty term matches nothing")
    left = rf"(?:^|[^{_SQL_WORD}])" if is_word_char(term[0]) else ""
    right = rf"(?:$|[^{_SQL_WORD}])" if is_word_char(term[-1]) else ""
    return "(?i)" + left + _escaped_body(term) + right


def python_pattern(terms: list[str] | tuple[str, ...]) -> re.Pattern[str] | None:
    """One compiled Python regex matching any of `terms` as a whole word (None when no terms)."""
    alternatives = []
    for raw in terms:
        term = clean_term(raw)
        if not term:
            continue
        left = r"(?<!\w)" if is_word_char(term[0]) else ""
        right = r"(?!\w)" if is_word_char(term[-1]) else ""
        alternatives.append(left + _escaped_body(term) + right)
    if not alternatives:
        return None
    return re.compile("|".join(f"(?:{alt})" for alt in alternatives), re.IGNORECASE)
