"""Pure text engines: search tokenisation (here) and the regulation parser (``.regulation``)."""

from gaodi.engines.text.search import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TOKENS,
    MAX_TOKEN_CHARS,
    fold,
    query_groups,
    query_tokens,
    search_text,
    tokenize,
)

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TOKENS",
    "MAX_TOKEN_CHARS",
    "fold",
    "query_groups",
    "query_tokens",
    "search_text",
    "tokenize",
]
