"""Regulation parser, checked against the shipped copy of the 2022 draft."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaodi.engines.text.regulation import (
    Article,
    Regulation,
    chinese_numeral_to_int,
    load_regulation,
    parse_regulation,
)

SHIPPED = Path(__file__).resolve().parents[2] / "src/gaodi/apps/core/data/regulation_draft_2022.zh-Hant.txt"


@pytest.fixture(scope="module")
def regulation() -> Regulation:
    return load_regulation(SHIPPED)


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("一", 1),
        ("九", 9),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("二十六", 26),
        ("七十", 70),
        ("九十九", 99),
    ],
)
def test_chinese_numeral_to_int(numeral: str, value: int) -> None:
    assert chinese_numeral_to_int(numeral) == value


@pytest.mark.parametrize("bad", ["", "零", "十十", "一二", "十零", "零十", "百", "1", "二十一二", "十一十"])
def test_chinese_numeral_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        chinese_numeral_to_int(bad)


def test_real_file_structure(regulation: Regulation) -> None:
    assert regulation.title == "上海市促進人工智能產業發展條例(草案)(征求意見稿)"
    assert [c.number for c in regulation.chapters] == [1, 2, 3, 4, 5, 6]
    assert regulation.chapters[0].title == "總則"
    assert regulation.chapters[5].title == "附則"
    assert [a.number for a in regulation.articles()] == list(range(1, 71))


def test_real_file_articles(regulation: Regulation) -> None:
    articles = {a.number: a for a in regulation.articles()}
    assert articles[15].title == "算法流通交易市場"
    # A space before the bracket in the source ("第二十六條 (總體要求)") is tolerated.
    assert articles[26].title == "總體要求"
    assert articles[5].title == "政府職責"
    assert len(articles[5].paragraphs) == 3
    assert articles[70].paragraphs == ["本條例自 年 月 日起施行。"]
    assert all(a.paragraphs for a in articles.values())


def test_real_file_sections(regulation: Regulation) -> None:
    articles = {a.number: a for a in regulation.articles()}
    assert articles[1].section == ""
    assert articles[26].section == "一般規定"
    # Section headings never leak into the previous article's text.
    assert not any(p.startswith("第") and "節" in p[:5] for a in articles.values() for p in a.paragraphs)


def _parse(body: str) -> Regulation:
    return parse_regulation("某條例\n" + body)


def test_minimal_document_and_blank_lines() -> None:
    reg = _parse(
        "\n第一章 總 則\n\n第一條(目的)\n第一段。\n\n第二段。\n第二章 附則\n第二條（施行）\n施行。\n"
    )
    assert reg.chapters[0].articles == [Article(1, "目的", ["第一段。", "第二段。"])]
    assert reg.chapters[1].articles[0].title == "施行"


def test_paragraph_that_cites_an_article_is_not_a_heading() -> None:
    reg = _parse("第一章 總則\n第一條(目的)\n第三十條規定的事項除外。\n")
    assert reg.chapters[0].articles[0].paragraphs == ["第三十條規定的事項除外。"]


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("第一條(目的)\n文字。\n", 2, "article before any chapter"),
        ("第一章 總則\n第一條(甲)\n文。\n第三條(乙)\n文。\n", 5, "article 3 out of sequence"),
        ("第一章 總則\n第一條(甲)\n文。\n第一條(乙)\n文。\n", 5, "article 1 out of sequence"),
        ("第二章 總則\n第一條(甲)\n文。\n", 2, "chapter 2 out of sequence"),
        ("第一章 總則\n孤立的文字。\n", 3, "text outside any article"),
        ("第一章 總則\n第一條(甲)\n第二條(乙)\n文。\n", 3, "article 1 has no text"),
        ("第一章 總則\n第二章 附則\n第一條(甲)\n文。\n", 3, "chapter 1 has no articles"),
        ("第一章 總則\n第二節 甲\n第一條(甲)\n文。\n", 3, "section 2 out of sequence"),
    ],
)
def test_malformed_input_reports_line(body: str, line: int, fragment: str) -> None:
    with pytest.raises(ValueError, match=rf"^line {line}: .*{fragment}"):
        _parse(body)


def test_empty_and_heading_only_inputs() -> None:
    with pytest.raises(ValueError, match="^line 1: empty"):
        parse_regulation(" \n\n")
    with pytest.raises(ValueError, match="^line 1: expected the regulation title"):
        parse_regulation("第一章 總則\n第一條(甲)\n文。\n")
    with pytest.raises(ValueError, match="without articles"):
        parse_regulation("標題\n第一章 總則\n")
