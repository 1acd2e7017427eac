"""Search tokenisation: folding, segmentation, and hostile query input."""

from __future__ import annotations

import re
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from gaodi.engines.text import (
    MAX_QUERY_TOKENS,
    MAX_TOKEN_CHARS,
    fold,
    query_groups,
    query_tokens,
    search_text,
    tokenize,
)

PLAIN_TOKEN = re.compile(r"^[^\W_]+$")


def test_fold_traditional_fullwidth_and_case() -> None:
    assert fold("推薦算法") == "推荐算法"
    assert fold("ＡＩ　模型１２３") == "ai 模型123"
    assert fold("GPT") == "gpt"


def test_traditional_query_matches_simplified_text() -> None:
    query = set(query_tokens("推薦算法"))
    document = set(tokenize("个性化推荐算法"))
    assert {"推荐", "算法"} <= query
    # Every query term is in the document, so an AND search finds it.
    assert query <= document


def test_english_is_case_insensitive() -> None:
    assert query_tokens("Recommendation") == ["recommendation"]
    assert "recommendation" in tokenize("a recommendation engine")


def test_mixed_text_splits_chinese_and_words() -> None:
    tokens = tokenize("上海GPT4大模型, version 2.0!")
    assert {"gpt4", "模型", "version", "2", "0"} <= set(tokens)
    assert all(PLAIN_TOKEN.match(t) for t in tokens)


def test_search_text_is_space_joined_tokens() -> None:
    text = "人工智能產業 Shanghai"
    assert search_text(text) == " ".join(tokenize(text))
    assert "人工智能" in search_text(text).split()


def test_tokenize_drops_punctuation_and_whitespace() -> None:
    assert tokenize("，。！？ ... \t\n") == []
    assert tokenize("") == []


def test_query_tokens_dedupes_in_order() -> None:
    assert query_tokens("b a B a") == ["b", "a"]


def test_hostile_queries_yield_plain_words_only() -> None:
    hostile = [
        '"; DROP TABLE algorithms; --',
        "*",
        "NEAR(",
        'title:"x" OR body:y*',
        "a AND b NOT c OR d",
        "'''\"\"\"",
        "^prefix + (group) {col}: -neg",
        "\x00\x1b[31m\u202e\ufeff",
    ]
    for query in hostile:
        tokens = query_tokens(query)
        for token in tokens:
            assert PLAIN_TOKEN.match(token), (query, token)
            assert not set(token) & set("\"'*()^:{}+-;")
    assert query_tokens('"; DROP TABLE') == ["drop", "table"]
    assert query_tokens("*") == []
    assert query_tokens("NEAR(") == ["near"]
    # Operators become ordinary lowercase words, never FTS5 syntax.
    assert query_tokens("a AND b") == ["a", "and", "b"]


def test_query_tokens_bounds() -> None:
    many = " ".join(f"w{i}" for i in range(100))
    assert query_tokens(many) == [f"w{i}" for i in range(MAX_QUERY_TOKENS)]
    assert query_tokens("x" * 500) == ["x" * MAX_TOKEN_CHARS]
    assert len(query_tokens("推荐算法" * 100_000)) <= MAX_QUERY_TOKENS


def test_query_tokens_never_raises_on_odd_input() -> None:
    for query in ["", " ", "\ud800", "\udfff abc", "\x00" * 5000, "🙂" * 10, None, 42]:
        result = query_tokens(query)  # type: ignore[arg-type]
        assert isinstance(result, list)
    assert query_tokens("\ud800 abc") == ["abc"]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_query_tokens_fuzz(query: str) -> None:
    tokens = query_tokens(query)
    assert len(tokens) <= MAX_QUERY_TOKENS
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert 0 < len(token) <= MAX_TOKEN_CHARS
        assert PLAIN_TOKEN.match(token)


def test_query_groups_whole_word_then_sub_words() -> None:
    groups = query_groups("人工智能產業 GPT4")
    assert groups[0] == ["人工智能", "人工", "智能"]
    assert ["产业"] in groups
    assert groups[-1] == ["gpt4"]


def test_query_groups_match_simplified_document() -> None:
    document = set(tokenize("上海市促进人工智能产业发展条例"))
    for group in query_groups("促進人工智能產業發展"):
        # Each group matches as its whole word or as all of its sub-words.
        assert group[0] in document or set(group[1:]) <= document


def test_query_groups_hostile_and_empty() -> None:
    assert query_groups('"; DROP TABLE * NEAR( a AND b') == [
        ["drop"],
        ["table"],
        ["near"],
        ["a"],
        ["and"],
        ["b"],
    ]
    assert query_groups("") == []
    assert query_groups("！？*") == []
    assert query_groups(None) == []  # type: ignore[arg-type]
    assert query_groups("a a A") == [["a"]]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_query_groups_fuzz(query: str) -> None:
    groups = query_groups(query)
    assert len(groups) <= MAX_QUERY_TOKENS
    assert len({g[0] for g in groups}) == len(groups)
    for group in groups:
        assert group and len(set(group)) == len(group)
        assert all(PLAIN_TOKEN.match(t) and len(t) <= MAX_TOKEN_CHARS for t in group)


def test_concurrent_first_use() -> None:
    results: list[list[str]] = []

    def work() -> None:
        results.append(tokenize("數據安全與人工智能"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(r == results[0] for r in results)
