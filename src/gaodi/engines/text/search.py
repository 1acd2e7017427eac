"""Search-text normalisation and tokenisation for Chinese/English content.

Documents and queries go through the same pipeline so that a Traditional
query finds Simplified text, full-width input finds half-width text, and
case never matters.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterator

import jieba
import zhconv

# Caps on user queries: keep jieba and the DB's MATCH expression cheap.
MAX_QUERY_CHARS = 1000
MAX_QUERY_TOKENS = 32
MAX_TOKEN_CHARS = 64

# CJK unified ideographs (+ extension A, compatibility, extensions B..F).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
# Runs of letters/digits: everything else (punctuation, spaces, control and
# unassigned chars, underscores) is a separator, so tokens can never carry
# query syntax. The capturing split then isolates Han sub-runs for jieba.
_WORD = re.compile(r"[^\W_]+")
_HAN_SPLIT = re.compile(rf"([{_HAN}]+)")

_init_lock = threading.Lock()
_ready = False


def _ensure_ready() -> None:
    """Load jieba's and zhconv's dictionaries once, quietly.

    Both libraries build global state lazily and without locking, so the
    first use is serialised here instead of racing in request threads.
    """
    global _ready
    if _ready:
        return
    with _init_lock:
        if _ready:
            return
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        zhconv.convert("", "zh-hans")
        _ready = True


def fold(text: str) -> str:
    """Traditional -> Simplified, full-width -> half-width (NFKC), lowercase."""
    _ensure_ready()
    normalised = unicodedata.normalize("NFKC", text)
    simplified: str = zhconv.convert(normalised, "zh-hans")
    return simplified.lower()


def tokenize(text: str) -> list[str]:
    """Index/query tokens: jieba search-mode words for Chinese, plain words otherwise."""
    tokens: list[str] = []
    for is_han, part in _parts(fold(text)):
        # cut_for_search also emits the sub-words of long words, which raises
        # recall when query and document are segmented differently.
        tokens.extend(jieba.cut_for_search(part) if is_han else [part])
    return tokens


def _parts(folded: str) -> Iterator[tuple[bool, str]]:
    """(is_han, part) for each Han or Latin/digit part of each letter/digit run."""
    for word in _WORD.findall(folded):
        # split() with a capture group alternates: other, Han, other, Han, ...
        for index, part in enumerate(_HAN_SPLIT.split(word)):
            if part:
                yield bool(index % 2), part


def search_text(text: str) -> str:
    """The space-joined token string stored in the full-text index."""
    return " ".join(tokenize(text))


def query_tokens(query: str) -> list[str]:
    """Deduplicated, bounded tokens of a user query; never raises.

    Tokens contain only letters/digits (no quotes, operators or brackets),
    so the DB layer can quote each one as a literal term.
    """
    if not isinstance(query, str):
        return []
    text = query[:MAX_QUERY_CHARS]
    try:
        raw = tokenize(text)
    except Exception:  # a search box must degrade, never fail the request
        # Fall back to the library-free path: plain runs, no segmentation.
        raw = _WORD.findall(text.lower())
    return _dedupe_bounded(raw)


def _dedupe_bounded(tokens: list[str]) -> list[str]:
    """Keep first occurrences, truncate long tokens, stop at the token cap."""
    seen: dict[str, None] = {}
    for token in tokens:
        seen.setdefault(token[:MAX_TOKEN_CHARS], None)
        if len(seen) >= MAX_QUERY_TOKENS:
            break
    return list(seen)


def query_groups(query: str) -> list[list[str]]:
    """Query words as ``[whole, *sub_words]`` groups, for "whole OR all sub-words" matching.

    Chinese words come from jieba's precise mode; their sub-words are the
    shorter search-mode words inside them, so a document that jieba segmented
    differently still matches. Other words are single-element groups. Same
    bounds and guarantees as ``query_tokens``: never raises, plain tokens only.
    """
    if not isinstance(query, str):
        return []
    text = query[:MAX_QUERY_CHARS]
    try:
        groups = [group for is_han, part in _parts(fold(text)) for group in _groups_of(is_han, part)]
    except Exception:  # a search box must degrade, never fail the request
        groups = [[word] for word in _WORD.findall(text.lower())]
    return _bound_groups(groups)


def _groups_of(is_han: bool, part: str) -> Iterator[list[str]]:
    if not is_han:
        yield [part]
        return
    for word in jieba.cut(part):
        yield [word, *(sub for sub in jieba.cut_for_search(word) if sub != word)]


def _bound_groups(groups: list[list[str]]) -> list[list[str]]:
    """Dedupe groups by their whole word, cap their number, and bound each group like a query."""
    by_whole: dict[str, list[str]] = {}
    for group in groups:
        bounded = _dedupe_bounded(group)
        by_whole.setdefault(bounded[0], bounded)
        if len(by_whole) >= MAX_QUERY_TOKENS:
            break
    return list(by_whole.values())
