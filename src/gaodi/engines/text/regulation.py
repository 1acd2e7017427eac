"""Parser for the plain-text regulation (draft 2022, Traditional Chinese).

Layout: line 1 is the title; then ``第一章 總 則`` chapter headings,
optional ``第一節 基本要素`` section headings, and ``第十五條(算法流通交易市場)``
article headings, each followed by one paragraph per line. Articles are
numbered continuously across chapters, so any gap or repeat is a defect
in the text and is reported rather than silently accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_NUMERAL = "[零〇一二兩三四五六七八九十]+"

# Headings. Article titles must be bracketed so that a paragraph that merely
# starts with "第三十條規定…" is not mistaken for a heading.
_CHAPTER = re.compile(rf"^第(?P<num>{_NUMERAL})章\s+(?P<title>[^，。；,;]+)$")
_SECTION = re.compile(rf"^第(?P<num>{_NUMERAL})節\s+(?P<title>[^，。；,;]+)$")
_ARTICLE = re.compile(rf"^第(?P<num>{_NUMERAL})條\s*[(（](?P<title>[^()（）]+)[)）]$")


@dataclass(frozen=True)
class Article:
    number: int
    title: str
    paragraphs: list[str]
    # Title of the enclosing 節 ("" when the chapter has no sections).
    section: str = ""


@dataclass(frozen=True)
class Chapter:
    number: int
    title: str
    articles: list[Article] = field(default_factory=list)


@dataclass(frozen=True)
class Regulation:
    title: str
    chapters: list[Chapter]

    def articles(self) -> Iterator[Article]:
        """All articles in document order."""
        for chapter in self.chapters:
            yield from chapter.articles


def chinese_numeral_to_int(text: str) -> int:
    """Convert 一..九十九 (e.g. 七, 十, 十五, 七十, 六十九) to an int.

    Only the forms used for chapter/article numbers are accepted; anything
    else raises ValueError instead of guessing.
    """
    if text.count("十") > 1 or not text or any(c not in _DIGITS and c != "十" for c in text):
        raise ValueError(f"not a Chinese numeral in 1..99: {text!r}")
    if "十" not in text:
        if len(text) != 1 or _DIGITS[text] == 0:
            raise ValueError(f"not a Chinese numeral in 1..99: {text!r}")
        return _DIGITS[text]
    tens_part, _, units_part = text.partition("十")
    tens = _single_digit(tens_part, text) if tens_part else 1
    units = _single_digit(units_part, text) if units_part else 0
    if tens == 0 or (units_part and units == 0):
        raise ValueError(f"not a Chinese numeral in 1..99: {text!r}")
    return tens * 10 + units


def _single_digit(part: str, whole: str) -> int:
    if len(part) != 1:
        raise ValueError(f"not a Chinese numeral in 1..99: {whole!r}")
    return _DIGITS[part]


def _squash(title: str) -> str:
    """Drop typographic spacing inside headings: ``總 則`` -> ``總則``."""
    return "".join(title.split())


class _Builder:
    """Accumulates chapters/articles line by line and checks numbering."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.chapters: list[Chapter] = []
        self.section = ""
        self.section_number = 0
        self.article: Article | None = None
        self.article_line = 0

    def chapter(self, number: int, title: str, lineno: int) -> None:
        self._close_article(lineno)
        if self.chapters and not self.chapters[-1].articles:
            raise ValueError(f"line {lineno}: chapter {self.chapters[-1].number} has no articles")
        _expect(number, len(self.chapters) + 1, "chapter", lineno)
        self.chapters.append(Chapter(number, title))
        self.section, self.section_number = "", 0

    def section_heading(self, number: int, title: str, lineno: int) -> None:
        if not self.chapters:
            raise ValueError(f"line {lineno}: section before any chapter")
        self._close_article(lineno)
        _expect(number, self.section_number + 1, "section", lineno)
        self.section, self.section_number = title, number

    def article_heading(self, number: int, title: str, lineno: int) -> None:
        if not self.chapters:
            raise ValueError(f"line {lineno}: article before any chapter")
        self._close_article(lineno)
        previous = self.article.number if self.article else self._last_article_number()
        _expect(number, previous + 1, "article", lineno)
        self.article = Article(number, title, [], self.section)
        self.article_line = lineno

    def paragraph(self, text: str, lineno: int) -> None:
        if self.article is None:
            raise ValueError(f"line {lineno}: text outside any article: {text[:20]!r}")
        self.article.paragraphs.append(text)

    def finish(self, lineno: int) -> Regulation:
        self._close_article(lineno)
        if not self.chapters or not self.chapters[-1].articles:
            raise ValueError(f"line {lineno}: regulation ends without articles in its last chapter")
        return Regulation(self.title, self.chapters)

    def _close_article(self, lineno: int) -> None:
        if self.article is None:
            return
        if not self.article.paragraphs:
            raise ValueError(f"line {self.article_line}: article {self.article.number} has no text")
        self.chapters[-1].articles.append(self.article)
        self.article = None

    def _last_article_number(self) -> int:
        for chapter in reversed(self.chapters):
            if chapter.articles:
                return chapter.articles[-1].number
        return 0


def _expect(number: int, expected: int, kind: str, lineno: int) -> None:
    if number != expected:
        raise ValueError(f"line {lineno}: {kind} {number} out of sequence, expected {expected}")


def parse_regulation(text: str) -> Regulation:
    """Parse the full regulation text; raise ValueError (with line number) if malformed."""
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines()]
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        raise ValueError("line 1: empty regulation text")
    title = lines[first]
    if _CHAPTER.match(title) or _SECTION.match(title) or _ARTICLE.match(title):
        raise ValueError(f"line {first + 1}: expected the regulation title, found a heading")
    builder = _Builder(title)
    for index in range(first + 1, len(lines)):
        if lines[index]:
            _feed(builder, lines[index], index + 1)
    return builder.finish(len(lines))


def _feed(builder: _Builder, line: str, lineno: int) -> None:
    """Dispatch one non-empty line to the builder by its heading kind."""
    for pattern, handler in (
        (_CHAPTER, builder.chapter),
        (_SECTION, builder.section_heading),
        (_ARTICLE, builder.article_heading),
    ):
        match = pattern.match(line)
        if match:
            handler(_number(match["num"], lineno), _squash(match["title"]), lineno)
            return
    builder.paragraph(line, lineno)


def _number(numeral: str, lineno: int) -> int:
    try:
        return chinese_numeral_to_int(numeral)
    except ValueError as exc:
        raise ValueError(f"line {lineno}: {exc}") from None


def load_regulation(path: Path) -> Regulation:
    """Read a UTF-8 regulation file and parse it."""
    return parse_regulation(path.read_text(encoding="utf-8"))
