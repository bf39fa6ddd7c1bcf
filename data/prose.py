"""Real English prose that every Python install ships: the docstrings of the standard library.

Sentence-embedding metrics need natural sentences, not code. The docstrings of the top-level stdlib
modules, their classes and functions are written by people for people; parsed with ``ast`` (nothing is
imported), split into sentences, kept when they read as prose (6-40 words, mostly letters), deduplicated
and put in a fixed order, they give the same sentences on every machine with the same Python version.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache

from supernas.data.text import _stdlib_files

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _docstrings(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    nodes = [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))),
    ]
    return [doc for node in nodes if (doc := ast.get_docstring(node))]


def _is_prose(sentence: str) -> bool:
    words = sentence.split()
    letters = sum(c.isalpha() or c.isspace() for c in sentence)
    return (
        6 <= len(words) <= 40
        and letters / len(sentence) > 0.9
        and sentence[0].isupper()
        and sentence[-1] == "."
    )


@lru_cache(maxsize=1)
def stdlib_sentences() -> tuple[str, ...]:
    """Every prose sentence of the stdlib's docstrings, deduplicated, in a fixed pseudo-random order."""
    seen: dict[str, None] = {}
    for path in _stdlib_files():
        for doc in _docstrings(path.read_text(encoding="utf-8", errors="replace")):
            for paragraph in doc.split("\n\n"):
                text = " ".join(paragraph.split())
                for sentence in _SENTENCE_END.split(text):
                    if _is_prose(sentence):
                        seen.setdefault(sentence)
    return tuple(sorted(seen, key=lambda s: hashlib.sha256(s.encode()).hexdigest()))
